/**
 * Turns the hop records of one traced exchange (ARP resolution, one ICMP echo request and its
 * reply) into what `vnet trace` shows: the hops in order, whether the exchange crossed the
 * physical network, which physical switches and gateways it went through, and a one-sentence
 * verdict that states the source document's forwarding rule (section 5) for this pair, derived
 * from the model (port groups, VLANs, servers, SR-IOV attachments) and the observed path, never
 * assumed: a pair the document says stays inside a server but whose frames were seen on a cable
 * is reported as crossing.
 *
 * Browser-safe and pure: the facade collects the records and labels, this file only reasons.
 */

import type { HopKind, HopRecord } from "../dataplane/trace.ts";
import { VswitchDrop } from "../dataplane/vswitch.ts";
import { formatIpv4 } from "../wire/addr.ts";
import type { FrameKind, FrameLabel } from "./frame-label.ts";

/** How a VM's NIC is attached, as the verdict needs it. */
export type AttachmentInfo =
  | {
      kind: "portGroup";
      vswitch: string;
      portGroup: string;
      /** The VLAN; 0: untagged (vSphere's "None (0)"), or an overlay port group (see `vni`). */
      vlan: number;
      /** The VXLAN segment of an overlay port group (its VLAN is then 0). */
      vni?: number | null;
    }
  | { kind: "vf"; nic: string; vfIndex: number; vlan: number | null };

export interface VmEndpoint {
  kind: "vm";
  vm: string;
  server: string;
  nic: string;
  ip: number;
  attachment: AttachmentInfo;
}

export type TraceTarget =
  | VmEndpoint
  | { kind: "gateway"; switch: string; ip: number }
  | { kind: "address"; ip: number };

export interface TraceHop {
  timeNs: number;
  /** What the frame is ("ARP request who-has ...", "ICMP echo reply ..."). */
  frame: string;
  frameId: number;
  device: string;
  kind: HopKind;
  in: string | null;
  out: string | null;
  vlan: number | null;
  action: HopRecord["action"];
  reason: string;
  /** The record's tunnel facts, byte counts and size limit, where it has them (`HopRecord`). */
  encap?: HopRecord["encap"];
  frameBytes?: number;
  mtu?: HopRecord["mtu"];
  /**
   * With `Network.trace(a, b, { withBytes: true })`, on the hops of a link (a cable or an
   * internal connection; also a VPN gateway's): a copy of the frame's bytes as it was there.
   */
  bytes?: Uint8Array;
}

export interface TraceResult {
  from: string;
  to: string;
  toIp: string;
  delivered: boolean;
  /** Simulated time the trace started at; hop times are absolute. */
  startNs: number;
  /** Round-trip time of the echo in simulated ns, when delivered. */
  rttNs: number | null;
  hops: TraceHop[];
  /** Whether any frame of the echo exchange (ARP too when no echo was sent) went over a cable. */
  crossesPhysicalNetwork: boolean;
  /** Physical switches and gateways the echo exchange went through, in order of first use. */
  physicalDevices: string[];
  verdict: string;
  /**
   * When not delivered: why, as data. `device` and `code` name the device that refused the
   * exchange and the counter its drop went under (null when nothing dropped it: no ARP reply, an
   * ICMP error, the source could not send).
   */
  failure: TraceFailure | null;
}

export interface TraceFailure {
  text: string;
  device: string | null;
  code: string | null;
}

export interface TraceInput {
  source: VmEndpoint;
  target: TraceTarget;
  /** The name the user gave for the target (a VM name or an address). */
  targetText: string;
  records: readonly HopRecord[];
  labels: ReadonlyMap<number, FrameLabel>;
  delivered: boolean;
  rttNs: number | null;
  startNs?: number;
  /** The ICMP error that answered the echo ("Destination Host Unreachable from 192.168.10.1"). */
  icmpError?: string | null;
  /** Set when the source could not send at all (no route, too big): the failure, in words. */
  sendError?: string | null;
  /** For a gateway hop's device, the switch it routes for (defaults to the device name). */
  gatewaySwitchOf?: (device: string) => string;
  /** The bytes a link record's frame had on that link, when the caller kept them. */
  bytesOf?: (record: HopRecord) => Uint8Array | undefined;
}

const ECHO: ReadonlySet<FrameKind> = new Set(["echo-request", "echo-reply", "icmp-error"]);
const ARP: ReadonlySet<FrameKind> = new Set(["arp-request", "arp-reply"]);

/** A link's record (its device is "a<->b"). */
function isLinkRecord(r: HopRecord): boolean {
  return r.device.includes("<->");
}

/**
 * Devices record their decision after handing the frame to the link, so a link's record comes
 * first; within one instant and one frame, put the decision before the carrying.
 */
function decisionsFirst(records: readonly HopRecord[]): HopRecord[] {
  const out: HopRecord[] = [];
  let i = 0;
  while (i < records.length) {
    let j = i;
    while (
      j < records.length &&
      records[j].timeNs === records[i].timeNs &&
      records[j].frameId === records[i].frameId
    )
      j++;
    const group = records.slice(i, j);
    out.push(...group.filter((r) => !isLinkRecord(r)), ...group.filter(isLinkRecord));
    i = j;
  }
  return out;
}

export function analyseTrace(input: TraceInput): TraceResult {
  const { source, target, labels } = input;
  const records = decisionsFirst(input.records);
  const gwSwitch = input.gatewaySwitchOf ?? ((d: string) => d);
  const kindOf = (id: number): FrameKind => labels.get(id)?.kind ?? "other";
  // A frame that never reached a link (an echo waiting for ARP, then dropped) has no label from
  // its bytes: name it by what its sender said it was; a record about no frame is a decision.
  const said = new Map<number, string>();
  for (const r of records) {
    if ((r.action === "send" || r.action === "reply") && !said.has(r.frameId)) said.set(r.frameId, r.reason);
  }
  const frameText = (id: number): string =>
    labels.get(id)?.text ?? (id === 0 ? "(no frame: a decision)" : (said.get(id) ?? `frame ${id}`));
  const bytesOf = (r: HopRecord): { bytes?: Uint8Array } => {
    const b = input.bytesOf?.(r);
    return b === undefined ? {} : { bytes: b };
  };
  const hops: TraceHop[] = records.map((r) => ({
    timeNs: r.timeNs,
    frame: frameText(r.frameId),
    frameId: r.frameId,
    device: r.device,
    kind: r.kind,
    in: r.in,
    out: r.out,
    vlan: r.vlan,
    action: r.action,
    reason: r.reason,
    ...(r.encap === undefined ? {} : { encap: r.encap }),
    ...(r.frameBytes === undefined ? {} : { frameBytes: r.frameBytes }),
    ...(r.mtu === undefined ? {} : { mtu: r.mtu }),
    ...bytesOf(r),
  }));

  // The path that matters for the document's rules is the echo exchange; ARP broadcasts are
  // flooded to every port of the VLAN, uplinks included, whatever the path of the data is.
  const echoRecords = records.filter((r) => ECHO.has(kindOf(r.frameId)));
  const pathRecords = echoRecords.length > 0 ? echoRecords : records;
  const crosses = pathRecords.some((r) => r.kind === "link" && r.action === "transmit");
  // A device that only carried a tunnel's outer packets (a router between two GRE ends, the
  // underlay of a VXLAN segment) crossed nothing of the exchange itself: it is named as carrying
  // the tunnel, never as a gateway of the packet inside.
  const outer = outerRecords(pathRecords);
  const physical: string[] = [];
  const inner: string[] = [];
  const gateways: string[] = [];
  let sawVswitch = false;
  for (const r of pathRecords) {
    if (r.kind === "vswitch") sawVswitch = true;
    if ((r.kind === "switch" || r.kind === "gateway") && r.action !== "drop") {
      if (!physical.includes(r.device)) physical.push(r.device);
      if (!outer.has(r) && !inner.includes(r.device)) inner.push(r.device);
    }
    if (r.kind === "gateway" && r.action === "route" && !outer.has(r) && !gateways.includes(r.device))
      gateways.push(r.device);
  }
  const carriers = physical.filter((d) => !inner.includes(d));

  let verdict: string;
  let failure: TraceFailure | null = null;
  if (!input.delivered) {
    failure =
      input.sendError != null
        ? { text: input.sendError, device: null, code: null }
        : failureCause(records, kindOf, labels, input.icmpError ?? null);
    verdict = `not delivered: ${failure.text}`;
  } else if (target.kind === "address" && target.ip >>> 24 === 127 && !crosses) {
    verdict = `to ${formatIpv4(target.ip)}: the guest's loopback, stays inside ${source.vm}`;
  } else if (target.kind === "vm" && target.vm === source.vm && !crosses) {
    verdict = `to itself: stays inside ${source.vm} (the guest's own stack)`;
  } else {
    // A hardware VTEP on the exchange's path bridged a VLAN into a VNI: the VLAN side is that
    // segment too. (ARP floods reach every VTEP of the segment; only the echo's path counts.)
    const isHardwareVtep = (r: HopRecord, step: "encapsulate" | "decapsulate"): boolean =>
      r.encap?.type === "vxlan" && r.encap.step === step && r.encap.bridgedVlan !== undefined;
    const hw =
      pathRecords.find((r) => r.action === "send" && isHardwareVtep(r, "encapsulate")) ??
      pathRecords.find((r) => r.action === "receive" && isHardwareVtep(r, "decapsulate"));
    const hwVni = hw?.encap?.vni ?? null;
    const bridged = <T extends VmEndpoint | TraceTarget>(e: T): T =>
      hwVni === null ||
      e.kind !== "vm" ||
      e.attachment.kind !== "portGroup" ||
      (e.attachment.vni ?? null) !== null
        ? e
        : { ...e, attachment: { ...e.attachment, vni: hwVni } };
    const src = bridged(source);
    const dst = bridged(target);
    const vteps = vxlanEnds(pathRecords, kindOf);
    const path = { crosses, physical, inner, gateways, carriers, sawVswitch, vteps };
    verdict = `${relation(src, dst, gateways.length > 0 && hwVni === null)}: ${pathPhrase(src, dst, path, gwSwitch)}`;
    if (hw !== undefined && hwVni !== null)
      verdict += ` (${hw.device} bridges vlan ${hw.vlan ?? "?"} into VNI ${hwVni} as a hardware VTEP)`;
    // A tunnel on the way: where the echo went in and came out, and who carried it there (those
    // routers saw only the outer packets, never the inner one).
    const into = pathRecords.find(
      (r) => r.action === "send" && r.encap?.type === "gre" && r.encap.step === "encapsulate",
    );
    const outOf = pathRecords.find(
      (r) => r.action === "receive" && r.encap?.type === "gre" && r.encap.step === "decapsulate",
    );
    if (into !== undefined && outOf !== undefined) {
      const sees = carriers.length === 1 ? "sees" : "see";
      const by =
        carriers.length > 0 ? `, carried by ${joinAnd(carriers)}, which ${sees} only its outer packets` : "";
      verdict += `; through a GRE tunnel from ${into.device} to ${outOf.device}${by}`;
    }
    verdict += vpnPhrase(records, kindOf);
  }
  return {
    from: source.vm,
    to: input.targetText,
    toIp: formatIpv4(target.ip),
    delivered: input.delivered,
    startNs: input.startNs ?? 0,
    rttNs: input.rttNs,
    hops,
    crossesPhysicalNetwork: crosses,
    physicalDevices: physical,
    verdict,
    failure,
  };
}

/**
 * "; through the VPN hq-branch: encrypted between hq-gw and branch-gw, carried as WireGuard
 * messages by internet and branch-cpe (source NAT)": where the exchange entered and left a VPN,
 * from the gateways' records, and who carried the encrypted datagrams (never the inner packet).
 */
function vpnPhrase(records: readonly HopRecord[], kindOf: (id: number) => FrameKind): string {
  const isEcho = (r: HopRecord) => ECHO.has(kindOf(r.frameId));
  const enc = records.filter((r) => (r.vpn?.event === "encrypt" || r.vpn?.event === "queue") && isEcho(r));
  const dec = records.filter((r) => r.vpn?.event === "decrypt" && isEcho(r));
  if (enc.length === 0 || dec.length === 0) return "";
  const vpns = unique([...enc, ...dec].map((r) => r.vpn!.vpn));
  const gateways = unique([...enc, ...dec].map((r) => r.device));
  // A hub decrypts what one spoke sent and encrypts it again for another.
  const relays = gateways.filter(
    (g) =>
      enc.some((r) => r.device === g) &&
      dec.some((r) => r.device === g) &&
      records.some((r) => r.device === g && r.action === "route" && r.in !== null && r.in === r.out),
  );
  const ends = gateways.filter((g) => !relays.includes(g));
  const carriers: string[] = [];
  const natted: string[] = [];
  for (const r of records) {
    if (kindOf(r.frameId) !== "wireguard" || (r.kind !== "gateway" && r.kind !== "switch")) continue;
    if (gateways.includes(r.device) || r.action === "drop") continue;
    if (!carriers.includes(r.device)) carriers.push(r.device);
    if (r.nat !== undefined && !natted.includes(r.device)) natted.push(r.device);
  }
  const carried =
    carriers.length === 0
      ? ""
      : `, carried as WireGuard messages by ${joinAnd(carriers.map((d) => (natted.includes(d) ? `${d} (NAT)` : d)))}`;
  const relayed = relays.length === 0 ? "" : `, decrypted and encrypted again at ${joinAnd(relays)}`;
  return `; through the VPN ${joinAnd(vpns)}: encrypted between ${joinAnd(ends)}${relayed}${carried}`;
}

/** The pair's relation in the document's terms, from the model. */
/** `isRouted`: the exchange went through a router, so the two ends are not on one segment. */
function relation(src: VmEndpoint, dst: TraceTarget, isRouted: boolean): string {
  if (dst.kind === "gateway") return `to the gateway ${formatIpv4(dst.ip)} on ${dst.switch}`;
  if (dst.kind === "address") return `to ${formatIpv4(dst.ip)}`;
  const sameServer = src.server === dst.server;
  const servers = sameServer ? "same server" : "different servers";
  const a = src.attachment;
  const b = dst.attachment;
  if (a.kind === "vf" && b.kind === "vf") {
    if (sameServer && a.nic === b.nic) return "VF to VF on the same NIC";
    return sameServer ? "VF to VF on different NICs, same server" : "VF to VF, different servers";
  }
  if (a.kind === "vf" || b.kind === "vf") {
    const pg = a.kind === "portGroup" ? a : (b as AttachmentInfo & { kind: "portGroup" });
    const dir = a.kind === "vf" ? "VF to vswitch port group" : "vswitch port group to VF";
    return `${dir} ${pg.portGroup}, ${servers}`;
  }
  if (a.kind === "portGroup" && b.kind === "portGroup") {
    // An overlay segment is its VNI: port groups of one VNI on any hosts are one network, and
    // two VNIs are two networks whatever their names or subnets.
    const aVni = a.vni ?? null;
    const bVni = b.vni ?? null;
    if (aVni !== null || bVni !== null) {
      if (aVni === bVni) return `same VXLAN segment (VNI ${aVni}), ${servers}`;
      const seg = (v: number | null, pg: string) => (v === null ? `port group ${pg}` : `VNI ${v}`);
      return `different segments (${seg(aVni, a.portGroup)} and ${seg(bVni, b.portGroup)}), ${servers}`;
    }
    // On one server a port group is one object (its vswitch and name); across servers, port
    // groups of the same name and VLAN are one network, as vSphere treats a port group defined
    // alike on every host.
    // A routed exchange between two alike-named port groups on different servers is between two
    // networks (two sites that both call their LAN "lan" in VLAN 10), not one.
    const samePortGroup = sameServer
      ? a.vswitch === b.vswitch && a.portGroup === b.portGroup
      : a.portGroup === b.portGroup && a.vlan === b.vlan && !isRouted;
    if (!samePortGroup && sameServer && a.portGroup === b.portGroup) {
      return `different port groups (${a.portGroup} on ${a.vswitch} and ${b.portGroup} on ${b.vswitch}), same server`;
    }
    // Two port groups of one VLAN on one vswitch are one broadcast domain there (vSphere switches
    // them locally); untagged port groups share the untagged segment.
    if (!samePortGroup && isOneSegment(src, dst)) {
      const what = a.vlan === 0 ? "both untagged" : `both VLAN ${a.vlan}`;
      const seg = a.vlan === 0 ? "the same untagged segment" : "the same VLAN";
      return `different port groups in ${seg} (${a.portGroup} and ${b.portGroup}, ${what} on ${a.vswitch}), same server`;
    }
    return `${samePortGroup ? "same port group" : "different port groups"}, ${servers}`;
  }
  return servers;
}

/** Two port groups of one vswitch in one VLAN (both untagged included): one segment there. */
function isOneSegment(src: VmEndpoint, dst: TraceTarget): boolean {
  if (dst.kind !== "vm" || src.server !== dst.server) return false;
  const a = src.attachment;
  const b = dst.attachment;
  return (
    a.kind === "portGroup" &&
    b.kind === "portGroup" &&
    (a.vni ?? null) === null &&
    (b.vni ?? null) === null &&
    a.vswitch === b.vswitch &&
    a.vlan === b.vlan
  );
}

/** What the exchange's path went through, as `pathPhrase` words it. */
interface PathFacts {
  crosses: boolean;
  /** Every physical switch and gateway crossed, in order of first use. */
  physical: string[];
  /** Those of them that handled the exchange's own frames (not only a tunnel's outer packets). */
  inner: string[];
  /** Gateways that routed the exchange's own packets. */
  gateways: string[];
  /** Physical devices that only carried a tunnel's outer packets. */
  carriers: string[];
  sawVswitch: boolean;
  /** The VXLAN tunnel ends of the echo (source side first), when it went through one. */
  vteps: VtepEnd[];
}

/** A VXLAN tunnel end: a host's vswitch VTEP or a switch's hardware VTEP. */
interface VtepEnd {
  device: string;
  isHardware: boolean;
}

function pathPhrase(
  src: VmEndpoint,
  dst: TraceTarget,
  path: PathFacts,
  gwSwitch: (device: string) => string,
): string {
  const { physical, inner, gateways, sawVswitch } = path;
  if (!path.crosses) {
    if (
      dst.kind === "vm" &&
      src.attachment.kind === "vf" &&
      dst.attachment.kind === "vf" &&
      src.server === dst.server &&
      src.attachment.nic === dst.attachment.nic &&
      !sawVswitch
    ) {
      return `stays inside ${src.server}'s ${src.attachment.nic} (SR-IOV embedded switch, no vswitch)`;
    }
    if (
      dst.kind === "vm" &&
      src.attachment.kind === "portGroup" &&
      dst.attachment.kind === "portGroup" &&
      src.attachment.portGroup !== dst.attachment.portGroup &&
      isOneSegment(src, dst)
    )
      return `switched locally by ${src.server}/${src.attachment.vswitch}, stays inside ${src.server}`;
    return `stays inside ${src.server}`;
  }
  const vni = src.attachment.kind === "portGroup" ? (src.attachment.vni ?? null) : null;
  if (
    vni !== null &&
    dst.kind === "vm" &&
    dst.attachment.kind === "portGroup" &&
    dst.attachment.vni === vni
  ) {
    // The underlay routes the outer packet between the VTEPs; the VMs' segment has no gateway.
    const by = physical.length > 0 ? `, carried by ${joinAnd(physical)}` : "";
    return `crosses the physical network inside VXLAN (VNI ${vni}) between ${vtepPhrase(path.vteps)}${by}`;
  }
  if (gateways.length > 0) {
    const gwHosts = unique(gateways.map(gwSwitch));
    const others = inner.filter((d) => !gateways.includes(d) && !gwHosts.includes(d));
    const via = `the gateway on ${joinAnd(gwHosts)}`;
    return `crosses the physical network via ${others.length > 0 ? `${joinAnd(others)} and ${via}` : via}`;
  }
  if (inner.length > 0) return `crosses the physical network via ${joinAnd(inner)}`;
  // Only a tunnel's carriers between the ends: the tunnel's own phrase names them.
  if (physical.length > 0) return "crosses the physical network";
  return "crosses the physical network (a direct cable)";
}

/** "the host VTEPs of hv-a and hv-b", "leaf-2's hardware VTEP and hv-a's host VTEP". */
function vtepPhrase(vteps: VtepEnd[]): string {
  const name = (v: VtepEnd) => (v.isHardware ? v.device : v.device.split("/")[0]);
  const type = (v: VtepEnd) => (v.isHardware ? "hardware" : "host");
  if (vteps.length === 0) return "the VTEPs";
  if (vteps.length === 1) return `${name(vteps[0])}'s ${type(vteps[0])} VTEP and another`;
  const [a, b] = vteps;
  if (type(a) === type(b)) return `the ${type(a)} VTEPs of ${name(a)} and ${name(b)}`;
  return `${name(a)}'s ${type(a)} VTEP and ${name(b)}'s ${type(b)} VTEP`;
}

/**
 * The two VXLAN tunnel ends of the echo: the VTEP that encapsulated the request and the one that
 * encapsulated the reply (a flooded request may reach other VTEPs; the reply comes from the one
 * in front of the target), else the one that decapsulated the request.
 */
function vxlanEnds(records: readonly HopRecord[], kindOf: (id: number) => FrameKind): VtepEnd[] {
  const isVxlan = (r: HopRecord, step: "encapsulate" | "decapsulate") =>
    r.encap?.type === "vxlan" && r.encap.step === step;
  const end = (r: HopRecord | undefined): VtepEnd | null =>
    r === undefined ? null : { device: r.device, isHardware: r.encap?.bridgedVlan !== undefined };
  const request = records.filter((r) => kindOf(r.frameId) === "echo-request");
  const reply = records.filter((r) => kindOf(r.frameId) === "echo-reply");
  const from = end(request.find((r) => isVxlan(r, "encapsulate")));
  const to =
    end(reply.find((r) => isVxlan(r, "encapsulate"))) ?? end(request.find((r) => isVxlan(r, "decapsulate")));
  return [from, to].filter((v): v is VtepEnd => v !== null);
}

/**
 * The records of the path that are about a tunnel's outer packet, not the exchange's own frame:
 * a route a router recorded as carrying a tunnel, and a switch's or gateway's decision on a frame
 * that came in, or went out, on a cable that carried it encapsulated. A tunnel end's own
 * decisions (encapsulate, decapsulate, the bridging into and out of the tunnel) are inner.
 */
function outerRecords(records: readonly HopRecord[]): Set<HopRecord> {
  const outer = new Set<HopRecord>();
  const isCarried = (r: HopRecord) => r.encap?.step === "carried";
  // A device records its decision before the cable's record at the same instant
  // (`decisionsFirst`), and a cable's record names the ends as "device:port".
  const lastInto = new Map<string, HopRecord>();
  const outOf = new Map<string, HopRecord>();
  for (const l of records) {
    if (isLinkRecord(l) && l.in !== null) outOf.set(`${l.frameId} ${l.timeNs} ${l.in}`, l);
  }
  for (const r of records) {
    if (isLinkRecord(r)) {
      if (r.out !== null) lastInto.set(`${r.frameId} ${r.out}`, r);
      continue;
    }
    if (r.kind !== "switch" && r.kind !== "gateway") continue;
    if (r.encap !== undefined) {
      if (isCarried(r)) outer.add(r);
      continue;
    }
    const ingress = r.in === null ? undefined : lastInto.get(`${r.frameId} ${r.device}:${r.in}`);
    const egress = (r.out ?? "")
      .split(",")
      .map((p) => outOf.get(`${r.frameId} ${r.timeNs} ${r.device}:${p}`))
      .find((l) => l !== undefined && isCarried(l));
    if ((ingress !== undefined && isCarried(ingress)) || egress !== undefined) outer.add(r);
  }
  return outer;
}

/** Drop codes that are a device doing its job on a flooded copy, never why an exchange failed. */
const FLOOD_REFUSALS: ReadonlySet<string> = new Set([
  VswitchDrop.reflectedBroadcast,
  VswitchDrop.sameSegment,
  VswitchDrop.notForThisVnic,
]);

/**
 * Why an exchange failed, most telling first: a drop by a switching or routing device (the echo's
 * before ARP's), an ARP request nobody answered, the ICMP error that came back, then drops in
 * guests (which also refuse, rightly, every flooded copy not meant for them).
 */
function failureCause(
  records: readonly HopRecord[],
  kindOf: (id: number) => FrameKind,
  labels: ReadonlyMap<number, FrameLabel>,
  icmpError: string | null,
): TraceFailure {
  // Guests, and a gateway's own stack, refuse every broadcast ARP request not for them: that is
  // receiving a flood, not a cause.
  // So does a vswitch refusing the flooded copies it must refuse (its own broadcast reflected back
  // on another uplink, a copy for a MAC behind the port it came in on, a unicast copy not for a
  // non-promiscuous vNIC).
  const isGuest = (r: HopRecord) =>
    r.kind === "vm" ||
    r.kind === "vnic" ||
    (r.kind === "gateway" && kindOf(r.frameId) === "arp-request") ||
    (r.code !== undefined && FLOOD_REFUSALS.has(r.code));
  const drops = records.filter((r) => r.action === "drop");
  // The devices' own control frames (a LACPDU refused, a BPDU) share the trace's time window
  // but are never the probe's: its failure is the fate of its own frames.
  const network = drops.filter((r) => !isGuest(r) && kindOf(r.frameId) !== "control");
  const pick =
    network.filter((r) => ECHO.has(kindOf(r.frameId))).at(-1) ??
    network.filter((r) => ARP.has(kindOf(r.frameId))).at(-1) ??
    network.at(-1);
  if (pick !== undefined) return dropFailure(pick);
  const hasArpReply = records.some((r) => kindOf(r.frameId) === "arp-reply");
  const hasEchoOnWire = records.some((r) => kindOf(r.frameId) === "echo-request" && r.action === "transmit");
  if (!hasArpReply && !hasEchoOnWire) {
    const ask = records.find((r) => kindOf(r.frameId) === "arp-request");
    const text = ask === undefined ? undefined : labels.get(ask.frameId)?.text;
    const why = text === undefined ? "no ARP reply" : `no ARP reply (nobody answered "${text}")`;
    return { text: why, device: null, code: null };
  }
  if (icmpError !== null) return { text: icmpError, device: null, code: null };
  const guest = drops.filter((r) => ECHO.has(kindOf(r.frameId))).at(-1);
  if (guest !== undefined) return dropFailure(guest);
  return { text: "no echo reply came back", device: null, code: null };
}

function dropFailure(r: HopRecord): TraceFailure {
  return { text: `dropped at ${r.device}: ${dropReason(r)}`, device: r.device, code: r.code ?? null };
}

/** A drop record's reason without the "dropped: " its device already put in front. */
function dropReason(r: HopRecord): string {
  return r.reason.startsWith("dropped: ") ? r.reason.slice("dropped: ".length) : r.reason;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function joinAnd(xs: string[]): string {
  if (xs.length <= 1) return xs.join("");
  return `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`;
}

/** Above this many hops, the text form leaves out bystander guests' handling of flooded frames. */
export const TEXT_HOP_LIMIT = 200;

/**
 * True for a hop in which a guest other than the two ends merely received, or refused, a
 * flooded copy (a broadcast ARP request reaching every VM of the VLAN), or a VM connection
 * carried such a copy to it. In a VLAN of thousands of VMs these are nearly all the hops.
 */
function isBystanderHop(h: TraceHop, ends: readonly string[]): boolean {
  const isEnd = (name: string) => ends.includes(name);
  if (h.kind === "vm" || h.kind === "vnic") {
    if (h.device.includes("<->")) {
      // A VM connection: the VM's end is the one without a "/" (the other is server/vswitch:port).
      const vmEnd = h.device.split("<->").find((e) => !e.includes("/")) ?? "";
      return !isEnd(vmEnd.split(":")[0]) && h.action === "transmit" && h.out === vmEnd;
    }
    return !isEnd(h.device) && (h.action === "receive" || h.action === "drop");
  }
  if (h.kind === "vf" && h.device.includes("<->")) {
    const vmEnd = h.device.split("<->").find((e) => !e.includes("/")) ?? "";
    return !isEnd(vmEnd.split(":")[0]) && h.action === "transmit" && h.out === vmEnd;
  }
  return false;
}

/**
 * The text form of a trace: numbered hops grouped by frame, then the verdict. A trace longer
 * than `TEXT_HOP_LIMIT` hops (a flood through a large VLAN) leaves out the bystander guests'
 * hops and the flooded ARP request's hops at devices the echo never crossed, and says how many;
 * `--json` always lists every hop.
 */
export function formatTrace(t: TraceResult): string {
  const lines: string[] = [];
  lines.push(`trace ${t.from} -> ${t.to} (${t.toIp})`);
  const ends = [t.from, t.to];
  const isLong = t.hops.length > TEXT_HOP_LIMIT;
  // In a long trace, a flooded ARP request is shown only where the echo itself went.
  const echoPath = new Set(t.hops.filter((h) => h.frame.startsWith("ICMP")).map((h) => h.device));
  const isOffPathFlood = (h: TraceHop) =>
    echoPath.size > 0 && h.frame.startsWith("ARP request") && !echoPath.has(h.device);
  let hidden = 0;
  const width = Math.max(3, String(t.hops.length).length);
  let lastFrame = "";
  let n = 0;
  for (const h of t.hops) {
    n++;
    if (isLong && (isBystanderHop(h, ends) || isOffPathFlood(h))) {
      hidden++;
      continue;
    }
    if (h.frame !== lastFrame) {
      lines.push(`  ${h.frame}`);
      lastFrame = h.frame;
    }
    const ports = `${h.in ?? "-"} -> ${h.out ?? "-"}`;
    const vlan = h.vlan === null ? "" : ` vlan ${h.vlan}`;
    lines.push(
      `  ${String(n).padStart(width)}  +${fmtTime(h.timeNs - t.startNs).padEnd(9)}  ${h.device} [${h.kind}] ${ports}${vlan}: ${h.action}, ${h.reason}`,
    );
  }
  if (hidden > 0) {
    lines.push(
      `  (${hidden} of ${t.hops.length} hops not shown: flooded copies away from the echo's path and other VMs refusing them; --json lists every hop)`,
    );
  }
  lines.push("");
  lines.push(
    `delivered: ${t.delivered ? "yes" : "no"}${t.rttNs !== null ? ` (rtt ${fmtTime(t.rttNs)})` : ""}`,
  );
  lines.push(
    `crosses the physical network: ${t.crossesPhysicalNetwork ? "yes" : "no"}${t.physicalDevices.length > 0 ? ` (${t.physicalDevices.join(", ")})` : ""}`,
  );
  lines.push(`verdict: ${t.verdict}`);
  return `${lines.join("\n")}\n`;
}

/** Simulated time for people: ns below 10 us, then us, then ms. */
export function fmtTime(ns: number): string {
  if (ns < 10_000) return `${Math.round(ns)}ns`;
  if (ns < 10_000_000) return `${(ns / 1000).toFixed(1)}us`;
  return `${(ns / 1e6).toFixed(3)}ms`;
}
