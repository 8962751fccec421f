/**
 * VXLAN at a hypervisor VTEP against plain VLAN switching, per frame (run by `npm run bench --
 * vxlan`; figures in BENCHMARKS.md, section "VXLAN"). The bar: encapsulation at a VTEP
 * adds at most 200 ns per frame over plain switching.
 *
 * Two vswitches, each with one uplink:
 * - `vs-vlan`: port group "web" on VLAN 10; a VM's known-unicast frame goes out of the uplink
 *   (tag pushed), and a frame from the uplink goes to its VM (tag popped);
 * - `vs-vxlan`: port groups on VNI 5001 (flood and learn: the remote MACs learned from
 *   decapsulated frames) and VNI 5010 (no learning: the remote MACs given statically), a VTEP
 *   (10.100.0.11/24, gateway 10.100.0.1 on VLAN 100, MTU 1600) whose gateway is already in its
 *   ARP cache. A VM's known-unicast frame goes to the VTEP (MAC table: learned behind the
 *   tunnel), is encapsulated (outer Ethernet/IPv4/UDP/VXLAN in the headroom, IPv4 checksum,
 *   flow-hash source port), routed to the gateway, passes the VTEP's vmkernel port (SpoofGuard on
 *   the outer source) and leaves the uplink tagged VLAN 100. The receive side: a VXLAN frame from
 *   the uplink to the VTEP's MAC, handed to the VTEP (the vswitch's zero-delay timer), checked
 *   and decapsulated, the inner source learned, delivered into the VM port.
 *
 * The inner frames are 128-byte IPv4/UDP frames (as in the wire bench), BATCH per iteration to
 * BATCH distinct destinations behind 8 remote VTEPs. The world is a no-op env whose `transmit`
 * undoes what the path did (pop the tag, strip the 50 outer bytes, or put them back), so the
 * same frames go round again without allocation, and whose `setTimer` queues the callback for
 * the benchmark to run right after the `receive` (as the scheduler would).
 *
 * After mitata, the allocation check: a million frames per path, `gc` PerformanceObserver; a
 * path that collects in every try fails the run (`ALLOCATES`, exit status 1).
 */

import type { DeviceEnv } from "../src/dataplane/device.ts";
import type { Frame } from "../src/dataplane/frame.ts";
import { arpFrame, ip, ipv4Frame, mac, udpMessage } from "../src/dataplane/ip-testing.ts";
import { Vswitch } from "../src/dataplane/vswitch.ts";
import { ArpOp } from "../src/wire/arp.ts";
import { IpProtocol } from "../src/wire/ipv4.ts";
import { VXLAN_OVERHEAD, vxlanEncapsulate } from "../src/wire/vxlan.ts";
import { checkAllocations } from "./harness.ts";
import { benchOps, runAndReport } from "./report.ts";

const BATCH = 64;
const VID = 10;
const VTEP_VLAN = 100;
const REMOTE_VTEPS = 8;
const VTEP_MAC = mac("02:00:00:00:0e:11");
const GW_MAC = mac("02:00:00:00:0e:01");
const VTEP_IP = ip("10.100.0.11");
const GW_IP = ip("10.100.0.1");
const remoteVtep = (i: number) => ip(`10.100.${1 + (i % REMOTE_VTEPS)}.12`);
const vmMac = (i: number) => 0x020000001000 + i;
const staticVmMac = (i: number) => 0x020000002000 + i;
const remoteMac = (i: number) => 0x020000009000 + i;
const staticRemoteMac = (i: number) => 0x02000000a000 + i;

/** A 128-byte IPv4/UDP frame (14 + 20 + 8 + 86). */
function udpFrame(dst: number, src: number, i: number): Frame {
  const s = ip(`192.168.1.${10 + (i % 200)}`);
  const d = ip(`192.168.2.${10 + (i % 200)}`);
  return ipv4Frame({
    srcMac: src,
    dstMac: dst,
    src: s,
    dst: d,
    protocol: IpProtocol.UDP,
    payload: udpMessage(s, d, 10_000 + i, 9, new Uint8Array(86)),
  });
}

/** `inner` in VXLAN from remote VTEP `from` to our VTEP, as it arrives on the uplink (tagged). */
function vxlanFrame(inner: Frame, vni: number, from: number): Frame {
  const len = inner.length;
  inner.prepend(VXLAN_OVERHEAD);
  inner.start = vxlanEncapsulate(inner.buf, inner.start + VXLAN_OVERHEAD, len, {
    srcMac: GW_MAC,
    dstMac: VTEP_MAC,
    srcIp: from,
    dstIp: VTEP_IP,
    vni,
    ttl: 62,
    dscp: 0,
    dontFragment: true,
    ipId: 7,
    dstPort: 4789,
  });
  inner.pushVlanTag(VTEP_VLAN);
  return inner;
}

// What the sink does with a transmitted frame, and what it counts.
enum Mode {
  Setup,
  VlanOut,
  VlanIn,
  VxlanOut,
  VxlanIn,
}
let mode: Mode = Mode.Setup;
let sent = 0;
// Pending zero-delay timers, timers[0, timerCount). The array is never shortened: `length = 0`
// would free its backing store and the next push allocate one, a per-frame allocation of the
// bench's own that the allocation check would blame on the VTEP.
const timers: ((nowNs: number) => void)[] = [];
let timerCount = 0;
function drainTimers(): void {
  for (let i = 0; i < timerCount; i++) timers[i](0);
  timerCount = 0;
}
const setupOut: Frame[] = [];

const env: DeviceEnv = {
  transmit: (port, f) => {
    sent++;
    switch (mode) {
      case Mode.VlanOut:
        f.popVlanTag();
        break;
      case Mode.VlanIn:
        f.pushVlanTag(VID);
        break;
      case Mode.VxlanOut:
        f.popVlanTag();
        f.start += VXLAN_OVERHEAD;
        break;
      case Mode.VxlanIn:
        f.start -= VXLAN_OVERHEAD;
        f.pushVlanTag(VTEP_VLAN);
        break;
      default:
        if (port === 0) setupOut.push(f);
    }
  },
  // Zero-delay timers (the vswitch's hand-over to its VTEP) run right after the receive; later
  // ones (ARP retries, aging) never come due, as the benchmark's clock stands still.
  setTimer: (delay, fn) => {
    if (delay === 0) timers[timerCount++] = fn;
    return 0;
  },
  cancelTimer: () => {},
  now: () => 0,
  random: () => 0.5,
  isTracing: false,
  trace: () => {},
};

// --- VLAN: vm0 .. vm(BATCH) in "web", VLAN 10 ---
const vsVlan = new Vswitch({
  name: "vs-vlan",
  uplinks: ["uplink:eth0"],
  portGroups: [{ name: "web", vlan: VID }],
  vmPorts: Array.from({ length: BATCH + 1 }, (_, i) => ({ name: `vm${i}`, portGroup: "web", mac: vmMac(i) })),
});
vsVlan.bind(env);
const vlanIn = Array.from({ length: BATCH }, (_, i) => {
  const f = udpFrame(vmMac(i + 1), remoteMac(i), i);
  f.pushVlanTag(VID);
  return f;
});
for (const f of vlanIn) {
  vsVlan.receive(0, f, 0); // learns remoteMac(i) behind the uplink
  f.pushVlanTag(VID);
}
const vlanOut = Array.from({ length: BATCH }, (_, i) => udpFrame(remoteMac(i), vmMac(0), i));

// --- VXLAN: VMs in VNI 5001 (learning) and VNI 5010 (static), a VTEP on VLAN 100 ---
const vsVx = new Vswitch({
  name: "vs-vxlan",
  uplinks: ["uplink:eth0"],
  portGroups: [
    { name: "tenant-a", vlan: 0, vni: 5001 },
    { name: "tenant-b", vlan: 0, vni: 5010 },
  ],
  vmPorts: [
    ...Array.from({ length: BATCH + 1 }, (_, i) => ({ name: `a${i}`, portGroup: "tenant-a", mac: vmMac(i) })),
    ...Array.from({ length: BATCH + 1 }, (_, i) => ({
      name: `b${i}`,
      portGroup: "tenant-b",
      mac: staticVmMac(i),
    })),
  ],
  vtep: {
    mac: VTEP_MAC,
    ip: VTEP_IP,
    prefixLen: 24,
    gateway: GW_IP,
    vlan: VTEP_VLAN,
    mtu: 1600,
    vnis: [
      {
        vni: 5001,
        flood: Array.from({ length: REMOTE_VTEPS }, (_, i) => remoteVtep(i)),
        isLearning: true,
      },
      {
        vni: 5010,
        flood: [],
        isLearning: false,
        static: Array.from({ length: BATCH }, (_, i) => ({ mac: staticRemoteMac(i), vtep: remoteVtep(i) })),
      },
    ],
  },
});
vsVx.bind(env);
// Each remote MAC arrives once from its VTEP: the VTEP learns it (VNI 5001), the vswitch learns
// it behind the tunnel (both VNIs), and the gateway's MAC is learned on the uplink.
const vxIn = Array.from({ length: BATCH }, (_, i) =>
  vxlanFrame(udpFrame(vmMac(i + 1), remoteMac(i), i), 5001, remoteVtep(i)),
);
for (let i = 0; i < BATCH; i++) {
  vsVx.receive(0, vxIn[i], 0);
  drainTimers();
  vxIn[i].start -= VXLAN_OVERHEAD;
  vxIn[i].pushVlanTag(VTEP_VLAN);
  const s = vxlanFrame(udpFrame(staticVmMac(i + 1), staticRemoteMac(i), i), 5010, remoteVtep(i));
  vsVx.receive(0, s, 0);
  drainTimers();
}
const vxOut = Array.from({ length: BATCH }, (_, i) => udpFrame(remoteMac(i), vmMac(0), i));
const vxOutStatic = Array.from({ length: BATCH }, (_, i) => udpFrame(staticRemoteMac(i), staticVmMac(0), i));
// The first frame makes the VTEP ARP for its gateway; the gateway answers; the frame goes out.
vsVx.receive(1, udpFrame(remoteMac(0), vmMac(0), 0), 0);
drainTimers();
if (setupOut.length !== 1) throw new Error(`expected the VTEP's ARP request, got ${setupOut.length} frames`);
const reply = arpFrame({
  op: ArpOp.Reply,
  dst: VTEP_MAC,
  senderMac: GW_MAC,
  senderIp: GW_IP,
  targetMac: VTEP_MAC,
  targetIp: VTEP_IP,
});
reply.pushVlanTag(VTEP_VLAN);
vsVx.receive(0, reply, 0);
drainTimers();
if ((setupOut.length as number) !== 2)
  throw new Error(`the queued frame did not leave after ARP: ${setupOut.length}`);

const portA0 = vsVx.portNames.indexOf("a0");
const portB0 = vsVx.portNames.indexOf("b0");

function vlanVmToUplink(): void {
  mode = Mode.VlanOut;
  for (let i = 0; i < BATCH; i++) vsVlan.receive(1, vlanOut[i], 0);
}
function vlanUplinkToVm(): void {
  mode = Mode.VlanIn;
  for (let i = 0; i < BATCH; i++) vsVlan.receive(0, vlanIn[i], 0);
}
function vxlanVmToUplink(): void {
  mode = Mode.VxlanOut;
  for (let i = 0; i < BATCH; i++) vsVx.receive(portA0, vxOut[i], 0);
}
function vxlanVmToUplinkStatic(): void {
  mode = Mode.VxlanOut;
  for (let i = 0; i < BATCH; i++) vsVx.receive(portB0, vxOutStatic[i], 0);
}
function vxlanUplinkToVm(): void {
  mode = Mode.VxlanIn;
  for (let i = 0; i < BATCH; i++) {
    vsVx.receive(0, vxIn[i], 0);
    drainTimers();
  }
}

// Every path must really forward every frame (one transmit each) before it is timed.
for (const [name, fn] of [
  ["vlan out", vlanVmToUplink],
  ["vlan in", vlanUplinkToVm],
  ["vxlan out", vxlanVmToUplink],
  ["vxlan out static", vxlanVmToUplinkStatic],
  ["vxlan in", vxlanUplinkToVm],
] as const) {
  sent = 0;
  fn();
  fn();
  if (sent !== 2 * BATCH) throw new Error(`${name}: ${sent} frames transmitted of ${2 * BATCH}`);
}

benchOps("vswitch VLAN 10: VM to uplink, known unicast (tag pushed; sink pops)", vlanVmToUplink, BATCH);
benchOps(
  "vswitch VNI 5001: VM to uplink via the VTEP, learned remote (encap; sink pops + strips)",
  vxlanVmToUplink,
  BATCH,
);
benchOps("vswitch VNI 5010: VM to uplink via the VTEP, static remote (encap)", vxlanVmToUplinkStatic, BATCH);
benchOps("vswitch VLAN 10: uplink to VM, known unicast (tag popped; sink pushes)", vlanUplinkToVm, BATCH);
benchOps("vswitch VNI 5001: uplink to VTEP to VM (decap; sink restores outer + tag)", vxlanUplinkToVm, BATCH);

await runAndReport();

await checkAllocations(
  [
    ["VLAN VM to uplink", vlanVmToUplink],
    ["VXLAN VM to uplink (learned)", vxlanVmToUplink],
    ["VXLAN VM to uplink (static)", vxlanVmToUplinkStatic],
    ["VLAN uplink to VM", vlanUplinkToVm],
    ["VXLAN uplink to VM (decap)", vxlanUplinkToVm],
  ],
  BATCH,
  30,
);
