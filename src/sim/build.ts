/**
 * The builder: a normalized `Topology` becomes a running simulated world. In file order:
 * - a physical switch per switch (`tor1`), with the router behind its SVIs when it has a
 *   `gateway` (the router shares the switch's name; its hops are of kind `gateway`);
 * - per server, a NIC device per physical NIC (`server1/eth0`: its wire port, its PF toward
 *   the host, and its SR-IOV virtual functions), a vswitch per vswitch (`server1/vs0`, one VM
 *   port per vNIC attached to it, its uplinks connected to the PFs of its NICs), and a VM per VM
 *   (`web1`, one port per vNIC) connected to its vswitch port or to its VF;
 * - a cable per `links` entry between a NIC's wire port or a switch port.
 *
 * Internal connections are links without rate, delay or queue; cables carry the file's rate,
 * delay, MTU, loss and queue. Capture points are named after the end as a user would name it:
 * `server1:eth0`, `tor1:eth1` for cable ends, `web1:eth0` for a VM's vNIC; the hypervisor side
 * of an internal connection is not captured (it would repeat the VM's capture).
 */

import type { Device } from "../dataplane/device.ts";
import type { NeighborInfo } from "../dataplane/ip-host.ts";
import type { MacTable } from "../dataplane/mac-table.ts";
import type { Masquerade } from "../dataplane/nat.ts";
import { PF_PORT, Pnic, WIRE_PORT } from "../dataplane/pnic.ts";
import { SviRouter } from "../dataplane/router.ts";
import { PhysicalSwitch } from "../dataplane/switch.ts";
import { Vm } from "../dataplane/vm.ts";
import { Vswitch } from "../dataplane/vswitch.ts";
import type {
  ExternalPortSpec,
  SwitchPortSpec,
  SwitchSpec,
  TeamingSpec,
  Topology,
  VmSpec,
} from "../model/types.ts";
import { planVpnGateways, prefixText } from "../model/vpn-plan.ts";
import type { WgCrypto } from "../vpn/crypto.ts";
import { nobleCrypto } from "../vpn/crypto-noble.ts";
import type { WgTimerConfig } from "../vpn/engine-api.ts";
import { WgGateway } from "../vpn/gateway.ts";
import type { LinkEnd } from "./link.ts";
import { World } from "./world.ts";

export interface VmHandle {
  spec: VmSpec;
  device: Vm;
  /** Per vNIC, the vswitch port it is plugged into (null for a VF). */
  vswitchPorts: ({ vswitch: Vswitch; port: number } | null)[];
}

export interface BuiltNetwork {
  world: World;
  /** VMs by name, in file order. */
  vms: Map<string, VmHandle>;
  switches: Map<string, PhysicalSwitch>;
  /** Every MAC table (switches, vswitches, NIC embedded switches) for `show fdb`. */
  macTables: {
    device: string;
    table: MacTable;
    portName: (port: number) => string;
    /** How `show fdb` names an entry's VLAN (a vswitch's overlay segments are VNIs). */
    segmentName?: (vid: number) => number | string;
  }[];
  /** Every ARP cache (VMs, gateways) for `show arp`. */
  arpCaches: { device: string; table: (nowNs: number) => NeighborInfo[] }[];
  /** Every VPN gateway (one per VPN and router), in file order. */
  vpnGateways: WgGateway[];
  /** Every router's source NAT. */
  nats: { device: string; nat: Masquerade }[];
  /**
   * With `vmPorts: "external"`: the port each VM's vNIC plugs into (a vswitch port or a VF), in
   * file order, for the world to bind to something real (a TAP whose other side is the VM's
   * network namespace). Empty when the VMs are simulated.
   */
  vmPorts: VmPort[];
  /**
   * The ports `external:` joins to the world outside vnet, in file order: left unconnected in
   * the simulator, bound to TAPs by the real world.
   */
  externalPorts: { spec: ExternalPortSpec; end: LinkEnd }[];
}

/** The device port a VM's vNIC is plugged into, when VMs live outside the world. */
export interface VmPort {
  vm: VmSpec;
  /** Index of the vNIC in `vm.nics`. */
  nic: number;
  /** The vswitch port or VF the vNIC plugs into ("server1/vs0:web1-eth0", "server1/nic1:vf0"). */
  end: LinkEnd;
}

export interface BuildOptions {
  seed?: number;
  /** The VPN gateways' crypto (default: the browser-safe @noble backend). */
  crypto?: WgCrypto;
  /** Overrides of WireGuard's timers (tests shorten them). */
  wgTimers?: Partial<WgTimerConfig>;
  /**
   * "simulated" (default): every VM is a device of the world (vnet's guest IPv4 stack).
   * "external": VMs are left out and their vNICs' ports listed in `vmPorts`, for the real world,
   * where each VM is a network namespace with the kernel's own stack.
   */
  vmPorts?: "simulated" | "external";
}

/** The name of a device port for `show fdb`, including the logical ports beyond `portNames`. */
/** The LACP system id both switches of MLAG domain `domain` present (locally administered). */
export function mlagSystemMac(domain: number): number {
  return 0x02004d4c0000 + domain;
}

function portNamer(device: Device, extra: Map<number, string>): (port: number) => string {
  return (port) => extra.get(port) ?? device.portNames[port] ?? `port${port}`;
}

/**
 * A switch port's spanning-tree settings: edge and BPDU guard as normalized, and its speed for
 * the path cost from the cables (a LAG: its members' together).
 */
function stpPortOptions(
  speedOf: Map<string, number>,
  sw: SwitchSpec,
  port: SwitchPortSpec,
): { isEdge: boolean; hasBpduGuard: boolean; speedBps?: number } {
  const members =
    port.lag === undefined ? [port.name] : (sw.lags.find((l) => l.name === port.lag)?.members ?? []);
  let speedBps = 0;
  for (const m of members) speedBps += speedOf.get(`${sw.name}:${m}`) ?? 0;
  return {
    isEdge: port.isEdge ?? false,
    hasBpduGuard: port.hasBpduGuard ?? false,
    ...(speedBps > 0 ? { speedBps } : {}),
  };
}

export function buildWorld(topology: Topology, options: BuildOptions = {}): BuiltNetwork {
  const world = new World({ seed: options.seed ?? 1 });
  const built: BuiltNetwork = {
    world,
    vms: new Map(),
    switches: new Map(),
    macTables: [],
    arpCaches: [],
    vpnGateways: [],
    nats: [],
    vmPorts: [],
    externalPorts: [],
  };
  const vpnPlans = planVpnGateways(topology, options.seed ?? 1);
  /** Cable ends: "node:port" -> the device port behind it. */
  const cableEnds = new Map<string, { device: Device; port: number }>();
  /** Cable ends: "node:port" -> the link's bandwidth, built once when an RSTP switch needs it. */
  let speeds: Map<string, number> | null = null;
  const cableSpeeds = (): Map<string, number> => {
    if (speeds === null) {
      speeds = new Map();
      for (const l of topology.links) {
        speeds.set(`${l.a.node}:${l.a.port}`, l.bandwidthBps);
        speeds.set(`${l.b.node}:${l.b.port}`, l.bandwidthBps);
      }
    }
    return speeds;
  };

  for (const sw of topology.switches) {
    const domain = topology.mlag?.find((d) => d.switches.includes(sw.name)) ?? null;
    const side = domain === null ? 0 : domain.switches.indexOf(sw.name);
    const dev = world.add(
      new PhysicalSwitch({
        name: sw.name,
        mac: sw.mac,
        // A LAG is configured once, under its name, where its first member is; the switch
        // expands it into its members.
        ports: sw.ports
          .filter((p) => p.lag === undefined || sw.lags.find((l) => l.name === p.lag)?.members[0] === p.name)
          .map((p) => {
            const name = p.lag ?? p.name;
            const stp = sw.stp === null ? {} : stpPortOptions(cableSpeeds(), sw, p);
            if (p.mode === "routed") return { name, mode: "routed" as const, stormControl: p.stormControl };
            return p.mode === "access"
              ? { name, mode: "access" as const, vlan: p.vlan, stormControl: p.stormControl, ...stp }
              : {
                  name,
                  mode: "trunk" as const,
                  vlans: p.vlans,
                  nativeVlan: p.nativeVlan,
                  stormControl: p.stormControl,
                  ...stp,
                };
          }),
        lags: sw.lags.map((l) => {
          const half = domain?.lags.find((h) => h.name === l.name);
          return {
            name: l.name,
            members: l.members,
            lacp: l.lacp,
            rate: l.rate,
            hash: l.hash,
            // Both halves of a multi-chassis LAG speak as one LACP partner: the domain's system
            // and one key; port numbers differ by switch so the partner sees distinct ports.
            ...(half === undefined || domain === null
              ? {}
              : {
                  mlagId: half.id,
                  system: mlagSystemMac(domain.domain),
                  key: 0x1000 + half.id,
                  portNumberOffset: side * 0x8000,
                }),
          };
        }),
        vtep:
          sw.vtep === null
            ? null
            : {
                ip: sw.vtep.ip,
                vnis: sw.vtep.map.map((m) => {
                  const o = topology.overlay?.find((x) => x.vni === m.vni);
                  return {
                    vni: m.vni,
                    vid: m.vid,
                    flood: o?.flood ?? [],
                    isLearning: o?.isLearning ?? true,
                    static: o?.static ?? [],
                    // Without an overlay entry the VTEP's default ageing (300 s) applies.
                    ageingNs: o === undefined ? undefined : o.ageingSec * 1e9,
                  };
                }),
              },
        mlag:
          domain === null
            ? null
            : {
                domain: domain.domain,
                priority: domain.priority[side],
                peerLink: domain.peerLink,
                keepalivePort: domain.keepalive === null ? null : domain.keepalive[side],
              },
        sviVlans: sw.gateway.map((g) => g.vid),
        macTableSize: sw.macTableSize,
        macAgingNs: sw.macAgingSec * 1e9,
        stp: sw.stp === null ? null : { mode: sw.stp.mode, priority: sw.stp.priority },
      }),
    );
    built.switches.set(sw.name, dev);
    built.macTables.push({
      device: sw.name,
      table: dev.macTable,
      portName: (port) => dev.logicalPortName(port),
    });
    for (const p of sw.ports)
      cableEnds.set(`${sw.name}:${p.name}`, { device: dev, port: dev.portIndex(p.name) });
    const routedPorts = sw.ports.flatMap((p) =>
      p.mode === "routed"
        ? [{ port: dev.portIndex(p.name), name: p.name, ip: p.ip, prefixLen: p.prefixLen, mtu: p.mtu }]
        : [],
    );
    // VPN gateways: a WireGuard engine behind a tunnel interface per VPN this device is in.
    const vpnHere = vpnPlans.filter((g) => g.device === sw.name);
    const gateways = vpnHere.map(
      (g) =>
        new WgGateway({
          vpn: g.vpn,
          device: g.device,
          privateKey: g.privateKey,
          listenPort: g.listenPort,
          mtu: g.mtu,
          crypto: options.crypto ?? nobleCrypto,
          ...(options.wgTimers === undefined ? {} : { timers: options.wgTimers }),
          peers: g.peers.map((p) => ({
            name: p.name,
            publicKey: p.publicKey,
            allowedIps: p.allowedIps.map(prefixText),
            endpoint: p.endpoint,
            keepaliveSec: p.keepaliveSec,
          })),
        }),
    );
    const tunnels = (topology.tunnels ?? []).flatMap((t) =>
      t.ends
        .filter((e) => e.device === sw.name)
        .map((e) => ({
          name: e.name,
          ip: e.ip,
          prefixLen: e.prefixLen,
          source: e.source,
          destination: e.destination,
          mtu: t.mtu,
        })),
    );
    if (
      sw.gateway.length > 0 ||
      routedPorts.length > 0 ||
      sw.loopback !== null ||
      tunnels.length > 0 ||
      sw.vtep !== null ||
      gateways.length > 0
    ) {
      const router = new SviRouter(
        dev,
        sw.gateway.map((g) => ({ vid: g.vid, ip: g.ip, prefixLen: g.prefixLen, mtu: g.mtu })),
        {
          drops: dev.drops,
          routedPorts,
          loopback: sw.loopback,
          // The VPN's routes first: a static route of the file for the same prefix replaces one.
          routes: [
            ...vpnHere.flatMap((g) =>
              g.routes.map((r) => ({ prefix: r.prefix, prefixLen: r.prefixLen, via: [r.via] })),
            ),
            ...sw.routes.map((r) => ({ prefix: r.prefix, prefixLen: r.prefixLen, via: r.via })),
          ],
          tunnels,
          hasVtep: sw.vtep !== null,
          virtualInterfaces: vpnHere.map((g, i) => ({
            name: g.iface,
            ip: g.ip,
            prefixLen: g.prefixLen,
            mtu: g.mtu,
            output: (frame, nowNs) => gateways[i].send(frame, nowNs),
          })),
          nat: sw.nat == null ? null : { outsidePort: dev.portIndex(sw.nat.outside) },
        },
      );
      dev.attachSvi(router);
      router.bind(world.envOf(dev));
      dev.addPowerHook({ off: (now) => router.powerOff(now), boot: (now) => router.start(now) });
      vpnHere.forEach((g, i) => {
        const iface = router.stack.interfaces.find((x) => x.name === g.iface)!;
        gateways[i].attach(router.stack, iface);
        built.vpnGateways.push(gateways[i]);
        world.onStart((now) => gateways[i].start(now));
        dev.addPowerHook({ off: () => gateways[i].powerOff(), boot: (now) => gateways[i].start(now) });
      });
      if (router.nat !== null) built.nats.push({ device: sw.name, nat: router.nat });
      world.onStart((now) => router.start(now));
      built.arpCaches.push({
        device: `${sw.name} (gateway)`,
        table: (now) => router.stack.neighborTable(now),
      });
    }
  }

  for (const server of topology.servers) {
    // VFs handed out per NIC, in file order of the VMs (the loader assigned vfIndex).
    const vfUsers = new Map<
      string,
      { vm: string; nic: number; vfIndex: number; mac: number; vlan: number | null; spoofCheck: boolean }[]
    >();
    const vsPorts = new Map<
      string,
      { vm: string; nic: number; name: string; portGroup: string; mac: number; ip: number }[]
    >();
    for (const vm of server.vms) {
      vm.nics.forEach((nic, i) => {
        const a = nic.attachment;
        const multi =
          vm.nics.filter(
            (n) =>
              n.attachment.kind === "portGroup" &&
              n.attachment.vswitch === (a.kind === "portGroup" ? a.vswitch : ""),
          ).length > 1;
        if (a.kind === "portGroup") {
          const list = vsPorts.get(a.vswitch) ?? [];
          list.push({
            vm: vm.name,
            nic: i,
            name: multi ? `${vm.name}/${nic.name}` : vm.name,
            portGroup: a.portGroup,
            mac: nic.mac,
            ip: nic.ip,
          });
          vsPorts.set(a.vswitch, list);
        } else {
          const list = vfUsers.get(a.nic) ?? [];
          list.push({
            vm: vm.name,
            nic: i,
            vfIndex: a.vfIndex,
            mac: nic.mac,
            vlan: a.vlan,
            spoofCheck: a.spoofCheck,
          });
          vfUsers.set(a.nic, list);
        }
      });
    }

    const pnics = new Map<string, Pnic>();
    for (const nic of server.nics) {
      const name = `${server.name}/${nic.name}`;
      const users = vfUsers.get(nic.name) ?? [];
      const dev = world.add(
        new Pnic({
          name,
          wireName: nic.name,
          mac: nic.mac,
          sriov: nic.sriov,
          vfs:
            nic.sriov === null
              ? []
              : Array.from({ length: nic.sriov.vfs }, (_, i) => {
                  const u = users.find((x) => x.vfIndex === i);
                  return u === undefined ? null : { mac: u.mac, vlan: u.vlan, spoofCheck: u.spoofCheck };
                }),
        }),
      );
      pnics.set(nic.name, dev);
      cableEnds.set(`${server.name}:${nic.name}`, { device: dev, port: WIRE_PORT });
      if (dev.veb !== null) {
        built.macTables.push({ device: name, table: dev.veb, portName: portNamer(dev, new Map()) });
      }
    }

    const vswitches = new Map<string, Vswitch>();
    for (const vs of server.vswitches) {
      const ports = vsPorts.get(vs.name) ?? [];
      const uplinkIndex = (names: string[]) => names.map((u) => vs.uplinks.indexOf(u));
      const teamingOf = (t: TeamingSpec) => ({
        policy: t.policy,
        active: uplinkIndex(t.active),
        standby: uplinkIndex(t.standby),
        failback: t.failback,
        lagHash: t.lacp?.hash,
      });
      const nicMac = (u: string) => server.nics.find((n) => n.name === u)?.mac ?? 0;
      const lacp = vs.teaming.lacp;
      const dev = world.add(
        new Vswitch({
          name: `${server.name}/${vs.name}`,
          uplinks: vs.uplinks.map((u) => `uplink:${u}`),
          portGroups: vs.portGroups.map((pg) => ({
            name: pg.name,
            vlan: pg.vlan,
            vni: pg.vni,
            security: pg.security,
            teaming: pg.teaming === null || vs.uplinks.length === 0 ? null : teamingOf(pg.teaming),
            notifySwitches: (pg.teaming ?? vs.teaming).notifySwitches,
          })),
          teaming: vs.uplinks.length === 0 ? undefined : teamingOf(vs.teaming),
          notifySwitches: vs.teaming.notifySwitches,
          lacp:
            lacp === null || vs.uplinks.length === 0
              ? null
              : {
                  mode: lacp.mode,
                  rate: lacp.rate,
                  system: nicMac(vs.uplinks[0]),
                  uplinkMacs: vs.uplinks.map(nicMac),
                },
          vmPorts: ports.map((p) => ({ name: p.name, portGroup: p.portGroup, mac: p.mac, ip: p.ip })),
          macTableSize: vs.macTableSize,
          macAgingNs: vs.macAgingSec * 1e9,
          stormControl: vs.stormControl,
          vtep:
            vs.vtep === null
              ? null
              : {
                  mac: vs.vtep.mac,
                  ip: vs.vtep.ip,
                  prefixLen: vs.vtep.prefixLen,
                  gateway: vs.vtep.gateway,
                  vlan: vs.vtep.vlan,
                  mtu: vs.vtep.mtu,
                  vnis: (topology.overlay ?? [])
                    .filter((o) => vs.portGroups.some((pg) => pg.vni === o.vni))
                    .map((o) => ({
                      vni: o.vni,
                      flood: o.flood,
                      isLearning: o.isLearning,
                      static: o.static,
                      ageingNs: o.ageingSec * 1e9,
                    })),
                },
        }),
      );
      vswitches.set(vs.name, dev);
      built.macTables.push({
        device: dev.name,
        table: dev.macTable,
        portName: portNamer(dev, new Map([[dev.teamPort, "uplinks"]])),
        segmentName: (vid) => dev.segmentName(vid),
      });
      const vtep = dev.vtep;
      if (vtep !== null)
        built.arpCaches.push({ device: `${dev.name} (vtep)`, table: (now) => vtep.stack.neighborTable(now) });
      vs.uplinks.forEach((u, i) => {
        const pnic = pnics.get(u);
        if (pnic === undefined) throw new Error(`build: ${server.name}/${vs.name} uplink ${u} is not a NIC`);
        world.connect(
          { device: dev, port: i, name: `${dev.name}:uplink:${u}`, captureName: null },
          { device: pnic, port: PF_PORT, name: `${pnic.name}:pf`, captureName: null },
          null,
          "pnic",
        );
      });
    }

    /** The vswitch port or VF that vNIC `i` of `vm` plugs into (captured as the vNIC when external). */
    const attachmentOf = (
      vm: VmSpec,
      i: number,
    ): { end: LinkEnd; kind: "vnic" | "vf"; vswitch: Vswitch | null } => {
      const nic = vm.nics[i];
      const a = nic.attachment;
      const captureName = options.vmPorts === "external" ? `${vm.name}:${nic.name}` : null;
      if (a.kind === "portGroup") {
        const vs = vswitches.get(a.vswitch);
        const portName = vsPorts.get(a.vswitch)?.find((p) => p.vm === vm.name && p.nic === i)?.name;
        if (vs === undefined || portName === undefined)
          throw new Error(`build: ${vm.name} ${nic.name}: no vswitch port`);
        const port = vs.portIndex(portName);
        return {
          end: { device: vs, port, name: `${vs.name}:${portName}`, captureName },
          kind: "vnic",
          vswitch: vs,
        };
      }
      const pnic = pnics.get(a.nic);
      if (pnic === undefined) throw new Error(`build: ${vm.name} ${nic.name}: no NIC ${a.nic}`);
      const port = pnic.vfPort(a.vfIndex);
      return {
        end: { device: pnic, port, name: `${pnic.name}:vf${a.vfIndex}`, captureName },
        kind: "vf",
        vswitch: null,
      };
    };

    for (const vm of server.vms) {
      if (options.vmPorts === "external") {
        vm.nics.forEach((_, i) => {
          built.vmPorts.push({ vm, nic: i, end: attachmentOf(vm, i).end });
        });
        continue;
      }
      const dev = world.add(
        new Vm({
          name: vm.name,
          nics: vm.nics.map((n) => ({
            mac: n.mac,
            ip: n.ip,
            prefixLen: n.prefixLen,
            gateway: n.gateway,
            mtu: n.mtu,
            attachment: n.attachment.kind === "vf" ? "vf" : "virtio",
          })),
        }),
      );
      const handle: VmHandle = { spec: vm, device: dev, vswitchPorts: vm.nics.map(() => null) };
      built.vms.set(vm.name, handle);
      built.arpCaches.push({ device: vm.name, table: (now) => dev.neighborTable(now) });
      vm.nics.forEach((nic, i) => {
        const vmEnd: LinkEnd = {
          device: dev,
          port: i,
          name: `${vm.name}:${nic.name}`,
          captureName: `${vm.name}:${nic.name}`,
        };
        const at = attachmentOf(vm, i);
        if (at.vswitch !== null) handle.vswitchPorts[i] = { vswitch: at.vswitch, port: at.end.port };
        world.connect(vmEnd, at.end, null, at.kind);
      });
    }
  }

  for (const l of topology.links) {
    const a = cableEnds.get(`${l.a.node}:${l.a.port}`);
    const b = cableEnds.get(`${l.b.node}:${l.b.port}`);
    if (a === undefined || b === undefined)
      throw new Error(`build: link ${l.a.node}:${l.a.port} - ${l.b.node}:${l.b.port} has an unknown end`);
    const link = world.connect(
      { ...a, name: `${l.a.node}:${l.a.port}`, captureName: `${l.a.node}:${l.a.port}` },
      { ...b, name: `${l.b.node}:${l.b.port}`, captureName: `${l.b.node}:${l.b.port}` },
      {
        rateBps: l.bandwidthBps,
        delayNs: l.delayNs,
        mtu: l.mtu,
        lossRate: l.lossRate,
        queueFrames: l.queueFrames,
        isUp: l.isUp,
      },
    );
    // Down from the start: the devices learn it before anything is sent (boot announcements too).
    if (!l.isUp) world.setLinkUp(link, false);
  }
  for (const x of topology.external ?? []) {
    const end = cableEnds.get(`${x.end.node}:${x.end.port}`);
    if (end === undefined) throw new Error(`build: external port ${x.end.node}:${x.end.port} is unknown`);
    const name = `${x.end.node}:${x.end.port}`;
    built.externalPorts.push({ spec: x, end: { ...end, name, captureName: name } });
  }
  return built;
}
