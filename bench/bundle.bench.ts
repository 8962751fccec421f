import type { Frame } from "../src/dataplane/frame.ts";
import { PhysicalSwitch } from "../src/dataplane/switch.ts";
import { ethFrame, TestNet } from "../src/dataplane/testing.ts";
import { Vswitch } from "../src/dataplane/vswitch.ts";
import { checkAllocations, sinkEnv } from "./harness.ts";
import { benchOps, runAndReport } from "./report.ts";

const BATCH = 64;
const VID = 10;

const srcMac = (i: number) => 0x020000001000 + i;
const dstMac = (i: number) => 0x020000009000 + i;

/** An untagged IPv4/UDP frame, 10.0.0.i:(1000+i) -> 10.1.0.i:(2000+3i) (checksums zero: switches do not read them). */
function udpFrame(i: number, src: number, dst: number): Frame {
  const p = new Uint8Array(46);
  p[0] = 0x45;
  p[3] = 46;
  p[8] = 64;
  p[9] = 17;
  p.set([10, 0, 0, i & 0xff], 12);
  p.set([10, 1, (i * 7) & 0xff, (i * 13) & 0xff], 16);
  const sport = 1000 + i;
  const dport = 2000 + 3 * i;
  p[20] = sport >> 8;
  p[21] = sport & 0xff;
  p[22] = dport >> 8;
  p[23] = dport & 0xff;
  return ethFrame({ dst, src, payload: p });
}

/**
 * A switch with access port `in` (VLAN 10) and an egress of `members` ports: one plain access
 * port, or a static LAG `po1` over that many members (access, VLAN 10, l3l4 hash). The 64
 * destinations are learned behind the egress (on each member in turn for a LAG).
 */
function physical(members: number): PhysicalSwitch {
  const isLag = members > 1;
  const memberNames = Array.from({ length: members }, (_, i) => `eth${i + 1}`);
  const sw = new PhysicalSwitch({
    name: `sw-${members}`,
    mac: 0x025e00000001,
    ports: [
      { name: "in", mode: "access", vlan: VID },
      isLag ? { name: "po1", mode: "access", vlan: VID } : { name: "eth1", mode: "access", vlan: VID },
    ],
    lags: isLag ? [{ name: "po1", members: memberNames, lacp: "off", hash: "l3l4" }] : [],
  });
  sw.bind(sinkEnv(() => {}));
  sw.start(0);
  // Device ports: "in" = 0, then the members (or eth1) = 1..members.
  for (let i = 0; i < BATCH; i++)
    sw.receive(1 + (i % members), ethFrame({ dst: 0xffffffffffff, src: dstMac(i), etherType: 0x0806 }), 0);
  return sw;
}

const frames = Array.from({ length: BATCH }, (_, i) => udpFrame(i, srcMac(i), dstMac(i)));
const single = physical(1);
const lag2 = physical(2);
const lag4 = physical(4);

// Where the l3l4 hash sends the batch (to show it spreads): counts per device port.
const spread = (sw: PhysicalSwitch, n: number): number[] => {
  const count = new Array<number>(n + 1).fill(0);
  sw.bind(
    sinkEnv((port) => {
      count[port]++;
    }),
  );
  for (const f of frames) sw.receive(0, f, 0);
  sw.bind(sinkEnv(() => {}));
  return count.slice(1);
};
process.stdout.write(
  `l3l4 spread of the ${BATCH} frames: LAG of 2 [${spread(lag2, 2).join(", ")}], LAG of 4 [${spread(lag4, 4).join(", ")}]\n`,
);

function through(sw: PhysicalSwitch): () => void {
  return () => {
    for (let i = 0; i < BATCH; i++) sw.receive(0, frames[i], 0);
  };
}
const switchSingle = through(single);
const switchLag2 = through(lag2);
const switchLag4 = through(lag4);

// --- vswitch: VM to uplink over a team of two, originating-port vs lacp ---
const remoteMac = (i: number) => 0x02000000a000 + i;
const VM0 = 0x020000000100;
const vmFrames = Array.from({ length: BATCH }, (_, i) => udpFrame(i, VM0, remoteMac(i)));

function vswitch(policy: "originating-port" | "lacp"): Vswitch {
  const vs = new Vswitch({
    name: `vs-${policy}`,
    uplinks: ["uplink:eth0", "uplink:eth1"],
    portGroups: [{ name: "web", vlan: VID }],
    vmPorts: [{ name: "vm0", portGroup: "web", mac: VM0 }],
    teaming: { policy },
    lacp: policy === "lacp" ? { mode: "active", rate: "fast", system: 0x02000000ee01 } : null,
  });
  if (policy === "lacp") {
    // Negotiate with a switch's LACP LAG, back to back, then leave the TestNet behind.
    const net = new TestNet(1, 1000);
    const sw = net.add(
      new PhysicalSwitch({
        name: "leaf",
        mac: 0x025e00000002,
        ports: [{ name: "po1", mode: "trunk", vlans: [VID] }],
        lags: [{ name: "po1", members: ["eth1", "eth2"], lacp: "active", rate: "fast" }],
      }),
    );
    net.add(vs);
    net.connect(vs, 0, sw, 0);
    net.connect(vs, 1, sw, 1);
    net.start();
    net.runUntil(1e6);
    const enabled = vs.lacpStatus(net.nowNs)?.filter((m) => m.isEnabled).length;
    if (enabled !== 2) throw new Error(`bundle bench: the lacp team did not form (${enabled} of 2 members)`);
  }
  // Uplinks 0 and 1: the sink undoes the tag the vswitch pushed for the uplink.
  vs.bind(
    sinkEnv((port, f) => {
      if (port < 2) f.popVlanTag();
    }),
  );
  for (let i = 0; i < BATCH; i++)
    vs.receive(
      i % 2,
      ethFrame({ dst: 0xffffffffffff, src: remoteMac(i), etherType: 0x0806, tags: [VID] }),
      1e6,
    );
  return vs;
}
const vsPinned = vswitch("originating-port");
const vsLacp = vswitch("lacp");
// The VM's port: the vswitch's device ports are the uplinks (0, 1), then the VM ports.
function vmToUplink(vs: Vswitch): () => void {
  return () => {
    for (let i = 0; i < BATCH; i++) vs.receive(2, vmFrames[i], 1e6);
  };
}
const vswitchPinned = vmToUplink(vsPinned);
const vswitchLacp = vmToUplink(vsLacp);

// Sanity: every path forwards every frame (a drop would be a cheaper, wrong measurement).
for (const [name, dev, fn] of [
  ["switch single", single, switchSingle],
  ["switch lag2", lag2, switchLag2],
  ["switch lag4", lag4, switchLag4],
  ["vswitch originating-port", vsPinned, vswitchPinned],
  ["vswitch lacp", vsLacp, vswitchLacp],
] as const) {
  let sent = 0;
  const env = sinkEnv((port, f) => {
    sent++;
    if (dev instanceof Vswitch && port < 2) f.popVlanTag();
  });
  dev.bind(env);
  fn();
  if (sent !== BATCH) throw new Error(`bundle bench: ${name} forwarded ${sent} of ${BATCH} frames`);
  dev.bind(sinkEnv(dev instanceof Vswitch ? (port, f) => port < 2 && void f.popVlanTag() : () => {}));
}

benchOps("switch: access to single port, known unicast", switchSingle, BATCH);
benchOps("switch: access to LAG of 2 (l3l4), known unicast", switchLag2, BATCH);
benchOps("switch: access to LAG of 4 (l3l4), known unicast", switchLag4, BATCH);
benchOps("vswitch: VM to uplink team, originating-port", vswitchPinned, BATCH);
benchOps("vswitch: VM to uplink team, lacp (l3l4)", vswitchLacp, BATCH);

await runAndReport();

await checkAllocations(
  [
    ["switch single port", switchSingle],
    ["switch LAG of 2", switchLag2],
    ["switch LAG of 4", switchLag4],
    ["vswitch originating-port", vswitchPinned],
    ["vswitch lacp", vswitchLacp],
  ],
  BATCH,
  28,
);
