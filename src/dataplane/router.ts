/**
 * The router behind a physical switch's SVIs (the `gateway:` of a switch in the topology file):
 * one IPv4 interface per SVI `{ vid, ip, prefixLen }`, all with the switch's MAC, routing
 * between the connected subnets. It implements `SviHandler` (svi.ts): the switch hands it the
 * untagged frames of a VLAN addressed to the switch's MAC or broadcast, and it sends frames back
 * into a VLAN with `SviHost.sendFromSvi`. The switch owns it: it calls `bind(env)` from its own
 * `bind` and `start(nowNs)` from its own `start`. Trace records are kind `gateway` with the
 * switch's name as the device.
 *
 * The host part (ARP with its cache, queue and retries, echo replies for the SVI addresses, ICMP
 * errors with their RFC 1812 §4.3.2.7 restrictions) is the shared stack of `ip-host.ts`; this
 * file is the forwarding decision (RFC 1812 §5.2 / §5.3), in Linux's order:
 * 1. martians are dropped (§5.3.7: source not a unicast host; destination 0/8, 127/8, class E),
 *    multicast is not routed, directed broadcasts are not forwarded (RFC 2644's default);
 * 2. longest prefix among the connected SVI subnets, else ICMP net unreachable (code 0);
 * 3. TTL <= 1: ICMP time exceeded (§5.3.1), quoting the datagram as it arrived;
 * 4. larger than the egress SVI's MTU with DF set: ICMP fragmentation needed (code 4) with the
 *    next-hop MTU (RFC 1191 §4); without DF it is fragmented (RFC 1812 §5.2.6) after step 5's
 *    TTL decrement;
 * 5. TTL decremented with the RFC 1624 incremental checksum update, Ethernet rewritten (source =
 *    the switch's MAC, destination = the next hop's MAC from ARP on the egress VLAN); when ARP
 *    fails the queued packets get ICMP host unreachable (code 1).
 * A packet routed back out of the VLAN it came from, from a source on that VLAN's subnet, is
 * forwarded and answered with an ICMP host redirect naming the destination as the better first
 * hop (RFC 1812 §5.2.7.2, after the TTL decrement as Linux's ip_forward does). ICMP errors are
 * rate-limited by the shared stack. Forwarding allocates nothing: the frame is rewritten in place.
 */

import { formatIpv4, type Ipv4, isBroadcastMac, isMulticastMac } from "../wire/addr.ts";
import { encapsulationOfIpv4 } from "../wire/encapsulation.ts";
import { WireError } from "../wire/error.ts";
import { ETHERNET_HEADER_LEN, Ethernet } from "../wire/ethernet.ts";
import { GRE_HEADER_LEN, Gre } from "../wire/gre.ts";
import { DestUnreachableCode, Icmpv4Type, TimeExceededCode } from "../wire/icmp.ts";
import { IpProtocol, Ipv4Header } from "../wire/ipv4.ts";
import { checkVid, DeviceConfigError } from "./config-error.ts";
import { DropCounters } from "./counters.ts";
import type { DeviceEnv } from "./device.ts";
import { flowHash } from "./fib.ts";
import type { Frame } from "./frame.ts";
import { fragmentIpv4 } from "./ip-fragment.ts";
import {
  type ArpConfig,
  IpHost,
  type IpInterface,
  type IpStats,
  isUnicastAddress,
  type NeighborInfo,
} from "./ip-host.ts";
import { Masquerade, type NatDrop } from "./nat.ts";
import type { SviHandler, SviHost } from "./svi.ts";

export interface SviConfig {
  vid: number;
  ip: Ipv4;
  prefixLen: number;
  /** Largest IPv4 packet routed out of this SVI (default 1500). */
  mtu?: number;
}

/** A switch port in `mode: routed` (or a router's interface): an IPv4 interface of its own. */
export interface RoutedPortConfig {
  /** The switch's device port. */
  port: number;
  name: string;
  ip: Ipv4;
  prefixLen: number;
  mtu?: number;
}

/** A GRE tunnel interface: its own address, and the underlay addresses of its two ends. */
export interface GreTunnelConfig {
  name: string;
  ip: Ipv4;
  prefixLen: number;
  /** This end's underlay address (one of the router's addresses) and the far end's. */
  source: Ipv4;
  destination: Ipv4;
  /** Largest inner packet (default 1476: 1500 less the 24 bytes of outer IPv4 and GRE). */
  mtu?: number;
}

/** A static route: `prefix/prefixLen` through one or more next hops (several: ECMP). */
export interface StaticRouteConfig {
  prefix: Ipv4;
  prefixLen: number;
  via: readonly Ipv4[];
}

export interface SviRouterOptions {
  arp?: Partial<ArpConfig>;
  /** Routed ports (layer-3 interfaces on switch ports). */
  routedPorts?: readonly RoutedPortConfig[];
  /** The loopback address (a /32 the device answers on whatever interface it arrives). */
  loopback?: { ip: Ipv4; prefixLen: number } | null;
  /** Static routes, added after every interface's connected route. */
  routes?: readonly StaticRouteConfig[];
  /** GRE tunnels (RFC 2784): point-to-point interfaces whose packets cross the underlay encapsulated. */
  tunnels?: readonly GreTunnelConfig[];
  /** The switch has a hardware VTEP: UDP 4789 to our addresses goes to it (`SviHost.receiveVxlan`). */
  hasVtep?: boolean;
  /** Count drops into these counters (the switch's), else the router's own. */
  drops?: DropCounters;
  /**
   * Tunnel ports whose packets something else carries (a VPN gateway's WireGuard interface):
   * point-to-point interfaces whose output is the given function, added before the routes.
   */
  virtualInterfaces?: readonly VirtualInterfaceConfig[];
  /** Source NAT (masquerade) out of this routed port (the switch's device port). */
  nat?: { outsidePort: number } | null;
}

/** A point-to-point interface whose routed packets (Ethernet header in front) go to `output`. */
export interface VirtualInterfaceConfig {
  name: string;
  ip: Ipv4;
  prefixLen: number;
  mtu: number;
  output: (frame: Frame, nowNs: number) => void;
}

export class SviRouter implements SviHandler {
  readonly stack: IpHost;
  readonly drops: DropCounters;
  private readonly byVid = new Map<number, IpInterface>();
  private readonly tunnels: Tunnel[] = [];
  /** Routed-port interfaces by the switch's device port. */
  private readonly byPort = new Map<number, IpInterface>();
  private envOrNull: DeviceEnv | null = null;
  /** Source NAT on the outside interface, or null. */
  readonly nat: Masquerade | null = null;
  private readonly natIface: IpInterface | null = null;

  constructor(
    private readonly host: SviHost,
    svis: readonly SviConfig[],
    options: SviRouterOptions = {},
  ) {
    this.drops = options.drops ?? new DropCounters();
    this.stack = new IpHost({ name: host.name, hopKind: "gateway", arp: options.arp, drops: this.drops });
    for (const svi of svis) {
      checkVid(svi.vid, `${host.name} gateway`);
      if (this.byVid.has(svi.vid))
        throw new DeviceConfigError("bad-vlan", `${host.name}: two SVIs on VLAN ${svi.vid}`);
      const vid = svi.vid;
      const iface = this.stack.addInterface(
        { name: `vlan${vid}`, mac: host.mac, ip: svi.ip, prefixLen: svi.prefixLen, mtu: svi.mtu, vid },
        (frame, nowNs) => this.host.sendFromSvi(vid, frame, nowNs),
      );
      this.byVid.set(vid, iface);
    }
    for (const rp of options.routedPorts ?? []) {
      const port = rp.port;
      const iface = this.stack.addInterface(
        { name: rp.name, mac: host.mac, ip: rp.ip, prefixLen: rp.prefixLen, mtu: rp.mtu, vid: null },
        (frame, nowNs) => this.host.sendFromRoutedPort?.(port, frame, nowNs),
      );
      this.byPort.set(port, iface);
    }
    const lo = options.loopback ?? null;
    if (lo !== null) {
      // The loopback holds an address and sends nothing: packets for it are delivered locally
      // whichever interface they arrive on (the weak host model of ip-host.ts).
      const loIface: IpInterface = this.stack.addInterface(
        { name: "lo", mac: host.mac, ip: lo.ip, prefixLen: lo.prefixLen, vid: null, isLoopback: true },
        (frame, nowNs) =>
          this.stack.dropFrame(
            loIface,
            frame,
            "loopback-output",
            "dropped: the loopback sends nothing",
            nowNs,
          ),
      );
    }
    for (const t of options.tunnels ?? []) {
      const tunnel = { config: t, iface: null as IpInterface | null, ident: 0 };
      tunnel.iface = this.stack.addInterface(
        {
          name: t.name,
          mac: host.mac,
          ip: t.ip,
          prefixLen: t.prefixLen,
          mtu: t.mtu ?? 1500 - GRE_OVERHEAD,
          vid: null,
          isPointToPoint: true,
        },
        (frame, nowNs) => this.encapsulate(tunnel, frame, nowNs),
      );
      this.tunnels.push(tunnel);
    }
    for (const v of options.virtualInterfaces ?? []) {
      this.stack.addInterface(
        {
          name: v.name,
          mac: host.mac,
          ip: v.ip,
          prefixLen: v.prefixLen,
          mtu: v.mtu,
          vid: null,
          isPointToPoint: true,
        },
        v.output,
      );
    }
    for (const r of options.routes ?? []) this.stack.addRoute(r.prefix, r.prefixLen, r.via);
    const natPort = options.nat?.outsidePort;
    if (natPort !== undefined) {
      const outside = this.byPort.get(natPort);
      if (outside === undefined)
        throw new DeviceConfigError("bad-port", `${host.name}: the NAT's outside port is not a routed port`);
      this.nat = new Masquerade(outside.ip);
      this.natIface = outside;
      this.stack.preRouteHook = (iface, frame, off, nowNs) => this.natInbound(iface, frame, off, nowNs);
    }
    if (options.hasVtep === true)
      this.stack.bindUdp(4789, (d) => this.host.receiveVxlan?.(d.src, d.payload, d.nowNs));
    if (this.tunnels.length > 0)
      this.stack.greHook = (iface, frame, off, nowNs) => this.decapsulate(iface, frame, off, nowNs);
    this.stack.forwardHook = (iface, frame, off, nowNs) => this.forward(iface, frame, off, nowNs);
  }

  private get env(): DeviceEnv {
    if (this.envOrNull === null) throw new Error(`${this.host.name} gateway used before bind()`);
    return this.envOrNull;
  }

  bind(env: DeviceEnv): void {
    this.envOrNull = env;
    this.stack.bind(env);
  }

  /** Announces every SVI address with a gratuitous ARP. */
  start(nowNs: number): void {
    this.stack.start(nowNs);
  }

  /** The switch lost power: the stack's caches and the NAT translations are forgotten. */
  powerOff(nowNs: number): void {
    this.stack.powerOff(nowNs);
    this.nat?.clear();
  }

  receiveOnSvi(vid: number, frame: Frame, nowNs: number): void {
    const iface = this.byVid.get(vid);
    if (iface === undefined) {
      this.drops.add("no-svi");
      if (this.env.isTracing) {
        this.env.trace({
          timeNs: nowNs,
          frameId: frame.id,
          device: this.host.name,
          kind: "gateway",
          in: `vlan${vid}`,
          out: null,
          vlan: vid,
          action: "drop",
          reason: `dropped: no SVI on vlan ${vid}`,
          code: "no-svi",
        });
      }
      return;
    }
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.stack.dropFrame(iface, frame, "runt", "dropped: shorter than an Ethernet header", nowNs);
      return;
    }
    const dst = Ethernet.dst(frame.buf, frame.start);
    if (dst !== iface.mac && !isBroadcastMac(dst)) {
      const code = isMulticastMac(dst) ? "multicast-not-routed" : "not-our-mac";
      this.stack.dropFrame(iface, frame, code, "dropped: not addressed to the gateway's MAC", nowNs);
      return;
    }
    this.stack.receive(iface, frame, nowNs);
  }

  receiveOnRoutedPort(port: number, frame: Frame, nowNs: number): void {
    const iface = this.byPort.get(port);
    if (iface === undefined) {
      this.drops.add("no-interface");
      return;
    }
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.stack.dropFrame(iface, frame, "runt", "dropped: shorter than an Ethernet header", nowNs);
      return;
    }
    const dst = Ethernet.dst(frame.buf, frame.start);
    if (dst !== iface.mac && !isBroadcastMac(dst)) {
      const code = isMulticastMac(dst) ? "multicast-not-routed" : "not-our-mac";
      this.stack.dropFrame(iface, frame, code, `dropped: not addressed to ${iface.name}'s MAC`, nowNs);
      return;
    }
    this.stack.receive(iface, frame, nowNs);
  }

  /**
   * A packet routed into a tunnel: the Ethernet header the interface wrote goes, a GRE header
   * and an outer IPv4 header (source and destination the tunnel's ends, TTL 64, DF clear, the
   * inner DSCP kept) take its place, and the outer packet leaves as the router's own, routed
   * through the underlay like any other.
   */
  private encapsulate(t: Tunnel, frame: Frame, nowNs: number): void {
    const innerLen = frame.length - ETHERNET_HEADER_LEN;
    const dscp = frame.buf[frame.start + ETHERNET_HEADER_LEN + 1] >> 2;
    frame.strip(ETHERNET_HEADER_LEN);
    frame.prepend(GRE_OVERHEAD + ETHERNET_HEADER_LEN);
    const b = frame.buf;
    const ip = frame.start + ETHERNET_HEADER_LEN;
    t.ident = (t.ident + 1) & 0xffff;
    Gre.emit({ hasChecksum: false, protocolType: 0x0800 }, b, ip + 20);
    Ipv4Header.emit(
      {
        dscp,
        ecn: 0,
        ident: t.ident,
        dontFragment: false,
        moreFragments: false,
        fragmentOffsetBytes: 0,
        ttl: 64,
        protocol: IpProtocol.GRE,
        src: t.config.source,
        dst: t.config.destination,
        options: EMPTY,
        payloadLength: GRE_HEADER_LEN + innerLen,
        checksumValid: true,
      },
      b,
      ip,
    );
    if (this.env.isTracing)
      this.env.trace({
        timeNs: nowNs,
        frameId: frame.id,
        device: this.host.name,
        kind: "gateway",
        in: t.config.name,
        out: null,
        vlan: null,
        action: "send",
        reason: `encapsulated in GRE to ${formatIpv4(t.config.destination)} (tunnel ${t.config.name}, outer ${formatIpv4(t.config.source)} -> ${formatIpv4(t.config.destination)})`,
        encap: {
          type: "gre",
          step: "encapsulate",
          outerSrc: formatIpv4(t.config.source),
          outerDst: formatIpv4(t.config.destination),
          tunnel: t.config.name,
        },
      });
    this.stack.output(frame, nowNs);
  }

  /**
   * A GRE packet for one of our addresses: from a tunnel's far end to its source address, the
   * inner IPv4 packet is received on the tunnel interface (then routed or delivered as any).
   */
  private decapsulate(_on: IpInterface, frame: Frame, off: number, nowNs: number): boolean {
    const b = frame.buf;
    const src = Ipv4Header.src(b, off);
    const dst = Ipv4Header.dst(b, off);
    const t = this.tunnels.find((x) => x.config.destination === src && x.config.source === dst);
    if (t === undefined || t.iface === null) return false;
    const hl = Ipv4Header.headerLength(b, off);
    const end = off + Ipv4Header.totalLength(b, off);
    let greLen: number;
    try {
      greLen = Gre.validate(b, off + hl, end);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.stack.dropFrame(t.iface, frame, "gre-malformed", `dropped: ${e.message}`, nowNs);
      return true;
    }
    if (Gre.protocolType(b, off + hl) !== 0x0800) {
      this.stack.dropFrame(t.iface, frame, "gre-unsupported", "dropped: GRE payload is not IPv4", nowNs);
      return true;
    }
    const inner = off + hl + greLen;
    // The inner packet gets an Ethernet header in the bytes the outer headers leave free.
    frame.end = end;
    frame.strip(inner - ETHERNET_HEADER_LEN - frame.start);
    Ethernet.setDst(frame.buf, frame.start, t.iface.mac);
    Ethernet.setSrc(frame.buf, frame.start, 0);
    Ethernet.setEtherType(frame.buf, frame.start, 0x0800);
    if (this.env.isTracing)
      this.env.trace({
        timeNs: nowNs,
        frameId: frame.id,
        device: this.host.name,
        kind: "gateway",
        in: t.config.name,
        out: null,
        vlan: null,
        action: "receive",
        reason: `decapsulated from GRE (tunnel ${t.config.name}, from ${formatIpv4(src)})`,
        encap: {
          type: "gre",
          step: "decapsulate",
          outerSrc: formatIpv4(src),
          outerDst: formatIpv4(dst),
          tunnel: t.config.name,
        },
      });
    this.stack.receive(t.iface, frame, nowNs);
    return true;
  }

  /** A packet the switch built (its hardware VTEP's), routed as the router's own. */
  sendUnderlay(frame: Frame, nowNs: number): void {
    // A VTEP does not fragment (RFC 7348 §4.3): what does not fit the egress is dropped.
    const dst = Ipv4Header.dst(frame.buf, frame.start + ETHERNET_HEADER_LEN);
    const r = this.stack.route(dst, nowNs);
    const ipLen = frame.length - ETHERNET_HEADER_LEN;
    if (r !== null && ipLen > r.iface.mtu) {
      this.stack.dropFrame(
        r.iface,
        frame,
        "vxlan-too-big",
        `dropped: a ${ipLen - 36}-byte frame is ${ipLen} bytes in VXLAN, over the VTEP's MTU ${r.iface.mtu} (VTEPs do not fragment, RFC 7348 §4.3)`,
        nowNs,
      );
      return;
    }
    this.stack.output(frame, nowNs);
  }

  /** The SVI of VLAN `vid`, or undefined. */
  sviOf(vid: number): IpInterface | undefined {
    return this.byVid.get(vid);
  }

  get interfaces(): readonly IpInterface[] {
    return this.stack.interfaces;
  }

  /** The router's ARP cache over all SVIs (`show ip arp`). */
  neighborTable(nowNs: number): NeighborInfo[] {
    return this.stack.neighborTable(nowNs);
  }

  get stats(): IpStats {
    return this.stack.stats;
  }

  /** A validated IPv4 packet at `off` of `frame`, arrived on `inIface`, not addressed to us. */
  private forward(inIface: IpInterface, frame: Frame, off: number, nowNs: number): void {
    const b = frame.buf;
    // int32 forms: no heap numbers on the forwarding path (see ip-host.ts); text via >>> 0.
    const src = Ipv4Header.src(b, off) | 0;
    const dst = Ipv4Header.dst(b, off) | 0;
    if (!isUnicastAddress(src) || this.isAnyBroadcast(src)) {
      this.stack.dropFrame(
        inIface,
        frame,
        "martian-source",
        `dropped: martian source ${formatIpv4(src >>> 0)}`,
        nowNs,
      );
      return;
    }
    if (dst >>> 28 === 0xe) {
      this.stack.dropFrame(
        inIface,
        frame,
        "multicast-not-routed",
        `dropped: multicast ${formatIpv4(dst >>> 0)} not routed`,
        nowNs,
      );
      return;
    }
    if (this.isAnyBroadcast(dst)) {
      const reason = `dropped: directed broadcast ${formatIpv4(dst >>> 0)} not forwarded`;
      this.stack.dropFrame(inIface, frame, "directed-broadcast", reason, nowNs);
      return;
    }
    if (!isUnicastAddress(dst)) {
      this.stack.dropFrame(
        inIface,
        frame,
        "martian-destination",
        `dropped: martian destination ${formatIpv4(dst >>> 0)}`,
        nowNs,
      );
      return;
    }
    // The forwarding table: connected subnets and static routes, an ECMP group's member chosen
    // by the 5-tuple (as Linux's fib_multipath_hash_policy=1).
    const route = this.stack.route(dst >>> 0, nowNs, this.flowOf(b, off, src, dst));
    const out = route === null ? null : route.iface;
    // Read now: an ICMP error sent below routes again, and `route` reuses its answer.
    const nextHop = route === null ? 0 : route.nextHop;
    if (route === null || out === null) {
      this.stack.dropFrame(
        inIface,
        frame,
        "no-route",
        `dropped: no route to ${formatIpv4(dst >>> 0)}`,
        nowNs,
      );
      this.stack.sendIcmpError(frame, off, Icmpv4Type.DestUnreachable, DestUnreachableCode.Net, 0, nowNs);
      return;
    }
    const ttl = Ipv4Header.ttl(b, off);
    if (ttl <= 1) {
      this.stack.dropFrame(inIface, frame, "ttl-exceeded", "dropped: ttl exceeded", nowNs);
      this.stack.sendIcmpError(frame, off, Icmpv4Type.TimeExceeded, TimeExceededCode.TtlExceeded, 0, nowNs);
      return;
    }
    const totalLength = Ipv4Header.totalLength(b, off);
    const isTooBig = totalLength > out.mtu;
    if (isTooBig && Ipv4Header.dontFragment(b, off)) {
      const reason = `dropped: ${totalLength} bytes exceed the MTU ${out.mtu} of ${label(out)}, DF set`;
      this.stack.dropFrame(
        inIface,
        frame,
        "frag-needed",
        reason,
        nowNs,
        this.env.isTracing
          ? { mtu: { sizeBytes: totalLength, mtuBytes: out.mtu, allowanceBytes: 0 } }
          : undefined,
      );
      this.stack.sendIcmpError(
        frame,
        off,
        Icmpv4Type.DestUnreachable,
        DestUnreachableCode.FragmentationNeeded,
        out.mtu,
        nowNs,
      );
      return;
    }
    const newTtl = Ipv4Header.decrementTtl(b, off);
    this.stack.stats.ipForwarded++;
    if (out === inIface && !inIface.isPointToPoint && inIface.contains(src)) {
      // The sender could have reached the destination itself (no source-route check: options
      // are carried, not interpreted).
      this.stack.sendIcmpError(frame, off, Icmpv4Type.Redirect, 1, dst >>> 0, nowNs);
    }
    let via = nextHop === dst >>> 0 ? "" : ` via ${formatIpv4(nextHop)}`;
    let isNatted = false;
    if (this.nat !== null && out === this.natIface && inIface !== out) {
      const refused = this.nat.outbound(b, off, nowNs);
      if (refused !== null) {
        this.stack.dropFrame(
          inIface,
          frame,
          refused,
          `dropped: source NAT: ${NAT_DROP_TEXT[refused]}`,
          nowNs,
        );
        return;
      }
      if (this.env.isTracing && (Ipv4Header.src(b, off) | 0) !== src) {
        via += `, source NAT to ${formatIpv4(Ipv4Header.src(b, off))}${portText(b, off)}`;
        isNatted = true;
      }
    }
    if (!isTooBig) {
      if (this.env.isTracing)
        this.traceRoute(inIface, out, frame, off, src, dst, ttl, newTtl, via, nowNs, isNatted);
      out.sendIpv4(frame, nextHop, nowNs);
      return;
    }
    // RFC 1812 §5.2.6: DF clear, so the router fragments for the egress MTU.
    const fragments = fragmentIpv4(frame, off, out.mtu);
    this.stack.stats.ipFragmentsCreated += fragments.length;
    if (this.env.isTracing) {
      const note = `${via}, fragmented into ${fragments.length} for MTU ${out.mtu}`;
      this.traceRoute(inIface, out, frame, off, src, dst, ttl, newTtl, note, nowNs, isNatted);
    }
    for (const f of fragments) out.sendIpv4(f, nextHop, nowNs);
  }

  private traceRoute(
    inIface: IpInterface,
    out: IpInterface,
    frame: Frame,
    off: number,
    src: number,
    dst: number,
    ttl: number,
    newTtl: number,
    note: string,
    nowNs: number,
    isNatted = false,
  ): void {
    // A tunnel's outer packet (GRE, VXLAN) routed by the underlay: the record says so, so a trace
    // tells the routers that carried the tunnel from the gateways of the packet inside it.
    const encap = encapsulationOfIpv4(frame.buf, off, frame.end);
    this.env.trace({
      timeNs: nowNs,
      frameId: frame.id,
      device: this.host.name,
      kind: "gateway",
      in: inIface.name,
      out: out.name,
      vlan: inIface.vid,
      action: "route",
      ...(encap === null ? {} : { encap: { ...encap, step: "carried" as const } }),
      reason: `routed ${label(inIface)} -> ${label(out)} (${formatIpv4(src >>> 0)} -> ${formatIpv4(dst >>> 0)}), ttl ${ttl} -> ${newTtl}${note}`,
      ...(isNatted ? { nat: "source" as const } : {}),
    });
  }

  /** Pre-routing on the NAT's outside interface: replies to translated flows go back inside. */
  private natInbound(iface: IpInterface, frame: Frame, off: number, nowNs: number): void {
    if (iface !== this.natIface || this.nat === null) return;
    const b = frame.buf;
    const before = Ipv4Header.dst(b, off);
    if (!this.nat.inbound(b, off, nowNs) || !this.env.isTracing) return;
    this.env.trace({
      timeNs: nowNs,
      frameId: frame.id,
      device: this.host.name,
      kind: "gateway",
      in: iface.name,
      out: null,
      vlan: null,
      action: "receive",
      reason: `NAT: a reply for ${formatIpv4(before)}, destination translated back to ${formatIpv4(Ipv4Header.dst(b, off))}${portText(b, off, false)}`,
      nat: "destination",
    });
  }

  /** The 5-tuple hash of the packet at `off` (ports only for an unfragmented TCP/UDP packet). */
  private flowOf(b: Uint8Array, off: number, src: number, dst: number): number {
    const proto = b[off + 9];
    let sport = 0;
    let dport = 0;
    const isFragment = (((b[off + 6] & 0x3f) << 8) | b[off + 7]) !== 0;
    if ((proto === 6 || proto === 17) && !isFragment) {
      const l4 = off + (b[off] & 0x0f) * 4;
      sport = (b[l4] << 8) | b[l4 + 1];
      dport = (b[l4 + 2] << 8) | b[l4 + 3];
    }
    return flowHash(src >>> 0, dst >>> 0, proto, sport, dport);
  }

  private isAnyBroadcast(ip: Ipv4): boolean {
    const ifaces = this.stack.interfaces;
    for (let i = 0; i < ifaces.length; i++) if (ifaces[i].isBroadcast(ip)) return true;
    return false;
  }
}

/** How traces name an interface: "vlan 10" for an SVI, its name ("eth1", "lo") otherwise. */
function label(iface: IpInterface): string {
  return iface.vid === null || iface.vid === undefined ? iface.name : `vlan ${iface.vid}`;
}

const NAT_DROP_TEXT: Record<NatDrop, string> = {
  "nat-fragment": "a non-first fragment carries no ports (vnet's NAT does not reassemble)",
  "nat-table-full": "the connection table is full",
  "nat-no-port": "no free port towards that destination",
};

/** ":51820" (UDP/TCP source or destination port, ICMP echo id as "id 7"), "" for others. */
function portText(b: Uint8Array, off: number, isSource = true): string {
  const proto = b[off + 9];
  const l4 = off + (b[off] & 0x0f) * 4;
  if (proto === 6 || proto === 17) {
    const at = isSource ? l4 : l4 + 2;
    return `:${(b[at] << 8) | b[at + 1]}`;
  }
  if (proto === 1 && (b[l4] === 0 || b[l4] === 8)) return ` (echo id ${(b[l4 + 4] << 8) | b[l4 + 5]})`;
  return "";
}

/** Outer IPv4 (20) and GRE (4) bytes a tunnel adds. */
export const GRE_OVERHEAD = 24;
const EMPTY = new Uint8Array(0);

interface Tunnel {
  config: GreTunnelConfig;
  iface: IpInterface | null;
  /** The outer IPv4 identification counter. */
  ident: number;
}
