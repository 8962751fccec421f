/**
 * The forwarding paths of section 5 of the source document, across real layer-2 devices wired
 * back to back in a TestNet: two servers (vswitches behind physical NICs, one NIC with SR-IOV),
 * one top-of-rack switch. VMs are endpoint stand-ins that only record what reaches them (the VM
 * IP stack is tested on its own); the gateway behind the switch's SVIs is a stand-in that
 * re-addresses a frame into the other VLAN, enough to show the path "out to the physical
 * network's gateway and back".
 *
 *   server1: vs0 (uplink = PF of eth1) with vm1, vm2 (web, VLAN 10), vm3 (db, VLAN 20);
 *            eth1 has SR-IOV: vf0 -> vm5 and vf1 -> vm6 (port VLAN 10)
 *   server2: vs0 (uplink = PF of eth0) with vm4 (web)
 *   tor1:    eth1 trunk 10,20 to server1/eth1; eth2 trunk 10,20 to server2/eth0; SVIs 10, 20
 */

import { describe, expect, it } from "vitest";
import { formatMac, readMac } from "../wire/addr.ts";
import { DropCounters, newPortCounters } from "./counters.ts";
import { PROCESSING_DELAY_NS } from "./delays.ts";
import type { Device, DeviceEnv } from "./device.ts";
import type { Frame } from "./frame.ts";
import { FIRST_VF_PORT, PF_PORT, Pnic, WIRE_PORT } from "./pnic.ts";
import type { SviHandler } from "./svi.ts";
import { PhysicalSwitch } from "./switch.ts";
import { ethFrame, mac, TestNet } from "./testing.ts";
import { Vswitch } from "./vswitch.ts";

/** A VM's NIC as seen from layer 2: records every frame that reaches it. */
class Endpoint implements Device {
  readonly kind = "vm" as const;
  readonly portNames = ["eth0"];
  readonly portCounters = [newPortCounters()];
  readonly drops = new DropCounters();
  readonly processingDelayNs = 0;
  readonly got: { src: string; atNs: number }[] = [];
  private env!: DeviceEnv;
  constructor(
    readonly name: string,
    readonly mac: number,
  ) {}
  bind(env: DeviceEnv): void {
    this.env = env;
  }
  start(): void {}
  receive(_port: number, frame: Frame, nowNs: number): void {
    this.got.push({ src: formatMac(readMac(frame.buf, frame.start + 6)), atNs: nowNs });
  }
  send(frame: Frame): void {
    this.env.transmit(0, frame);
  }
}

/** Gateway stand-in: a frame for the switch's MAC in one VLAN is re-addressed into the other. */
class Regateway implements SviHandler {
  constructor(
    private readonly sw: PhysicalSwitch,
    private readonly route: Map<number, { vid: number; dst: number }>,
  ) {}
  receiveOnSvi(vid: number, frame: Frame, nowNs: number): void {
    const b = frame.buf;
    if ((b[frame.start] & 1) !== 0) return; // broadcasts (ARP) are not this stand-in's business
    const r = this.route.get(vid);
    if (r === undefined) return;
    const out = ethFrame({ dst: r.dst, src: this.sw.mac, payload: frame.bytes().subarray(14) });
    this.sw.sendFromSvi(r.vid, out, nowNs);
  }
  receiveOnRoutedPort(): void {}
}

const M = {
  vm1: mac("02:00:00:01:10:01"),
  vm2: mac("02:00:00:01:10:02"),
  vm3: mac("02:00:00:01:20:03"),
  vm4: mac("02:00:00:02:10:04"),
  vm5: mac("02:00:00:01:f0:05"),
  vm6: mac("02:00:00:01:f0:06"),
  tor: mac("02:5e:00:00:00:01"),
};

function datacenter() {
  const net = new TestNet(1, 1_000);
  const vs1 = net.add(
    new Vswitch({
      name: "server1/vs0",
      uplinks: ["uplink:eth1"],
      portGroups: [
        { name: "web", vlan: 10 },
        { name: "db", vlan: 20 },
      ],
      vmPorts: [
        { name: "vm1", portGroup: "web", mac: M.vm1 },
        { name: "vm2", portGroup: "web", mac: M.vm2 },
        { name: "vm3", portGroup: "db", mac: M.vm3 },
      ],
    }),
  );
  const nic1 = net.add(
    new Pnic({
      name: "server1/eth1",
      wireName: "eth1",
      mac: mac("02:00:00:01:e1:00"),
      sriov: { vfs: 2 },
      vfs: [
        { mac: M.vm5, vlan: 10 },
        { mac: M.vm6, vlan: 10 },
      ],
    }),
  );
  const vs2 = net.add(
    new Vswitch({
      name: "server2/vs0",
      uplinks: ["uplink:eth0"],
      portGroups: [{ name: "web", vlan: 10 }],
      vmPorts: [{ name: "vm4", portGroup: "web", mac: M.vm4 }],
    }),
  );
  const nic2 = net.add(new Pnic({ name: "server2/eth0", wireName: "eth0", mac: mac("02:00:00:02:e0:00") }));
  const tor = net.add(
    new PhysicalSwitch({
      name: "tor1",
      mac: M.tor,
      ports: [
        { name: "eth1", mode: "trunk", vlans: [10, 20] },
        { name: "eth2", mode: "trunk", vlans: [10, 20] },
      ],
      sviVlans: [10, 20],
    }),
  );
  tor.attachSvi(
    new Regateway(
      tor,
      new Map([
        [10, { vid: 20, dst: M.vm3 }],
        [20, { vid: 10, dst: M.vm1 }],
      ]),
    ),
  );
  const vm: Record<string, Endpoint> = {};
  for (const name of ["vm1", "vm2", "vm3", "vm4", "vm5", "vm6"])
    vm[name] = net.add(new Endpoint(name, M[name as keyof typeof M]));
  net.connect(vm.vm1, 0, vs1, vs1.portIndex("vm1"));
  net.connect(vm.vm2, 0, vs1, vs1.portIndex("vm2"));
  net.connect(vm.vm3, 0, vs1, vs1.portIndex("vm3"));
  net.connect(vs1, 0, nic1, PF_PORT);
  net.connect(vm.vm5, 0, nic1, FIRST_VF_PORT);
  net.connect(vm.vm6, 0, nic1, FIRST_VF_PORT + 1);
  net.connect(nic1, WIRE_PORT, tor, 0);
  net.connect(vm.vm4, 0, vs2, vs2.portIndex("vm4"));
  net.connect(vs2, 0, nic2, PF_PORT);
  net.connect(nic2, WIRE_PORT, tor, 1);
  net.start();
  return { net, vs1, vs2, nic1, nic2, tor, vm };
}

const crossed = (net: TestNet, from: string, port: string) =>
  net.transmitted.filter((t) => t.from === from && t.port === port).length;

describe("section 5: forwarding paths", () => {
  it("same port group, same server: through the vswitch only, never the physical network", () => {
    const { net, vm, tor } = datacenter();
    vm.vm1.send(ethFrame({ dst: M.vm2, src: M.vm1 }));
    net.run();
    expect(vm.vm2.got.map((g) => g.src)).toEqual(["02:00:00:01:10:01"]);
    expect(tor.portCounters[0].rxFrames + tor.portCounters[1].rxFrames).toBe(0);
    // One link hop into the vswitch, its processing, one link hop out.
    expect(vm.vm2.got[0].atNs).toBe(1_000 + PROCESSING_DELAY_NS.vswitch + 1_000);
  });

  it("same port group, different servers: through the physical network", () => {
    const { net, vm, tor } = datacenter();
    vm.vm1.send(ethFrame({ dst: M.vm4, src: M.vm1 }));
    net.run();
    expect(vm.vm4.got.map((g) => g.src)).toEqual(["02:00:00:01:10:01"]);
    expect(tor.portCounters[0].rxFrames).toBe(1);
    expect(crossed(net, "tor1", "eth2")).toBe(1);
    expect(vm.vm2.got).toEqual([]); // unknown unicast is not delivered to other VMs
    expect(vm.vm3.got).toEqual([]);
  });

  it("different port groups, same server: out to the gateway on the physical network and back", () => {
    const { net, vm, tor } = datacenter();
    vm.vm1.send(ethFrame({ dst: M.tor, src: M.vm1 }));
    net.run();
    expect(vm.vm3.got.map((g) => g.src)).toEqual([formatMac(M.tor)]);
    expect(tor.sviCounters.txFrames).toBe(1);
    expect(tor.sviCounters.rxFrames).toBe(1);
    // The frame left server1 on VLAN 10 and came back on VLAN 20 over the same cable.
    expect(crossed(net, "server1/eth1", "eth1")).toBe(1);
    expect(crossed(net, "tor1", "eth1")).toBe(1);
    expect(net.traceLines()).toContain("tor1 switch deliver eth1>vlan10 vlan 10: to the gateway on vlan 10");
  });

  it("without the gateway, VLANs stay apart: vm1 cannot reach vm3 directly", () => {
    const { net, vm } = datacenter();
    vm.vm1.send(ethFrame({ dst: M.vm3, src: M.vm1 }));
    net.run();
    expect(vm.vm3.got).toEqual([]);
  });
});

describe("section 1.2: SR-IOV bypasses the hypervisor", () => {
  it("VF to VF stays in the NIC and costs the NIC's delay, not the vswitch's", () => {
    const { net, vm, vs1, tor } = datacenter();
    vm.vm5.send(ethFrame({ dst: M.vm6, src: M.vm5 }));
    net.run();
    expect(vm.vm6.got.map((g) => g.src)).toEqual(["02:00:00:01:f0:05"]);
    expect(vm.vm6.got[0].atNs).toBe(1_000 + PROCESSING_DELAY_NS.pnic + 1_000);
    expect(vs1.portCounters.every((c) => c.rxFrames === 0)).toBe(true);
    expect(tor.portCounters[0].rxFrames).toBe(0);
  });

  it("a VF reaches a VM behind the vswitch on the same NIC through the VEB, not the wire", () => {
    const { net, vm, tor } = datacenter();
    // vm1 speaks first, so the VEB has seen its MAC come from the PF.
    vm.vm1.send(ethFrame({ dst: M.vm5, src: M.vm1 }));
    net.run();
    expect(vm.vm5.got.map((g) => g.src)).toEqual(["02:00:00:01:10:01"]);
    const torBefore = tor.portCounters[0].rxFrames;
    vm.vm5.send(ethFrame({ dst: M.vm1, src: M.vm5 }));
    net.run();
    expect(vm.vm1.got.map((g) => g.src)).toEqual(["02:00:00:01:f0:05"]);
    expect(tor.portCounters[0].rxFrames).toBe(torBefore);
    expect(net.traceLines()).toContain(
      "server1/eth1 vf forward vf0>pf vlan 10: 02:00:00:01:10:01 is behind the PF: turned in the embedded switch (port VLAN 10 tag inserted)",
    );
  });

  it("a VM on a VF reaches a VM on another server through the wire", () => {
    const { net, vm } = datacenter();
    vm.vm5.send(ethFrame({ dst: M.vm4, src: M.vm5 }));
    net.run();
    expect(vm.vm4.got.map((g) => g.src)).toEqual(["02:00:00:01:f0:05"]);
  });
});

describe("teaming failover across the physical network", () => {
  it("pulling the active uplink's cable moves the VM to the other uplink and tells the switch", () => {
    const net = new TestNet(1, 1_000);
    const vm7 = mac("02:00:00:03:10:07");
    const ext = mac("02:00:00:00:99:01");
    const vs = net.add(
      new Vswitch({
        name: "server3/vs0",
        uplinks: ["uplink:eth0", "uplink:eth1"],
        portGroups: [{ name: "web", vlan: 10 }],
        vmPorts: [{ name: "vm7", portGroup: "web", mac: vm7 }],
      }),
    );
    const eth0 = net.add(new Pnic({ name: "server3/eth0", wireName: "eth0", mac: mac("02:00:00:03:e0:00") }));
    const eth1 = net.add(new Pnic({ name: "server3/eth1", wireName: "eth1", mac: mac("02:00:00:03:e1:00") }));
    const tor = net.add(
      new PhysicalSwitch({
        name: "tor1",
        mac: M.tor,
        ports: [
          { name: "p1", mode: "trunk", vlans: [10] },
          { name: "p2", mode: "trunk", vlans: [10] },
          { name: "p3", mode: "access", vlan: 10 },
        ],
      }),
    );
    const vmEnd = net.add(new Endpoint("vm7", vm7));
    const extEnd = net.add(new Endpoint("ext", ext));
    net.connect(vmEnd, 0, vs, vs.portIndex("vm7"));
    net.connect(vs, 0, eth0, PF_PORT);
    net.connect(vs, 1, eth1, PF_PORT);
    net.connect(eth0, WIRE_PORT, tor, 0);
    net.connect(eth1, WIRE_PORT, tor, 1);
    net.connect(extEnd, 0, tor, 2);
    net.start();

    vmEnd.send(ethFrame({ dst: ext, src: vm7 }));
    net.run();
    expect(extEnd.got.length).toBe(1);
    expect(tor.macTable.lookup(10, vm7, net.nowNs)).toBe(0);

    // The cable of eth0 is pulled: the NIC passes the carrier loss to the vswitch's uplink.
    net.setLinkUp(eth0, WIRE_PORT, false);
    expect(vs.pinnedUplink(vs.portIndex("vm7"))).toBe(1);
    net.run();
    // The RARP from vm7's MAC on eth1 taught the switch before vm7 sent anything.
    expect(tor.macTable.lookup(10, vm7, net.nowNs)).toBe(1);
    expect(net.traceLines()).toContain(
      "server3/vs0 vswitch send vm7>uplink:eth1 vlan 10: notify switches: RARP for 02:00:00:03:10:07 (vm7) on uplink:eth1",
    );

    extEnd.send(ethFrame({ dst: vm7, src: ext }));
    net.run();
    expect(vmEnd.got.map((g) => g.src)).toEqual(["02:00:00:00:99:01"]);
    expect(net.lost).toEqual([]);
  });
});
