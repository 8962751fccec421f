/**
 * Layer-2 forwarding cost per frame (run by `npm run bench`; figures in BENCHMARKS.md):
 * - vswitch, known unicast VM to VM in one port group (the frame is not touched);
 * - vswitch, known unicast uplink to VM (tag popped) and VM to uplink (tag pushed);
 * - the same for an untagged port group (VLAN 0, vSphere's "None"): no tag either way;
 * - physical switch, known unicast access to access, and trunk to trunk (pop and push);
 * - SR-IOV NIC, VF to VF through the embedded switch;
 * - the 802.1Q push+pop pair alone, to subtract where a sink restores a tag.
 * Each iteration forwards a batch of frames to distinct learned destinations (so the MAC-table
 * lookup is not one cached entry); throughput is per frame. The world is a no-op env whose
 * `transmit` only undoes a tag operation where the device did one, so the same frames can be
 * sent again without allocation.
 *
 * After mitata, an allocation check forwards a million frames per path with a `gc`
 * PerformanceObserver attached and the heap measured before and after: the known-unicast paths
 * must cause no garbage collection and no heap growth.
 */

import { do_not_optimize } from "mitata";
import { FIRST_VF_PORT, Pnic } from "../src/dataplane/pnic.ts";
import { PhysicalSwitch } from "../src/dataplane/switch.ts";
import { ethFrame } from "../src/dataplane/testing.ts";
import { Vswitch } from "../src/dataplane/vswitch.ts";
import { checkAllocations, sinkEnv } from "./harness.ts";
import { benchOps, runAndReport } from "./report.ts";

const BATCH = 64;
const VID = 10;

// --- vswitch: one uplink, BATCH + 1 VMs in port group "web" (VLAN 10) ---
const vmMac = (i: number) => 0x020000001000 + i;
const remoteMac = (i: number) => 0x020000009000 + i;
const vs = new Vswitch({
  name: "vs0",
  uplinks: ["uplink:eth0"],
  portGroups: [{ name: "web", vlan: VID }],
  vmPorts: Array.from({ length: BATCH + 1 }, (_, i) => ({ name: `vm${i}`, portGroup: "web", mac: vmMac(i) })),
});
let vsRestoreTag = false;
vs.bind(
  sinkEnv((port, f) => {
    if (port === 0)
      f.popVlanTag(); // to the uplink: undo the push
    else if (vsRestoreTag) f.pushVlanTag(VID); // from the uplink: undo the pop
  }),
);
// Remote MACs learned behind the uplinks.
for (let i = 0; i < BATCH; i++) vs.receive(0, ethFrame({ dst: vmMac(0), src: remoteMac(i), tags: [VID] }), 0);
const vmToVm = Array.from({ length: BATCH }, (_, i) =>
  ethFrame({ dst: vmMac(i + 1), src: vmMac(0), payload: 50 }),
);
const vmToUplink = Array.from({ length: BATCH }, (_, i) =>
  ethFrame({ dst: remoteMac(i), src: vmMac(0), payload: 50 }),
);
const uplinkToVm = Array.from({ length: BATCH }, (_, i) =>
  ethFrame({ dst: vmMac(i + 1), src: remoteMac(i), tags: [VID], payload: 50 }),
);

// The same vswitch with the vNICs' addresses known, so SpoofGuard (on by default) checks every
// IPv4 source: ethFrame's payload bytes make vm0's frames carry 12.13.14.15 as their source.
const vsGuard = new Vswitch({
  name: "vs1",
  uplinks: ["uplink:eth0"],
  portGroups: [{ name: "web", vlan: VID }],
  vmPorts: Array.from({ length: BATCH + 1 }, (_, i) => ({
    name: `vm${i}`,
    portGroup: "web",
    mac: vmMac(i),
    ip: i === 0 ? 0x0c0d0e0f : 0x0a000000 + i,
  })),
});
vsGuard.bind(sinkEnv(() => {}));

// The same vswitch with an untagged port group: frames cross the uplink as they are.
const vsUntagged = new Vswitch({
  name: "vs2",
  uplinks: ["uplink:eth0"],
  portGroups: [{ name: "mgmt", vlan: 0 }],
  vmPorts: Array.from({ length: BATCH + 1 }, (_, i) => ({
    name: `vm${i}`,
    portGroup: "mgmt",
    mac: vmMac(i),
  })),
});
vsUntagged.bind(sinkEnv(() => {}));
for (let i = 0; i < BATCH; i++) vsUntagged.receive(0, ethFrame({ dst: vmMac(0), src: remoteMac(i) }), 0);
const untaggedToVm = Array.from({ length: BATCH }, (_, i) =>
  ethFrame({ dst: vmMac(i + 1), src: remoteMac(i), payload: 50 }),
);

// --- physical switch: BATCH access ports in VLAN 10 plus two trunks ---
const sw = new PhysicalSwitch({
  name: "tor1",
  mac: 0x025e00000001,
  ports: [
    { name: "t1", mode: "trunk", vlans: null },
    { name: "t2", mode: "trunk", vlans: null },
    ...Array.from({ length: BATCH }, (_, i) => ({ name: `eth${i}`, mode: "access" as const, vlan: VID })),
  ],
});
sw.bind(sinkEnv(() => {}));
for (let i = 0; i < BATCH; i++) {
  sw.receive(2 + i, ethFrame({ dst: 0xffffffffffff, src: vmMac(i) }), 0);
  sw.receive(1, ethFrame({ dst: 0xffffffffffff, src: remoteMac(i), tags: [VID] }), 0);
}
const accessToAccess = Array.from({ length: BATCH }, (_, i) =>
  ethFrame({ dst: vmMac((i + 1) % BATCH), src: vmMac(i), payload: 50 }),
);
const trunkToTrunk = Array.from({ length: BATCH }, (_, i) =>
  ethFrame({ dst: remoteMac(i), src: 0x02000000a000 + i, tags: [VID], payload: 50 }),
);
// Learn the trunk-to-trunk sources once on t1.
for (const f of trunkToTrunk) sw.receive(0, f, 0);

// --- SR-IOV NIC: BATCH + 1 VFs in VLAN 10 ---
const nic = new Pnic({
  name: "server1/eth1",
  mac: 0x02000000e100,
  sriov: { vfs: BATCH + 1 },
  vfs: Array.from({ length: BATCH + 1 }, (_, i) => ({ mac: 0x02000000f000 + i, vlan: VID })),
});
nic.bind(sinkEnv(() => {}));
const vfToVf = Array.from({ length: BATCH }, (_, i) =>
  ethFrame({ dst: 0x02000000f000 + i + 1, src: 0x02000000f000, payload: 50 }),
);

const tagPair = ethFrame({ dst: 1, src: 2, payload: 50 });

function vswitchVmToVm(): void {
  for (let i = 0; i < BATCH; i++) vs.receive(1, vmToVm[i], 0);
}
function vswitchVmToVmGuarded(): void {
  for (let i = 0; i < BATCH; i++) vsGuard.receive(1, vmToVm[i], 0);
}
function vswitchVmUplink(): void {
  vsRestoreTag = true;
  for (let i = 0; i < BATCH; i++) vs.receive(0, uplinkToVm[i], 0);
  vsRestoreTag = false;
  for (let i = 0; i < BATCH; i++) vs.receive(1, vmToUplink[i], 0);
}
function vswitchUntaggedUplink(): void {
  for (let i = 0; i < BATCH; i++) vsUntagged.receive(0, untaggedToVm[i], 0);
  for (let i = 0; i < BATCH; i++) vsUntagged.receive(1, vmToUplink[i], 0);
}
function switchAccess(): void {
  for (let i = 0; i < BATCH; i++) sw.receive(2 + i, accessToAccess[i], 0);
}
function switchTrunk(): void {
  for (let i = 0; i < BATCH; i++) sw.receive(0, trunkToTrunk[i], 0);
}
function vebVfToVf(): void {
  for (let i = 0; i < BATCH; i++) nic.receive(FIRST_VF_PORT, vfToVf[i], 0);
}
function tagPushPop(): void {
  for (let i = 0; i < BATCH; i++) {
    tagPair.pushVlanTag(VID);
    tagPair.popVlanTag();
  }
}

benchOps("vswitch: VM to VM, known unicast", vswitchVmToVm, BATCH);
benchOps("vswitch: VM to VM, known unicast, SpoofGuard checks the IPv4 source", vswitchVmToVmGuarded, BATCH);
benchOps("vswitch: uplink<->VM, known (+ sink re-tag)", vswitchVmUplink, 2 * BATCH);
benchOps("vswitch: uplink<->VM, untagged port group, known", vswitchUntaggedUplink, 2 * BATCH);
benchOps("switch: access to access, known unicast", switchAccess, BATCH);
benchOps("switch: trunk to trunk, known unicast", switchTrunk, BATCH);
benchOps("sr-iov: VF to VF through the VEB", vebVfToVf, BATCH);
benchOps(
  "802.1Q tag push + pop (reference)",
  () => {
    tagPushPop();
    do_not_optimize(tagPair);
  },
  BATCH,
);

await runAndReport();

await checkAllocations(
  [
    ["vswitch VM to VM", vswitchVmToVm],
    ["vswitch uplink<->VM", vswitchVmUplink],
    ["vswitch uplink<->VM untagged", vswitchUntaggedUplink],
    ["switch access to access", switchAccess],
    ["switch trunk to trunk", switchTrunk],
    ["sr-iov VF to VF", vebVfToVf],
  ],
  BATCH,
  28,
);
