/**
 * The facade every front end uses (the `vnet` commands now, a browser UI later): load a topology,
 * build it into a simulated world, and ask it questions: ping, trace (every hop and the
 * verdict of the source document's rules), pingall, show (MAC tables, ARP caches, ports,
 * counters), captures. It holds no forwarding logic: the devices forward, the world carries,
 * `src/analysis/` reasons about what was observed.
 *
 * Browser-safe: topology text comes in (`Network.fromText`), answers and encoded captures come
 * out as data; reading and writing files is the Node entry's business (`src/node.ts`).
 */

import { type FrameLabel, labelFrame } from "./analysis/frame-label.ts";
import { planReach } from "./analysis/reach.ts";
import {
  analyseTrace,
  type TraceFailure,
  type TraceResult,
  type TraceTarget,
  type VmEndpoint,
} from "./analysis/trace.ts";
import type { Device } from "./dataplane/device.ts";
import type { SendError, PingResult as StackPingResult } from "./dataplane/ip-host.ts";
import type { LacpMemberStatus } from "./dataplane/lacp.ts";
import { PhysicalSwitch } from "./dataplane/switch.ts";
import { sortTimeline, type TimelineEvent } from "./dataplane/timeline.ts";
import type { HopRecord } from "./dataplane/trace.ts";
import {
  TRACEROUTE_DEFAULTS as STACK_TRACEROUTE,
  type TracerouteResult as StackTracerouteResult,
} from "./dataplane/traceroute.ts";
import { Vswitch } from "./dataplane/vswitch.ts";
import { formatDiagnostic } from "./model/diagnostics.ts";
import { type LoadResult, loadTopologyText } from "./model/load-text.ts";
import { closest } from "./model/suggest.ts";
import type { FaultSpec, Topology } from "./model/types.ts";
import { type BuiltNetwork, buildWorld, type VmHandle } from "./sim/build.ts";
import { type CaptureFile, type CaptureOptions, CaptureSet } from "./sim/capture.ts";
import type { Link } from "./sim/link.ts";
import { Rng } from "./sim/rng.ts";
import { timelineWatch } from "./sim/timeline-watch.ts";
import { keyToBase64 } from "./vpn/keys.ts";
import { formatIpv4, formatMac, tryParseIpv4 } from "./wire/addr.ts";
import { IPV4_HEADER_LEN } from "./wire/ipv4.ts";
import { formatLacpState } from "./wire/lacp.ts";
import { UDP_HEADER_LEN } from "./wire/udp.ts";

/**
 * "; did you mean X?" for a misspelt name, or the known names when there are few; never a list
 * of thousands.
 */
function suggestion(name: string, known: readonly string[]): string {
  const near = closest(name, known);
  if (near !== undefined) return `; did you mean "${near}"?`;
  if (known.length === 0) return " (there are none)";
  if (known.length <= 12) return `; known: ${known.join(", ")}`;
  return ` (${known.length} known, e.g. ${known.slice(0, 3).join(", ")})`;
}

export class NetworkError extends Error {
  override readonly name = "NetworkError";
  constructor(
    readonly code:
      | "unknown-vm"
      | "unknown-link"
      | "unknown-device"
      | "bad-target"
      | "no-address"
      | "too-large"
      | "bad-run"
      | "bad-option",
    message: string,
  ) {
    super(message);
  }
}

export interface NetworkOptions {
  seed?: number;
  /**
   * Whether devices announce themselves when the network starts (every VM and gateway sends a
   * gratuitous ARP, flooded through its VLAN). Default: yes up to `QUIET_START_ABOVE_VMS` VMs;
   * above that the boot announcements would be a broadcast storm of (VMs x VLAN size) frames,
   * so a large network starts quietly and its switches learn from the traffic asked of them.
   */
  isAnnouncing?: boolean;
}

/** Above this many VMs a network starts without boot announcements (see `NetworkOptions`). */
export const QUIET_START_ABOVE_VMS = 1000;

export interface PingOptions {
  count?: number;
  intervalMs?: number;
  sizeBytes?: number;
  /** How long to wait for the last reply, in ms of simulated time (ping's -W). */
  timeoutMs?: number;
}

export type PingEvent =
  | { kind: "reply"; seq: number; bytes: number; ttl: number; rttNs: number; timeNs: number }
  | { kind: "error"; seq: number; fromIp: string; message: string; timeNs: number };

export interface PingResult {
  from: string;
  to: string;
  toIp: string;
  sizeBytes: number;
  transmitted: number;
  received: number;
  errors: number;
  lossPercent: number;
  durationNs: number;
  /** Why the VM could not send at all ("Network is unreachable"), as ping says it; else null. */
  sendError: string | null;
  rtt: { minNs: number; avgNs: number; maxNs: number; mdevNs: number } | null;
  events: PingEvent[];
}

/** One probe of `Network.mtu`: its IPv4 size and what became of it. */
export interface MtuStep {
  sizeBytes: number;
  outcome: "delivered" | "frag-needed" | "black-hole";
  text: string;
}

/** The last (delivered) probe's frame on one cable: its size and the layers around the packet. */
export interface MtuHop {
  link: string;
  frameBytes: number;
  /** What the layers add, outermost first ("Ethernet 14 + 802.1Q 4"). */
  layers: string;
}

export interface MtuResult {
  from: string;
  to: string;
  toIp: string;
  /** The largest IPv4 packet that crosses unfragmented, or null when none got through. */
  pathMtu: number | null;
  steps: MtuStep[];
  hops: MtuHop[];
  failure: string | null;
}

/** Options of `Network.traceroute`: traceroute(8)'s -m, -q and -w. */
export interface TraceOptions {
  /**
   * Keep a copy of the bytes of the frame on every link hop (`TraceHop.bytes`), for a viewer that
   * opens each frame's layers (the web UI). Off by default: a trace through a large VLAN floods
   * thousands of copies.
   */
  withBytes?: boolean;
}

export interface TracerouteOptions {
  /** Highest TTL tried (-m), 1..255; default 30. */
  maxHops?: number;
  /** Probes per TTL (-q), 1..10; default 3. */
  probesPerHop?: number;
  /** How long a probe waits for its answer (-w), in ns of simulated time; default 5 s. */
  waitNs?: number;
}

/** One probe of a traceroute hop. */
export interface TracerouteProbe {
  /** Who answered, or null when nothing did within the wait (traceroute's `*`). */
  address: string | null;
  /** The device `address` belongs to when vnet knows it (a VM's vNIC, a switch's SVI), else null. */
  name: string | null;
  /** Round-trip time in ns of simulated time; null without an answer. */
  rttNs: number | null;
  /** "" for a plain answer, else traceroute's annotation: "!H", "!N", "!P", "!F", "!X". */
  annotation: string;
}

export interface TracerouteHop {
  ttl: number;
  probes: TracerouteProbe[];
}

export interface TracerouteResult {
  from: string;
  /** The destination as given, its address, and the device that address belongs to (or null). */
  to: string;
  toIp: string;
  toName: string | null;
  maxHops: number;
  probesPerHop: number;
  /** Size of each probe's IPv4 packet (traceroute's "60 byte packets"). */
  packetBytes: number;
  /** One entry per TTL tried, in order. */
  hops: TracerouteHop[];
  /** Whether the destination itself answered (ICMP port unreachable from its address). */
  isReached: boolean;
  /** Why the VM could not send at all ("Network is unreachable"); then `hops` is empty. */
  sendError: string | null;
  /** Simulated time from the first probe to the end of the trace. */
  durationNs: number;
}

/** Largest `maxHops` (traceroute's own limit) and `probesPerHop` (likewise) `traceroute` takes. */
export const TRACEROUTE_MAX_HOPS = 255;
export const TRACEROUTE_MAX_PROBES = 10;

export interface ReachOptions {
  /** After the class probes, ping this many random pairs and compare with their classes. */
  verify?: number;
  /** Called after each class probe with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface ReachClassResult {
  /** Source and target VM class ids, and the placement id (see `ReachResult`). */
  from: number;
  to: number;
  placement: number;
  /** Ordered VM pairs this class stands for. */
  pairs: number;
  delivered: boolean;
  /** The probe's verdict: the forwarding rule, or where and why it was refused. */
  verdict: string;
  failure: TraceFailure | null;
  /** The pair that was probed for the class. */
  probe: { from: string; to: string };
}

export interface ReachResult {
  vms: number;
  /** Ordered VM pairs answered (n(n-1)). */
  pairs: number;
  deliveredPairs: number;
  refusedPairs: number;
  classes: {
    id: number;
    label: string;
    vms: number;
    servers: number;
    exampleServer: string;
    example: string;
  }[];
  placements: { id: number; text: string }[];
  /** One entry per pair class, in (from, to, placement) order. */
  results: ReachClassResult[];
  /** With `verify`: how many random pairs were pinged, and those whose outcome differed. */
  verified: {
    pairs: number;
    disagreements: { from: string; to: string; expected: boolean; observed: boolean }[];
  } | null;
  /** The class answer for one ordered pair of VMs (names). */
  isDelivered(from: string, to: string): boolean;
}

export interface PingAllOptions {
  /** Only these VMs send (each to every other VM). */
  from?: string[];
  /** Instead of every pair, this many distinct pairs drawn from the run's seed. */
  sample?: number;
  /** Instead of every pair, exactly these ordered pairs (VM names). */
  pairs?: readonly (readonly [string, string])[];
  /** Echoes one sender keeps in flight (default `PINGALL_WINDOW`). */
  window?: number;
  /** Every pair even above `MAX_PINGALL_VMS` (2,000 VMs: about 10 minutes here). */
  isUnlimited?: boolean;
  /** Called every 1,024 answered echoes with (answered, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Ordered pairs without repeats, in the order first given. */
function uniquePairs(pairs: [number, number][], n: number): [number, number][] {
  const seen = new Set<number>();
  return pairs.filter(([i, j]) => {
    const k = i * n + j;
    if (i === j || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** What pingall itself learnt of a failed pair before tracing it. */
type PingAllKnown = { kind: "send"; text: string; code: string } | { kind: "icmp"; text: string };

export interface PingAllFailure {
  from: string;
  to: string;
  /** Why, in words: the drop and who refused it, an ICMP error, or why nothing was sent. */
  why: string;
  /** The device that refused the exchange and the counter its drop went under, when known. */
  device: string | null;
  code: string | null;
  /** True when `why` comes from tracing the pair again on its own after the pingall. */
  retraced: boolean;
}

export interface PingAllResult {
  /** Every VM in file order (the matrix's columns). */
  vms: string[];
  /** The VMs that sent, in file order (the matrix's rows). */
  senders: string[];
  /**
   * matrix[r][j]: senders[r] reached vms[j] (true on the diagonal; null where vms[j] has no
   * address). Null for a sampled run, whose pairs are listed only when they fail.
   */
  matrix: (boolean | null)[][] | null;
  pairs: number;
  received: number;
  lossPercent: number;
  failures: PingAllFailure[];
}

export const SHOW_WHATS = [
  "fdb",
  "arp",
  "ports",
  "counters",
  "lacp",
  "teaming",
  "mlag",
  "stp",
  "vpn",
  "nat",
] as const;
export type ShowWhat = (typeof SHOW_WHATS)[number];

/**
 * Largest network `pingAll` runs in full: n(n-1) echoes, one sender at a time, and every ARP
 * request flooded through its VLAN (300 VMs: 4 s here; 2,000 VMs: 11 minutes).
 */
export const MAX_PINGALL_VMS = 500;
/** Echoes one pingall sender keeps in flight (a guest queues 101 packets per unresolved neighbour). */
export const PINGALL_WINDOW = 8;
/** Failed pairs that pingall traces again to name what refused them. */
export const PINGALL_TRACED_FAILURES = 50;

export interface RunOptions {
  /** Simulated time to run, in ns; default the last fault + 2 s (2 s without faults). */
  durationNs?: number;
  /** Ordered VM pairs (names) that each send one echo every interval; default: see `run`. */
  probes?: readonly (readonly [string, string])[];
  /** Time between two echoes of a probe, in ns (default 10 ms). */
  intervalNs?: number;
  /** How long an echo may take before it counts as lost, in ns (default 1 s). */
  probeTimeoutNs?: number;
  /** The schedule to play; default the topology's `faults:`. */
  faults?: readonly FaultSpec[];
}

/** A run of consecutive lost echoes of one probe. */
export interface ProbeLoss {
  /** Send time of the first lost echo and of the first echo after the last lost one (ns from the start). */
  fromNs: number;
  toNs: number;
  lost: number;
  /** Of `lost`, the echoes never sent: their source VM was failed (powered off) at their time. */
  notSent: number;
  firstSeq: number;
  lastSeq: number;
}

/** The fate of one echo of a `run` probe (0: no answer yet). */
const ECHO_REPLIED = 1;
const ECHO_LOST = 2;
const ECHO_NOT_SENT = 3;

export interface ProbeResult {
  from: string;
  to: string;
  /** Echoes the probe was to send (one per interval), `notSent` included. */
  sent: number;
  lost: number;
  /** Of `lost`, the echoes never sent because their source VM was failed. */
  notSent: number;
  /** Every run of consecutive losses, in time order. */
  losses: ProbeLoss[];
}

export interface RunResult {
  durationNs: number;
  intervalNs: number;
  probeTimeoutNs: number;
  /** True when the probes were chosen by vnet (no `probes` given). */
  isDefaultProbes: boolean;
  /** Faults applied, and those scheduled at or after the end (not applied). */
  faultsApplied: number;
  faultsAfterEnd: number;
  /** Faults, carrier changes, failovers, flushes, ..., in time order, times from the start. */
  timeline: TimelineEvent[];
  probes: ProbeResult[];
}

export interface ReachChangeOptions {
  /** Pairs listed per change (default `REACH_CHANGE_LISTED`); the count is always exact. */
  listPairs?: number;
  /** Called after each class probe with the phase ("before", "after"), done and total. */
  onProgress?: (phase: string, done: number, total: number) => void;
}

/** Pairs of alike VMs whose reachability changed the same way. */
export interface ReachChange {
  /** Ordered VM pairs in it. */
  pairs: number;
  /** The VM classes of the pairs (labels as `reach` prints them). */
  fromClass: string;
  toClass: string;
  /** How the probe went before the failure and after it (the path, or where and why it stopped). */
  before: string;
  after: string;
  /** The first few pairs (see `ReachChangeOptions.listPairs`). */
  examples: { from: string; to: string }[];
}

export interface ReachChangeResult {
  /** What was failed, as given, and in words ("switch tor1 (3 cables)"), with its connections. */
  target: string;
  failed: string;
  connections: string[];
  /** Ordered VM pairs, and those delivered before and after the failure. */
  pairs: number;
  deliveredBefore: number;
  deliveredAfter: number;
  /** Pairs that were delivered and are not (`lost`), or the reverse (`gained`), by kind of pair. */
  lostPairs: number;
  gainedPairs: number;
  lost: ReachChange[];
  gained: ReachChange[];
}

/** Pairs `reachChange` lists per change by default. */
export const REACH_CHANGE_LISTED = 20;

/** The most echoes one probe sends in a run (sequence numbers are 16 bits; output stays readable). */
export const MAX_ECHOES_PER_PROBE = 10_000;
/** The most probes one run takes. */
export const MAX_PROBES = 64;
/** Default probes vnet picks when none are given (see `Network.run`). */
export const DEFAULT_PROBE_COUNT = 8;

/** What a fault target stands for: the connections it takes down, and in words. */
interface FaultTarget {
  links: Link[];
  /**
   * What a `fail` powers off (a switch; a server's NICs, vswitches and VMs; a VM), and the
   * connections inside a server that go down with it (vNICs, the NICs' PFs and VFs). Empty
   * for a cable.
   */
  devices: Device[];
  internalLinks: Link[];
  /** "cable server1:eth0<->tor1:eth1", "switch tor1 (3 cables)". */
  text: string;
}

/** What a fault names: a cable end "node:port" or a device. */
export function faultTargetName(f: FaultSpec): string {
  return "end" in f ? `${f.end.node}:${f.end.port}` : f.device;
}

/** "10ms", "2s", "1.5s", "250us": a duration as `--for` and `--interval` take it. */
export function formatDuration(ns: number): string {
  if (ns >= 1e9 && ns % 1e6 === 0) return `${ns / 1e9}s`;
  if (ns >= 1e6 && ns % 1e3 === 0) return `${ns / 1e6}ms`;
  if (ns >= 1e3) return `${ns / 1e3}us`;
  return `${ns}ns`;
}

/** What ping prints when the stack refuses to send. */
export function sendErrorText(code: SendError): string {
  switch (code) {
    case "no-route":
      return "Network is unreachable";
    case "bad-size":
      return "Invalid argument (packet size)";
    case "bad-port":
      return "Invalid argument (port)";
  }
}

/** Simulated time given to start-up traffic before the network answers questions. */
const STARTUP_NS = 1e6;
/** Start-up time given to link protocols before the first question (see the constructor). */
const PROTOCOL_STARTUP_NS = 1.5e9;

/** Whether the topology runs LACP, MLAG or spanning tree, which need time to converge. */
function hasLinkProtocols(t: Topology): boolean {
  return (
    (t.mlag?.length ?? 0) > 0 ||
    t.switches.some((s) => s.stp !== null || s.lags.some((l) => l.lacp !== "off")) ||
    t.servers.some((s) => s.vswitches.some((v) => v.teaming.policy === "lacp"))
  );
}

/** Simulated time a pingall or trace is allowed for ARP plus the echo (generous; links are us). */
const EXCHANGE_TIMEOUT_NS = 5e9;
/** After an exchange completes, flooded copies still in flight are given this long to land. */
const GRACE_NS = 1e6;

export class Network {
  readonly topology: Topology;
  readonly seed: number;
  readonly warnings: string[];
  private built: BuiltNetwork;
  private captureSet: CaptureSet | null = null;
  private nextEchoId = 1;

  private constructor(topology: Topology, options: NetworkOptions, warnings: string[], built?: BuiltNetwork) {
    this.topology = topology;
    this.seed = options.seed ?? 1;
    this.warnings = warnings;
    if (built !== undefined) {
      // A world someone else runs (the real-time world of a lab): answer questions about it.
      this.built = built;
      return;
    }
    this.built = buildWorld(topology, { seed: this.seed });
    const isAnnouncing = options.isAnnouncing ?? this.built.vms.size <= QUIET_START_ABOVE_VMS;
    if (isAnnouncing) this.built.world.start();
    else this.built.world.startQuietly();
    // Let the start-up announcements (gratuitous ARP) pass, so that what is asked next is not
    // mixed with them. Link protocols (LACP, MLAG, RSTP) get longer: LACP may send only 3 PDUs a
    // second (IEEE 802.1AX §6.4.16), so a LAG can take up to a second to form.
    this.world.runFor(hasLinkProtocols(topology) ? PROTOCOL_STARTUP_NS : STARTUP_NS);
  }

  /**
   * Validates topology text (YAML) and builds it; a broken file throws the loader's
   * `TopologyError` with every `file:line:col` diagnostic, and nothing is built. `sourceName` is
   * the file name the diagnostics carry. Reading a file from disk is the Node entry's
   * `loadNetwork` (`src/node.ts`), so this module stays browser-safe.
   */
  static fromText(text: string, sourceName = "topology.yaml", options: NetworkOptions = {}): Network {
    return Network.fromLoaded(loadTopologyText(text, sourceName), options);
  }

  /** Builds what the loader returned; its warnings become `warnings` (formatted lines). */
  static fromLoaded(loaded: LoadResult, options: NetworkOptions = {}): Network {
    return new Network(loaded.topology, options, loaded.warnings.map(formatDiagnostic));
  }

  /** How tables name a device's kind: a standalone router is built as a switch but is a router. */
  private kindOf(d: Device): string {
    return d.kind === "switch" && this.routerNames.has(d.name) ? "router" : d.kind;
  }

  private get routerNames(): ReadonlySet<string> {
    this.routers ??= new Set(this.topology.switches.filter((s) => s.isRouter).map((s) => s.name));
    return this.routers;
  }

  private routers: Set<string> | undefined;

  /**
   * The facade over a world built and run elsewhere (a lab's real-time world, whose VMs are
   * namespaces): `show` and the tables answer from its live devices. Nothing is started or run.
   */
  static over(topology: Topology, built: BuiltNetwork, options: NetworkOptions = {}): Network {
    return new Network(topology, options, [], built);
  }

  /** Builds an already loaded (normalized) topology. */
  static fromTopology(topology: Topology, options: NetworkOptions = {}): Network {
    return new Network(topology, options, []);
  }

  get world() {
    return this.built.world;
  }

  /** Names of the VMs in file order. */
  vmNames(): string[] {
    return [...this.built.vms.keys()];
  }

  /** Records every frame at every link end from now on (see `captures`). */
  startCaptures(): void {
    if (this.captureSet === null) {
      this.captureSet = new CaptureSet(this.world);
      this.world.setCaptures(this.captureSet);
    }
  }

  /**
   * The captures so far (after `startCaptures`): one pcapng, `vnet.pcapng`, with an interface
   * per link end that carried traffic (`device:port`) and each frame's direction, or with
   * `{ perLink: true }` one classic nanosecond pcap per link end; as file name and bytes, none
   * when nothing was captured. Simulated time 0 is the Unix epoch. The caller writes them where
   * it wants (the CLI's `--pcap DIR`, a browser's download).
   */
  captures(options: CaptureOptions = {}): CaptureFile[] {
    return this.captureSet?.encodeAll(options) ?? [];
  }

  /** Runs the world until nothing is pending (bounded), e.g. after start-up announcements. */
  settle(): void {
    this.built.world.enter();
    this.world.runFor(GRACE_NS);
  }

  /**
   * Lets `durationNs` of simulated time pass with no traffic of vnet's own: the devices' timers
   * run (keepalives, rekeys, ageing of MAC tables, ARP caches and NAT connections).
   */
  advance(durationNs: number): void {
    this.built.world.enter();
    if (!(durationNs >= 0) || !Number.isFinite(durationNs))
      throw new NetworkError("bad-option", `advance: ${durationNs} is not a time in ns`);
    this.world.runFor(durationNs);
  }

  private vm(name: string): VmHandle {
    const vm = this.built.vms.get(name);
    if (vm === undefined) {
      throw new NetworkError("unknown-vm", `no VM named "${name}"${suggestion(name, this.vmNames())}`);
    }
    return vm;
  }

  /** A target given as a VM name or an IPv4 address. */
  private target(text: string): TraceTarget {
    const ip = tryParseIpv4(text);
    if (ip === undefined) {
      const vm = this.vm(text);
      return this.endpoint(vm);
    }
    for (const vm of this.built.vms.values()) {
      if (vm.spec.nics.some((n) => n.ip === ip)) {
        const nic = vm.spec.nics.findIndex((n) => n.ip === ip);
        return this.endpoint(vm, nic);
      }
    }
    for (const sw of this.topology.switches) {
      if (sw.gateway.some((g) => g.ip === ip)) return { kind: "gateway", switch: sw.name, ip };
    }
    return { kind: "address", ip };
  }

  private endpoint(vm: VmHandle, nicIndex = 0): VmEndpoint {
    const nic = vm.spec.nics[nicIndex];
    if (nic === undefined) throw new NetworkError("no-address", `VM "${vm.spec.name}" has no NIC`);
    const a = nic.attachment;
    let attachment: VmEndpoint["attachment"];
    if (a.kind === "portGroup") {
      const server = this.topology.servers.find((s) => s.name === vm.spec.server);
      const pg = server?.vswitches
        .find((v) => v.name === a.vswitch)
        ?.portGroups.find((p) => p.name === a.portGroup);
      attachment = {
        kind: "portGroup",
        vswitch: a.vswitch,
        portGroup: a.portGroup,
        vlan: pg?.vlan ?? 0,
        vni: pg?.vni ?? null,
      };
    } else {
      attachment = { kind: "vf", nic: a.nic, vfIndex: a.vfIndex, vlan: a.vlan };
    }
    return { kind: "vm", vm: vm.spec.name, server: vm.spec.server, nic: nic.name, ip: nic.ip, attachment };
  }

  /**
   * Sends `count` echo requests from VM `from` to `to` every `intervalMs` of simulated time and
   * collects the replies (ARP is resolved by the VM's stack on the way).
   */
  ping(from: string, to: string, options: PingOptions = {}): PingResult {
    this.built.world.enter();
    const count = options.count ?? 3;
    const intervalNs = (options.intervalMs ?? 1000) * 1e6;
    const sizeBytes = options.sizeBytes ?? 56;
    const timeoutNs = (options.timeoutMs ?? 10_000) * 1e6;
    const src = this.vm(from);
    const target = this.target(to);
    const id = this.nextEchoId++ & 0xffff;
    const world = this.world;
    const t0 = world.now();
    const events: PingEvent[] = [];
    let sendError: string | null = null;
    let results = 0;
    const onResult = (r: StackPingResult) => {
      results++;
      const now = world.now();
      if (r.kind === "reply") {
        events.push({
          kind: "reply",
          seq: r.seq,
          bytes: r.sizeBytes + 8,
          ttl: r.ttl,
          rttNs: r.rttNs,
          timeNs: now,
        });
      } else if (r.kind === "error") {
        events.push({ kind: "error", seq: r.seq, fromIp: formatIpv4(r.from), message: r.text, timeNs: now });
      }
    };
    for (let i = 0; i < count; i++) {
      const seq = (i + 1) & 0xffff;
      world.scheduler.at(t0 + i * intervalNs, (now) => {
        const err = src.device.ping(target.ip, { id, seq, sizeBytes, timeoutNs }, now, onResult);
        if (err !== null) {
          results++;
          if (sendError === null) sendError = err;
        }
      });
    }
    this.runUntilDone(t0 + (count - 1) * intervalNs + timeoutNs, () => results === count);
    const rtts = events.flatMap((e) => (e.kind === "reply" ? [e.rttNs] : []));
    const received = rtts.length;
    let rtt: PingResult["rtt"] = null;
    if (received > 0) {
      const avg = rtts.reduce((a, b) => a + b, 0) / received;
      const mdev = Math.sqrt(rtts.reduce((a, b) => a + (b - avg) * (b - avg), 0) / received);
      rtt = { minNs: Math.min(...rtts), avgNs: avg, maxNs: Math.max(...rtts), mdevNs: mdev };
    }
    const lastEvent = events.length > 0 ? Math.max(...events.map((e) => e.timeNs)) : t0;
    return {
      from,
      to,
      toIp: formatIpv4(target.ip),
      sizeBytes,
      transmitted: count,
      received,
      errors: events.filter((e) => e.kind === "error").length,
      sendError: sendError === null ? null : sendErrorText(sendError),
      lossPercent: Math.round(((count - received) / count) * 1000) / 10,
      durationNs: Math.max((count - 1) * intervalNs, lastEvent - t0),
      rtt,
      events: events.sort((a, b) => a.timeNs - b.timeNs || a.seq - b.seq),
    };
  }

  /**
   * Traces one echo from `from` to `to` (a VM name or an IPv4 address): ARP resolution, the
   * request and the reply, every hop and decision, and the verdict.
   */
  /**
   * The path MTU from VM `from` to `to`, found as tracepath(8) finds it: echoes of the size the
   * guest believes fits, with DF set (the guest sets it on what fits its NIC); a router that
   * cannot forward one answers ICMP fragmentation needed with its next-hop MTU (RFC 1191), the
   * guest learns it and the next echo is that size. A link that silently drops frames above its
   * MTU (no ICMP: a black hole) is found from its drop record and reported as such. The last
   * echo's frame is then followed hop by hop: its size on every cable and what each layer adds
   * (Ethernet 14, 802.1Q 4, outer IPv4 20 + GRE 4).
   */
  mtu(from: string, to: string): MtuResult {
    this.built.world.enter();
    const src = this.vm(from);
    const target = this.target(to);
    const world = this.world;
    const steps: MtuStep[] = [];
    const out = src.device.stack.route(target.ip);
    if (out === null)
      return {
        from,
        to,
        toIp: formatIpv4(target.ip),
        pathMtu: null,
        steps,
        hops: [],
        failure: "Network is unreachable",
      };
    let size = out.iface.mtu;
    let hops: MtuHop[] = [];
    let failure: string | null = null;
    let pathMtu: number | null = null;
    for (let round = 0; round < 12 && pathMtu === null && failure === null; round++) {
      const records: HopRecord[] = [];
      world.setTraceSink((r) => records.push(r), null);
      let result: StackPingResult | null = null;
      const t0 = world.now();
      try {
        const err = src.device.ping(
          target.ip,
          { id: this.nextEchoId++ & 0xffff, seq: 1, sizeBytes: size - 28, timeoutNs: EXCHANGE_TIMEOUT_NS },
          t0,
          (r) => {
            result = r;
          },
        );
        if (err !== null) {
          failure = err === "no-route" ? "Network is unreachable" : err;
          break;
        }
        this.runUntilDone(t0 + EXCHANGE_TIMEOUT_NS, () => result !== null);
        world.runFor(GRACE_NS);
      } finally {
        world.setTraceSink(null);
      }
      const r = result as StackPingResult | null;
      if (r !== null && r.kind === "reply") {
        steps.push({ sizeBytes: size, outcome: "delivered", text: `delivered without fragmentation` });
        pathMtu = size;
        hops = this.mtuHops(records, size);
        break;
      }
      if (
        r !== null &&
        r.kind === "error" &&
        r.icmpType === 3 &&
        r.icmpCode === 4 &&
        r.mtu > 0 &&
        r.mtu < size
      ) {
        steps.push({
          sizeBytes: size,
          outcome: "frag-needed",
          text: `ICMP fragmentation needed from ${formatIpv4(r.from)}${this.ownerText(r.from)}: next-hop MTU ${r.mtu}`,
        });
        size = r.mtu;
        continue;
      }
      // A VTEP does not fragment (RFC 7348 §4.3): a frame too big to encapsulate is dropped
      // without an ICMP error, a black hole as a small link is.
      const vtep = records.find((x) => x.action === "drop" && x.code === "vxlan-too-big");
      const v = vtep?.mtu;
      if (vtep !== undefined && v !== undefined) {
        const over = v.sizeBytes - v.mtuBytes - v.allowanceBytes;
        steps.push({
          sizeBytes: size,
          outcome: "black-hole",
          text: `dropped by ${vtep.device}'s VTEP: ${v.sizeBytes} bytes once in VXLAN, over its MTU ${v.mtuBytes}, without an ICMP error (VTEPs do not fragment); ${over} bytes too many`,
        });
        size -= over;
        continue;
      }
      // A router refused the packet with DF set and answered ICMP fragmentation needed, but the
      // guest never heard: the packet it refused was a tunnel's outer packet (VXLAN, GRE), so
      // the error went to the tunnel's source, which does not relay it to the guest (RFC 7348
      // §4.3), or the error was lost on its way. For the guest, a black hole.
      const routed = records.find(
        (x) => x.action === "drop" && x.code === "frag-needed" && x.mtu !== undefined,
      );
      const rm = routed?.mtu;
      if (routed !== undefined && rm !== undefined) {
        const over = rm.sizeBytes - rm.mtuBytes;
        steps.push({
          sizeBytes: size,
          outcome: "black-hole",
          text: `dropped by ${routed.device}: ${routed.reason.replace(/^dropped: /, "")}${rm.sizeBytes > size ? ` (the echo inside a tunnel); its ICMP fragmentation needed went to the tunnel's source, not to ${from}` : `; its ICMP fragmentation needed never reached ${from}`}: a black hole for path MTU discovery; ${over} bytes too many`,
        });
        size -= over;
        continue;
      }
      const drop = records.find((x) => x.action === "drop" && x.code === "mtu-exceeded");
      const m = drop?.mtu;
      if (drop !== undefined && m !== undefined) {
        const over = m.sizeBytes - m.mtuBytes - m.allowanceBytes;
        steps.push({
          sizeBytes: size,
          outcome: "black-hole",
          text: `dropped on ${drop.device} (link MTU ${m.mtuBytes}) without an ICMP error: a black hole for path MTU discovery; ${over} bytes too many`,
        });
        size -= over;
        continue;
      }
      // No answer: say where the network dropped the echo when it did (the last refusal by a
      // switching or routing device; guests refuse flooded copies not for them).
      const refused = records.filter(
        (x) => x.action === "drop" && x.kind !== "vm" && x.kind !== "vnic" && !x.reason.includes("ARP"),
      );
      const last = refused.at(-1);
      failure =
        r !== null && r.kind === "error"
          ? `${r.text} (from ${formatIpv4(r.from)})`
          : last !== undefined
            ? `no reply to an echo of ${size} bytes: ${last.reason.replace(/^dropped: /, `dropped at ${last.device}: `)}`
            : `no reply to an echo of ${size} bytes`;
    }
    if (pathMtu === null && failure === null) failure = "path MTU not found in 12 rounds";
    return { from, to, toIp: formatIpv4(target.ip), pathMtu, steps, hops, failure };
  }

  /** " (tor1)" when vnet knows whose address `ip` is. */
  private ownerText(ip: number): string {
    const name = this.addressOwners([ip]).get(ip);
    return name === undefined ? "" : ` (${name})`;
  }

  /**
   * The echo request's frame on every cable it crossed, and what each layer added to `ipBytes`.
   * Through a VPN the echo is another frame on the internet (the WireGuard datagram its gateway
   * sent right after encrypting it) and another again after decryption: both are followed.
   */
  private mtuHops(records: readonly HopRecord[], ipBytes: number): MtuHop[] {
    const hops: MtuHop[] = [];
    let echoFrame = -1;
    let isInTunnel = false;
    let isInVxlan = false;
    /** Frames that are the echo: plaintext (false) or inside WireGuard (true). */
    const followed = new Map<number, boolean>();
    /** Gateways that just encrypted the echo (their next datagram carries it), or received it. */
    const encryptedAt = new Set<string>();
    const deliveredAt = new Set<string>();
    /** Tunnel endpoints the echo's outer packet was just delivered to (it leaves decapsulated). */
    const tunnelEndAt = new Set<string>();
    for (const r of records) {
      if (echoFrame < 0 && r.kind === "vm" && r.action === "send" && r.reason.startsWith("echo request")) {
        echoFrame = r.frameId;
        followed.set(echoFrame, false);
      }
      if (!followed.has(r.frameId)) {
        if (encryptedAt.has(r.device) && r.action === "send") {
          encryptedAt.delete(r.device);
          followed.set(r.frameId, true);
        } else if (deliveredAt.has(r.device) && r.vpn?.event === "decrypt") {
          deliveredAt.delete(r.device);
          followed.set(r.frameId, false);
        } else if (tunnelEndAt.has(r.device) && r.encap?.step === "decapsulate") {
          // A VTEP that decapsulates into a frame of its own (a switch's hardware VTEP).
          tunnelEndAt.delete(r.device);
          followed.set(r.frameId, false);
        } else continue;
      }
      if (r.action === "deliver" && r.kind !== "vm" && (isInVxlan || isInTunnel)) tunnelEndAt.add(r.device);
      const isInWireguard = followed.get(r.frameId) === true;
      if (r.vpn?.event === "encrypt" && !isInWireguard) encryptedAt.add(r.device);
      if (isInWireguard && r.action === "deliver") deliveredAt.add(r.device);
      const e = r.encap;
      if (e !== undefined && e.step !== "carried") {
        const isIn = e.step === "encapsulate";
        if (e.type === "gre") isInTunnel = isIn;
        else isInVxlan = isIn;
      }
      if (r.kind !== "link" || r.action !== "transmit" || r.frameBytes === undefined) continue;
      const bytes = r.frameBytes;
      // Outermost first: Ethernet, its tags, then an encapsulation's outer headers.
      let rest = bytes - ipBytes;
      const tunnel = isInTunnel
        ? ["outer IPv4 20 + GRE 4"]
        : isInVxlan
          ? ["outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14"]
          : [];
      if (isInTunnel) rest -= 24;
      if (isInVxlan) rest -= 50;
      if (isInWireguard) {
        // IPv4 20, UDP 8, WireGuard's header 16 and tag 16, the plaintext padded to 16.
        const padding = rest - 14 - 60 >= 0 ? (rest - 14 - 60) % 16 : 0;
        tunnel.push(`outer IPv4 20 + UDP 8 + WireGuard 32${padding > 0 ? ` + padding ${padding}` : ""}`);
        rest -= 60 + padding;
      }
      const eth = rest >= 14 ? ["Ethernet 14"] : [];
      if (rest >= 14) rest -= 14;
      const tags = rest === 4 ? ["802.1Q 4"] : rest === 8 ? ["802.1Q 4", "802.1Q 4"] : [];
      const layers = [...eth, ...tags, ...tunnel].join(" + ") || "-";
      hops.push({ link: `${r.in ?? "?"} -> ${r.out ?? "?"}`, frameBytes: bytes, layers });
    }
    return hops;
  }

  trace(from: string, to: string, options: TraceOptions = {}): TraceResult {
    this.built.world.enter();
    const src = this.vm(from);
    const target = this.target(to);
    // The source is the vNIC the guest routes the echo through (a VM with several NICs sends
    // from the one on the target's subnet), so the verdict compares the right attachments.
    const out = src.device.stack.route(target.ip);
    const source = this.endpoint(src, out === null ? 0 : Math.max(0, out.iface.index));
    const records: HopRecord[] = [];
    const labels = new Map<number, FrameLabel>();
    const world = this.world;
    // The world calls the frame hook just before the link's record: pair them.
    const bytes = new Map<HopRecord, Uint8Array>();
    let lastBytes: Uint8Array | null = null;
    world.setTraceSink(
      (r) => {
        records.push(r);
        if (lastBytes !== null) bytes.set(r, lastBytes);
        lastBytes = null;
      },
      (f) => {
        if (options.withBytes === true) lastBytes = f.buf.slice(f.start, f.end);
        const l = labelFrame(f.buf, f.start, f.end);
        const prev = labels.get(f.id);
        // A frame keeps its id through a router; prefer the most specific label seen.
        if (prev === undefined || prev.kind === "other") labels.set(f.id, l);
      },
    );
    let rttNs: number | null = null;
    let sendError: SendError | null = null;
    let isAnswered = false;
    let icmpError: string | null = null;
    const id = this.nextEchoId++ & 0xffff;
    const t0 = world.now();
    try {
      sendError = src.device.ping(
        target.ip,
        { id, seq: 1, sizeBytes: 56, timeoutNs: EXCHANGE_TIMEOUT_NS },
        t0,
        (r) => {
          isAnswered = true;
          if (r.kind === "reply") rttNs = r.rttNs;
          else if (r.kind === "error") icmpError = `${r.text} (from ${formatIpv4(r.from)})`;
        },
      );
      if (sendError === null) {
        this.runUntilDone(t0 + EXCHANGE_TIMEOUT_NS, () => isAnswered);
        world.runFor(GRACE_NS);
      }
    } finally {
      world.setTraceSink(null);
    }
    const result = analyseTrace({
      source,
      target,
      targetText: to,
      records,
      labels,
      delivered: rttNs !== null,
      rttNs,
      startNs: t0,
      icmpError,
      sendError: sendError === null ? null : `${from} cannot send: ${sendErrorText(sendError)}`,
      ...(options.withBytes === true ? { bytesOf: (r: HopRecord) => bytes.get(r) } : {}),
    });
    // A switch floods around a down port without a word, so a failed exchange names the cables
    // that are down: the likeliest reason nobody answered.
    if (!result.delivered) {
      const down = world.links.filter((l) => !l.isUp && l.hopKind === "link").map((l) => l.name);
      if (down.length > 0) result.verdict += `; cable${down.length > 1 ? "s" : ""} down: ${down.join(", ")}`;
    }
    return result;
  }

  /**
   * Explains an exchange observed elsewhere (the hop records a real lab's dataplane made while a
   * real ping ran from VM `from`'s namespace to `to`) as `trace` explains its own: the same
   * hops, path and verdict, from this network's model of the same file.
   */
  explain(
    from: string,
    to: string,
    observed: {
      records: readonly HopRecord[];
      labels: ReadonlyMap<number, FrameLabel>;
      delivered: boolean;
      rttNs: number | null;
      startNs: number;
    },
  ): TraceResult {
    const src = this.vm(from);
    const target = this.target(to);
    const out = src.device.stack.route(target.ip);
    const source = this.endpoint(src, out === null ? 0 : Math.max(0, out.iface.index));
    return analyseTrace({
      source,
      target,
      targetText: to,
      records: observed.records,
      labels: observed.labels,
      delivered: observed.delivered,
      rttNs: observed.rttNs,
      startNs: observed.startNs,
    });
  }

  /**
   * traceroute(8) from VM `from` to `to` (a VM name or an IPv4 address), in simulated time: UDP
   * probes with TTL 1, 2, ... (`dataplane/traceroute.ts`), each answered by an ICMP time
   * exceeded from the hop where its TTL ran out or a port unreachable from the destination.
   * Every answering address is named after the device it belongs to when the topology says
   * (a VM's vNIC, a switch's SVI), as traceroute names hops by reverse DNS.
   */
  traceroute(from: string, to: string, options: TracerouteOptions = {}): TracerouteResult {
    this.built.world.enter();
    const maxHops = options.maxHops ?? STACK_TRACEROUTE.maxHops;
    const probesPerHop = options.probesPerHop ?? STACK_TRACEROUTE.probesPerHop;
    const waitNs = options.waitNs ?? STACK_TRACEROUTE.timeoutNs;
    const isCount = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
    if (!isCount(maxHops, TRACEROUTE_MAX_HOPS))
      throw new NetworkError("bad-option", `traceroute: maxHops ${maxHops} is not 1..${TRACEROUTE_MAX_HOPS}`);
    if (!isCount(probesPerHop, TRACEROUTE_MAX_PROBES))
      throw new NetworkError(
        "bad-option",
        `traceroute: probesPerHop ${probesPerHop} is not 1..${TRACEROUTE_MAX_PROBES}`,
      );
    if (!Number.isFinite(waitNs) || waitNs <= 0)
      throw new NetworkError("bad-option", `traceroute: waitNs ${waitNs} is not a positive time`);
    const src = this.vm(from);
    const target = this.target(to);
    const world = this.world;
    const t0 = world.now();
    let done = null as StackTracerouteResult | null;
    const err = src.device.traceroute(target.ip, { maxHops, probesPerHop, timeoutNs: waitNs }, t0, (r) => {
      done = r;
    });
    if (err === null) {
      // Bounded: one probe at a time, each answered or given up after `waitNs`.
      this.runUntilDone(t0 + maxHops * probesPerHop * waitNs + GRACE_NS, () => done !== null);
      if (done === null) throw new Error(`traceroute ${from} -> ${to} did not finish in its time bound`);
    }
    const hops = done?.hops ?? [];
    const answered = hops.flatMap((h) => h.probes.flatMap((p) => (p.from === null ? [] : [p.from])));
    const owners = this.addressOwners([target.ip, ...answered]);
    return {
      from,
      to,
      toIp: formatIpv4(target.ip),
      toName: owners.get(target.ip) ?? null,
      maxHops,
      probesPerHop,
      packetBytes: IPV4_HEADER_LEN + UDP_HEADER_LEN + STACK_TRACEROUTE.payloadBytes,
      hops: hops.map((h) => ({
        ttl: h.ttl,
        probes: h.probes.map((p) => ({
          address: p.from === null ? null : formatIpv4(p.from),
          name: p.from === null ? null : (owners.get(p.from) ?? null),
          rttNs: p.from === null ? null : p.rttNs,
          annotation: p.annotation,
        })),
      })),
      isReached: done?.isReached ?? false,
      sendError: err === null ? null : sendErrorText(err as SendError),
      durationNs: world.now() - t0,
    };
  }

  /** The device each of `ips` belongs to, where the topology says: a VM's vNIC, a switch's SVI. */
  private addressOwners(ips: readonly number[]): Map<number, string> {
    const wanted = new Set(ips);
    const owners = new Map<number, string>();
    const claim = (ip: number, name: string) => {
      if (wanted.has(ip) && !owners.has(ip)) owners.set(ip, name);
    };
    for (const vm of this.built.vms.values()) for (const n of vm.spec.nics) claim(n.ip, vm.spec.name);
    for (const sw of this.topology.switches) {
      for (const g of sw.gateway) claim(g.ip, sw.name);
      for (const p of sw.ports) if (p.mode === "routed") claim(p.ip, sw.name);
      if (sw.loopback !== null) claim(sw.loopback.ip, sw.name);
    }
    for (const t of this.topology.tunnels ?? []) for (const e of t.ends) claim(e.ip, e.device);
    for (const v of this.topology.vpns ?? []) for (const p of v.peers) claim(p.ip, p.device);
    return owners;
  }

  /**
   * Runs events until `isDone()` or the deadline, whichever comes first; the clock stays at the
   * last event run (or the deadline), so a finished exchange does not wait out its timeout.
   */
  private runUntilDone(deadlineNs: number, isDone: () => boolean): void {
    const world = this.world;
    while (!isDone()) {
      const t = world.scheduler.nextTimeNs();
      if (t > deadlineNs) {
        world.runUntil(deadlineNs);
        return;
      }
      world.runUntil(t);
    }
  }

  /**
   * Every VM pings every other VM's first address, one echo per pair (or only the pairs
   * `options` selects), paced as Mininet's pingall is: one sender at a time, at most
   * `PINGALL_WINDOW` echoes of its in flight, the next sender once every echo of the last has
   * an answer. A pair that fails is traced again on its own so that its failure says what
   * refused it (device, counter) instead of a bare timeout.
   */
  pingAll(options: PingAllOptions = {}): PingAllResult {
    this.built.world.enter();
    const vms = this.vmNames();
    const n = vms.length;
    const index = new Map(vms.map((v, i) => [v, i]));
    let senders: number[];
    let targetsOf: (i: number) => number[];
    const all = vms.map((_, j) => j);
    if (options.sample !== undefined || options.pairs !== undefined) {
      const pairs =
        options.pairs !== undefined
          ? uniquePairs(
              options.pairs.map(([a, b]): [number, number] => [
                index.get(this.vm(a).spec.name) as number,
                index.get(this.vm(b).spec.name) as number,
              ]),
              n,
            )
          : this.samplePairs(n, options.sample as number);
      const byFrom = new Map<number, number[]>();
      for (const [i, j] of pairs) {
        const list = byFrom.get(i);
        if (list === undefined) byFrom.set(i, [j]);
        else list.push(j);
      }
      senders = [...byFrom.keys()].sort((a, b) => a - b);
      targetsOf = (i) => byFrom.get(i) ?? [];
    } else if (options.from !== undefined && options.from.length > 0) {
      senders = [...new Set(options.from.map((v) => index.get(this.vm(v).spec.name) as number))].sort(
        (a, b) => a - b,
      );
      targetsOf = () => all;
    } else {
      if (n > MAX_PINGALL_VMS && options.isUnlimited !== true) {
        throw new NetworkError(
          "too-large",
          `pingall: ${n} VMs make ${n * (n - 1)} pairs, more than pingall runs (up to ${MAX_PINGALL_VMS} VMs); ` +
            "ping from one VM to all (--from VM), a random sample of pairs (--sample N), " +
            "or answer every pair by classes (vnet reach); --all runs every pair anyway",
        );
      }
      senders = all;
      targetsOf = () => all;
    }
    const handles = vms.map((v) => this.vm(v));
    const ips = handles.map((h) => h.spec.nics[0]?.ip);
    const window = Math.max(1, options.window ?? PINGALL_WINDOW);
    const isFull = options.sample === undefined && options.pairs === undefined;
    const rowOf = new Map(senders.map((i, r) => [i, r]));
    const matrix: (boolean | null)[][] | null = isFull
      ? senders.map((i) => vms.map((_, j) => (i === j ? true : ips[j] === undefined ? null : false)))
      : null;
    const outcome = new Map<number, { ok: boolean; why: PingAllKnown | null }>();
    const world = this.world;
    const id = this.nextEchoId++ & 0xffff;
    let total = 0;
    for (const i of senders) for (const j of targetsOf(i)) if (j !== i) total++;
    let done = 0;
    let isFinished = senders.length === 0;
    const report = (i: number, j: number, ok: boolean, why: PingAllKnown | null) => {
      outcome.set(i * n + j, { ok, why });
      const row = rowOf.get(i);
      if (matrix !== null && row !== undefined) matrix[row][j] = ok;
      done++;
      if (options.onProgress !== undefined && (done & 1023) === 0) options.onProgress(done, total);
    };
    const runSender = (k: number) => {
      if (k >= senders.length) {
        isFinished = true;
        return;
      }
      const i = senders[k];
      const targets = targetsOf(i).filter((j) => j !== i);
      let next = 0;
      let inFlight = 0;
      // Echoes in flight together must differ in (id, seq): a running count per sender.
      let seq = 0;
      const pump = () => {
        while (inFlight < window && next < targets.length) {
          const j = targets[next++];
          const ip = ips[j];
          if (ip === undefined) {
            report(i, j, false, { kind: "send", text: `${vms[j]} has no IPv4 address`, code: "no-address" });
            continue;
          }
          inFlight++;
          const err = handles[i].device.ping(
            ip,
            { id, seq: ++seq & 0xffff, sizeBytes: 56, timeoutNs: EXCHANGE_TIMEOUT_NS },
            world.now(),
            (r) => {
              inFlight--;
              if (r.kind === "reply") report(i, j, true, null);
              else if (r.kind === "error")
                report(i, j, false, { kind: "icmp", text: `${r.text} from ${formatIpv4(r.from)}` });
              else report(i, j, false, null);
              // The next echo leaves once this callback has returned (not from inside the stack).
              world.scheduler.at(world.now(), pump);
            },
          );
          if (err !== null) {
            inFlight--;
            report(i, j, false, {
              kind: "send",
              text: `${vms[i]} cannot send: ${sendErrorText(err)}`,
              code: err,
            });
          }
        }
        if (inFlight === 0 && next >= targets.length) {
          inFlight = -1; // this sender is done; later pumps (none expected) do nothing
          world.scheduler.at(world.now(), () => runSender(k + 1));
        }
      };
      pump();
    };
    const t0 = world.now();
    const dropsBefore = this.dropTotals();
    world.scheduler.at(t0, () => runSender(0));
    // Bounded: every echo has its own timeout, and a sender waits for all of its echoes.
    this.runUntilDone(t0 + (total + senders.length + 1) * EXCHANGE_TIMEOUT_NS, () => isFinished);
    world.runFor(GRACE_NS);
    this.dropsDuringPingAll = this.dropTotals(dropsBefore);

    const failures: PingAllFailure[] = [];
    let received = 0;
    let traced = 0;
    for (const i of senders) {
      for (const j of targetsOf(i)) {
        if (j === i) continue;
        const o = outcome.get(i * n + j);
        if (o?.ok) {
          received++;
          continue;
        }
        failures.push(
          this.explainFailure(vms[i], vms[j], o?.why ?? null, () => traced++ < PINGALL_TRACED_FAILURES),
        );
      }
    }
    const pairs = total;
    return {
      vms,
      senders: senders.map((i) => vms[i]),
      matrix,
      pairs,
      received,
      lossPercent: pairs === 0 ? 0 : Math.round(((pairs - received) / pairs) * 1000) / 10,
      failures,
    };
  }

  /**
   * Why a pair of pingall failed. An ICMP error or a refusal to send says it already; a silent
   * loss is traced again alone (when `isTracing`), and the trace names the device and counter.
   */
  private explainFailure(
    from: string,
    to: string,
    known: PingAllKnown | null,
    mayTrace: () => boolean,
  ): PingAllFailure {
    if (known?.kind === "send") {
      return { from, to, why: known.text, device: from, code: known.code, retraced: false };
    }
    const prefix = known?.kind === "icmp" ? `${known.text}: ` : "";
    // Only failures that are traced use up the budget.
    if (!mayTrace()) {
      return {
        from,
        to,
        why: `${prefix}${known === null ? "no reply " : ""}(not traced: more than ${PINGALL_TRACED_FAILURES} failures; vnet trace ${from} ${to} tells)`,
        device: null,
        code: null,
        retraced: false,
      };
    }
    const t = this.trace(from, to);
    if (t.delivered) {
      return {
        from,
        to,
        why: `${prefix}${known === null ? "no reply" : "failed"} in pingall, but a trace afterwards was delivered (a transient loss${this.transientHint()})`,
        device: null,
        code: null,
        retraced: true,
      };
    }
    const f = t.failure;
    const text = f?.text ?? "no reply";
    return {
      from,
      to,
      // The trace may only repeat the ICMP error pingall already had ("X (from A)" for "X from A").
      why: text.replace(/ \(from ([^)]+)\)$/, " from $1") === known?.text ? text : `${prefix}${text}`,
      device: f?.device ?? null,
      code: f?.code ?? null,
      retraced: true,
    };
  }

  /** Drops that rise with load during a pingall (storm control, full queues, loss), as "device/code n". */
  private dropsDuringPingAll: Map<string, number> = new Map();

  /** Every device's and link's drop counts by `device/code`; with `since`, what was added since. */
  private dropTotals(since?: Map<string, number>): Map<string, number> {
    const now = new Map<string, number>();
    for (const d of this.world.devices)
      for (const [code, n] of d.drops.entries()) now.set(`${d.name}/${code}`, n);
    for (const l of this.world.links)
      for (const [code, n] of l.drops.entries()) now.set(`${l.name}/${code}`, n);
    if (since === undefined) return now;
    const added = new Map<string, number>();
    for (const [k, n] of now) if (n > (since.get(k) ?? 0)) added.set(k, n - (since.get(k) ?? 0));
    return added;
  }

  /** For a transient loss: the rate-bound drops counted during the pingall, if any. */
  private transientHint(): string {
    const rateBound = [...this.dropsDuringPingAll].filter(([k]) =>
      /\/(storm-control-[a-z-]+|queue-full|loss)$/.test(k),
    );
    if (rateBound.length === 0) return "";
    const top = rateBound.sort((a, b) => b[1] - a[1]).slice(0, 3);
    return `; counted during the pingall: ${top.map(([k, n]) => `${k} ${n}`).join(", ")}`;
  }

  /** `count` distinct ordered pairs (i != j) of `n` VMs, drawn from the run's seed, sorted. */
  private samplePairs(n: number, count: number): [number, number][] {
    const max = n * (n - 1);
    if (!Number.isInteger(count) || count < 1) {
      throw new NetworkError("bad-target", `--sample: ${count} is not a whole number of pairs >= 1`);
    }
    const want = Math.min(count, max);
    const rng = new Rng(this.seed ^ 0x5a3c_1e0f);
    // An index below 2^32 is drawn at once; beyond (65,537 VMs and more) source and target are
    // drawn apart. Enumerating every pair to remove some is only for small totals.
    const draw = () => {
      if (max <= 0xffffffff) return rng.int(max);
      const i = rng.int(n);
      return i * (n - 1) + rng.int(n - 1);
    };
    const chosen = new Set<number>();
    if (want * 2 > max && max <= 1 << 22) {
      for (let k = 0; k < max; k++) chosen.add(k);
      while (chosen.size > want) chosen.delete(draw());
    } else {
      while (chosen.size < want) chosen.add(draw());
    }
    return [...chosen]
      .sort((a, b) => a - b)
      .map((k) => {
        const i = Math.floor(k / (n - 1));
        const r = k % (n - 1);
        return [i, r >= i ? r + 1 : r];
      });
  }

  /**
   * Plays a schedule of faults (default: the topology's `faults:`) in simulated time while
   * probes send one ICMP echo each every `intervalNs` through the VMs' own stacks, numbered, so
   * every lost echo is known; returns the timeline (faults, carrier changes at each end, vswitch
   * failovers and failbacks, MAC flushes) and per probe the runs of consecutive losses. Times
   * are from the start of the run. Without `probes`, vnet picks up to `DEFAULT_PROBE_COUNT`: the
   * first VM of up to that many servers (spread evenly over the file's servers with VMs), each
   * to the next one's (wrapping), keeping only pairs that a trace delivers before the run, so
   * that every loss is the schedule's doing. The faults stay applied
   * afterwards (the network is as the run left it).
   */
  run(options: RunOptions = {}): RunResult {
    this.built.world.enter();
    const faults = [...(options.faults ?? this.topology.faults ?? [])];
    const lastFaultNs = faults.reduce((m, f) => Math.max(m, f.atNs), 0);
    const durationNs = options.durationNs ?? (faults.length > 0 ? lastFaultNs + 2e9 : 2e9);
    const intervalNs = options.intervalNs ?? 10e6;
    const timeoutNs = options.probeTimeoutNs ?? 1e9;
    if (!(durationNs > 0)) throw new NetworkError("bad-run", "the run must last longer than 0 s");
    if (!(intervalNs >= 1e3)) throw new NetworkError("bad-run", "the probe interval must be at least 1us");
    const count = Math.max(1, Math.ceil(durationNs / intervalNs));
    if (count > MAX_ECHOES_PER_PROBE) {
      throw new NetworkError(
        "too-large",
        `an interval of ${formatDuration(intervalNs)} over ${formatDuration(durationNs)} is ${count.toLocaleString("en-US")} echoes per probe; at most ${MAX_ECHOES_PER_PROBE.toLocaleString("en-US")}: make the interval at least ${formatDuration(Math.ceil(durationNs / MAX_ECHOES_PER_PROBE / 1e3) * 1e3)} or the run shorter`,
      );
    }
    const isDefaultProbes = options.probes === undefined;
    const pairs = isDefaultProbes ? this.defaultProbes() : [...(options.probes ?? [])];
    if (pairs.length === 0) {
      throw new NetworkError(
        "bad-target",
        isDefaultProbes
          ? "no default probe: no two VMs on different servers (or on one) reach each other before the run; name one with a probe (A:B)"
          : "no probe given",
      );
    }
    if (pairs.length > MAX_PROBES) {
      throw new NetworkError("too-large", `${pairs.length} probes; at most ${MAX_PROBES} in one run`);
    }
    const flows = pairs.map(([from, to]) => {
      if (from === to) throw new NetworkError("bad-target", `a probe from ${from} to itself`);
      const src = this.vm(from);
      /** Per echo: 0 until its answer, ECHO_REPLIED, ECHO_LOST or ECHO_NOT_SENT. */
      const echoes = new Uint8Array(count);
      return { from, to, src, ip: this.endpoint(this.vm(to)).ip, echoes, answered: 0 };
    });
    // Resolve every target now, so a mistake is reported before anything runs.
    const targets = faults.map((f) => this.faultTarget(faultTargetName(f)));

    const world = this.world;
    const t0 = world.now();
    const timeline: TimelineEvent[] = [];
    const sink = (e: TimelineEvent) => {
      timeline.push({ ...e, timeNs: e.timeNs - t0 });
    };
    world.setTimelineSink(sink, timelineWatch(this.built, sink));
    let faultsApplied = 0;
    /** Per connection a fault touched: what holds it down ("cable", "device:tor1"). */
    const heldDown = new Map<Link, Set<string>>();
    /** Per connection a fault touched: whether its ends have carrier (a silent down keeps it). */
    const carrier = new Map<Link, boolean>();
    try {
      // Faults first: at the same instant a fault comes before an echo (the scheduler keeps order).
      faults.forEach((f, i) => {
        if (f.atNs >= durationNs) return;
        faultsApplied++;
        world.scheduler.at(t0 + f.atNs, (now) => {
          const isUp = f.action === "up" || f.action === "recover";
          const target = targets[i];
          sink({
            timeNs: now,
            device: "end" in f ? f.end.node : f.device,
            kind: "fault",
            text: `${f.action} ${faultTargetName(f)}${"end" in f && f.isSilent === true ? " (silent: both ends keep carrier)" : ""}: ${target.text}`,
            fields: {
              action: f.action,
              target: faultTargetName(f),
              connections: target.links.length,
            },
          });
          // A connection is up when nothing holds it down: recovering a switch does not plug
          // back a cable that a `down` of its own pulled, and the reverse. A silent down stops
          // the frames but leaves both ends their carrier (only protocol timeouts notice); an
          // `up` of that cable ends either kind.
          if (f.action === "tamper" || f.action === "replay") {
            for (const l of target.links) l.attack = f.action;
            return;
          }
          if (f.action === "up") for (const l of target.links) l.attack = null;
          const isSilent = "end" in f && f.isSilent === true;
          const cause = "end" in f ? (isSilent ? "silent" : "cable") : `device:${f.device}`;
          // A failed device loses power before its connections go: it runs no timer, decides
          // nothing and reports nothing until it recovers, and then boots fresh once its
          // connections are back (`World.setPowered`).
          if (f.action === "fail") for (const d of target.devices) world.setPowered(d, false);
          for (const l of [...target.links, ...target.internalLinks]) {
            let causes = heldDown.get(l);
            if (causes === undefined) {
              causes = new Set(l.isUp ? [] : ["cable"]);
              heldDown.set(l, causes);
              carrier.set(l, l.isUp);
            }
            if (isUp) {
              causes.delete(cause);
              if (cause === "cable") causes.delete("silent");
            } else causes.add(cause);
            const hasCarrier = ![...causes].some((c) => c !== "silent");
            if (carrier.get(l) !== hasCarrier) {
              carrier.set(l, hasCarrier);
              world.setLinkUp(l, hasCarrier);
            }
            if (l.isUp !== (causes.size === 0)) l.setUp(causes.size === 0);
          }
          if (f.action === "recover") for (const d of target.devices) world.setPowered(d, true);
        });
      });
      for (const flow of flows) {
        const id = this.nextEchoId++ & 0xffff;
        const send = (i: number) => (now: number) => {
          // A failed (powered-off) VM sends nothing: the echo is lost, and counted as not sent.
          if (!world.isPowered(flow.src.device)) {
            flow.answered++;
            flow.echoes[i] = ECHO_NOT_SENT;
          } else {
            const err = flow.src.device.ping(flow.ip, { id, seq: (i + 1) & 0xffff, timeoutNs }, now, (r) => {
              flow.answered++;
              flow.echoes[i] = r.kind === "reply" ? ECHO_REPLIED : ECHO_LOST;
            });
            if (err !== null) {
              flow.answered++;
              flow.echoes[i] = ECHO_LOST;
            }
          }
          if (i + 1 < count) world.scheduler.at(t0 + (i + 1) * intervalNs, send(i + 1));
        };
        world.scheduler.at(t0, send(0));
      }
      world.runUntil(t0 + durationNs);
    } finally {
      world.setTimelineSink(null);
    }
    // Echoes still out get their answer or their timeout.
    this.runUntilDone(t0 + durationNs + timeoutNs + GRACE_NS, () => flows.every((f) => f.answered >= count));
    const probes: ProbeResult[] = flows.map((f) => {
      const losses: ProbeLoss[] = [];
      // An echo still pending never had an answer: its VM lost power with the echo outstanding.
      const isLost = (i: number) => f.echoes[i] !== ECHO_REPLIED;
      for (let i = 0; i < count; i++) {
        if (!isLost(i)) continue;
        let j = i;
        let notSent = 0;
        for (;;) {
          if (f.echoes[j] === ECHO_NOT_SENT) notSent++;
          if (j + 1 < count && isLost(j + 1)) j++;
          else break;
        }
        losses.push({
          fromNs: i * intervalNs,
          toNs: (j + 1) * intervalNs,
          lost: j - i + 1,
          notSent,
          firstSeq: i + 1,
          lastSeq: j + 1,
        });
        i = j;
      }
      return {
        from: f.from,
        to: f.to,
        sent: count,
        lost: losses.reduce((n, x) => n + x.lost, 0),
        notSent: losses.reduce((n, x) => n + x.notSent, 0),
        losses,
      };
    });
    return {
      durationNs,
      intervalNs,
      probeTimeoutNs: timeoutNs,
      isDefaultProbes,
      faultsApplied,
      faultsAfterEnd: faults.length - faultsApplied,
      timeline: sortTimeline(timeline),
      probes,
    };
  }

  /** Up to `DEFAULT_PROBE_COUNT` probes that work now (see `run`). */
  private defaultProbes(): [string, string][] {
    let firsts = this.topology.servers.filter((s) => s.vms.length > 0).map((s) => s.vms[0].name);
    if (firsts.length > DEFAULT_PROBE_COUNT) {
      // Spread over the file (racks are usually written in order), so probes cross the fabric.
      const step = firsts.length / DEFAULT_PROBE_COUNT;
      const all = firsts;
      firsts = Array.from({ length: DEFAULT_PROBE_COUNT }, (_, i) => all[Math.floor(i * step)]);
    }
    let candidates: [string, string][];
    if (firsts.length >= 2) candidates = firsts.map((v, i) => [v, firsts[(i + 1) % firsts.length]]);
    else {
      const only = this.topology.servers.find((s) => s.vms.length >= 2);
      candidates = only === undefined ? [] : [[only.vms[0].name, only.vms[1].name]];
    }
    return candidates.filter(([a, b]) => this.trace(a, b).delivered);
  }

  /**
   * What failing `target` takes down: a cable by either end (`server1:eth0`) or as `links()`
   * names it, a switch (all its cables), a server (its NICs' cables) or a VM (its vNICs).
   */
  private faultTarget(target: string): FaultTarget {
    const cables = this.cables();
    const cable = cables.find((l) => l.name === target || l.ends.some((e) => e.name === target));
    if (cable !== undefined)
      return { links: [cable], devices: [], internalLinks: [], text: `cable ${cable.name}` };
    const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
    if (
      this.topology.switches.some((s) => s.name === target) ||
      this.topology.servers.some((s) => s.name === target)
    ) {
      const isSwitch = this.topology.switches.some((s) => s.name === target);
      const links = cables.filter((l) => l.ends.some((e) => e.name.slice(0, e.name.indexOf(":")) === target));
      // A server's devices: its NICs and vswitches ("server/..."), and its VMs.
      const vms = new Set(this.topology.servers.find((s) => s.name === target)?.vms.map((v) => v.name) ?? []);
      const devices = this.world.devices.filter((d) =>
        isSwitch
          ? d.name === target
          : d.name.startsWith(`${target}/`) || (d.kind === "vm" && vms.has(d.name)),
      );
      const own = new Set<Device>(devices);
      const internalLinks = this.world.links.filter(
        (l) => l.hopKind !== "link" && l.ends.some((e) => own.has(e.device)),
      );
      return {
        links,
        devices,
        internalLinks,
        text: `${isSwitch ? "switch" : "server"} ${target} (${plural(links.length, "cable")})`,
      };
    }
    if (this.built.vms.has(target)) {
      const vm = this.vm(target).device;
      const links = this.world.links.filter(
        (l) => (l.hopKind === "vnic" || l.hopKind === "vf") && l.ends.some((e) => e.device === vm),
      );
      return {
        links,
        devices: [vm],
        internalLinks: [],
        text: `VM ${target} (${plural(links.length, "vNIC")})`,
      };
    }
    if (target.includes(":")) {
      const names = cables.flatMap((l) => l.ends.map((e) => e.name));
      throw new NetworkError("unknown-link", `no cable end "${target}"${suggestion(target, names)}`);
    }
    const known = [
      ...this.topology.switches.map((s) => s.name),
      ...this.topology.servers.map((s) => s.name),
      ...this.vmNames(),
    ];
    throw new NetworkError(
      "unknown-device",
      `no switch, server or VM named "${target}"${suggestion(target, known)} (or give a cable end node:port)`,
    );
  }

  /** The cables of the topology (file order) with their state now. */
  links(): { name: string; ends: [string, string]; isUp: boolean }[] {
    return this.cables().map((l) => ({
      name: l.name,
      ends: [l.ends[0].name, l.ends[1].name] as [string, string],
      isUp: l.isUp,
    }));
  }

  /**
   * Pulls (or plugs back) a cable, named by either end (`"server1:eth0"`) or as `links()` names
   * it (`"server1:eth0<->tor1:eth1"`); both devices see carrier change at once, as a real pull.
   */
  setLinkUp(cable: string, isUp: boolean): void {
    this.built.world.enter();
    const link = this.cables().find((l) => l.name === cable || l.ends.some((e) => e.name === cable));
    if (link === undefined) {
      const names = this.cables().flatMap((l) => l.ends.map((e) => e.name));
      throw new NetworkError("unknown-link", `no cable "${cable}"${suggestion(cable, names)}`);
    }
    this.world.setLinkUp(link, isUp);
  }

  private cables() {
    return this.world.links.filter((l) => l.hopKind === "link");
  }

  /**
   * Exhaustive reachability by classes (see `src/analysis/reach.ts`): VM pairs that must behave
   * alike share a class, and one real probe (a traced echo, ARP included) per class answers for
   * all of its pairs. `verify` then pings that many random pairs and reports any whose outcome
   * differs from its class's.
   */
  reach(options: ReachOptions = {}): ReachResult {
    this.built.world.enter();
    const plan = this.planReachNow();
    const vms = plan.vms.map((v) => v.name);
    const vmIndex = new Map(vms.map((v, i) => [v, i]));
    const results = this.probeReach(plan, options.onProgress);
    let deliveredPairs = 0;
    for (const r of results) if (r.delivered) deliveredPairs += r.pairs;
    const pairs = results.reduce((n, r) => n + r.pairs, 0);
    let verified: ReachResult["verified"] = null;
    if (options.verify !== undefined && options.verify > 0 && vms.length > 1) {
      const sample = this.samplePairs(vms.length, options.verify);
      const r = this.pingAll({ pairs: sample.map(([i, j]) => [vms[i], vms[j]] as const) });
      const failed = new Set(r.failures.map((f) => `${f.from}\n${f.to}`));
      const disagreements: { from: string; to: string; expected: boolean; observed: boolean }[] = [];
      for (const [i, j] of sample) {
        const expected = results[plan.pairClassOf(i, j)]?.delivered ?? false;
        const observed = !failed.has(`${vms[i]}\n${vms[j]}`);
        if (expected !== observed) disagreements.push({ from: vms[i], to: vms[j], expected, observed });
      }
      verified = { pairs: sample.length, disagreements };
    }
    return {
      vms: vms.length,
      pairs,
      deliveredPairs,
      refusedPairs: pairs - deliveredPairs,
      classes: plan.classes.map((c) => ({
        id: c.id,
        label: c.label,
        vms: c.vms.length,
        servers: c.servers,
        exampleServer: this.topology.servers[plan.serverOfVm[c.vms[0]]]?.name ?? "",
        example: vms[c.vms[0]],
      })),
      placements: plan.placements.map((p) => ({ id: p.id, text: p.text })),
      results,
      verified,
      isDelivered: (from: string, to: string) => {
        const i = vmIndex.get(from);
        const j = vmIndex.get(to);
        if (i === undefined || j === undefined || i === j) return false;
        return results[plan.pairClassOf(i, j)]?.delivered ?? false;
      },
    };
  }

  /** The reach plan for the cables' state now. */
  private planReachNow(): ReturnType<typeof planReach> {
    const cableState = new Map(this.cables().map((l) => [l.name, l.isUp]));
    return planReach(this.topology, (i) => {
      const l = this.topology.links[i];
      return cableState.get(`${l.a.node}:${l.a.port}<->${l.b.node}:${l.b.port}`) ?? l.isUp;
    });
  }

  /** One traced echo per pair class of `plan`: its verdict holds for the class. */
  private probeReach(
    plan: ReturnType<typeof planReach>,
    onProgress?: (done: number, total: number) => void,
  ): ReachClassResult[] {
    const vms = plan.vms;
    const results: ReachClassResult[] = [];
    let done = 0;
    for (const pc of plan.pairClasses) {
      const [a, b] = pc.probe;
      const t = this.trace(vms[a].name, vms[b].name);
      results.push({
        from: pc.from,
        to: pc.to,
        placement: pc.placement,
        pairs: pc.pairs,
        delivered: t.delivered,
        verdict: t.verdict,
        failure: t.failure,
        probe: { from: vms[a].name, to: vms[b].name },
      });
      onProgress?.(++done, plan.pairClasses.length);
    }
    return results;
  }

  /**
   * What-if: the reachability that changes when `target` fails (a cable end `node:port` or a
   * cable's name, a switch, a server or a VM, as `faults:` names them). Reach is answered by
   * classes before and after (`reach`, the cables of `target` down for the second), and pairs
   * are compared through the cells that refine both classings, so the cost is two reach runs
   * whatever the size. A failed VM reaches nothing and nothing reaches it: its pairs are
   * answered from the first run without probing. The network is left as it was.
   */
  reachChange(target: string, options: ReachChangeOptions = {}): ReachChangeResult {
    this.built.world.enter();
    const failed = this.faultTarget(target);
    const progress = (phase: string) => (d: number, t: number) => options.onProgress?.(phase, d, t);
    const before = this.planReachNow();
    const beforeResults = this.probeReach(before, progress("before"));
    const vms = before.vms.map((v) => v.name);
    const limit = options.listPairs ?? REACH_CHANGE_LISTED;
    const lost: ReachChange[] = [];
    const gained: ReachChange[] = [];
    const plain = (v: string) => v.replace(/^delivered: /, "");
    const failedVm = this.built.vms.has(target) ? vms.indexOf(target) : -1;
    let afterDelivered = 0;
    if (failedVm >= 0) {
      // A VM whose vNICs are down: every pair with it that was delivered is lost.
      const byClass = new Map<number, ReachChange>();
      for (let x = 0; x < vms.length; x++) {
        if (x === failedVm) continue;
        for (const [a, b] of [
          [failedVm, x],
          [x, failedVm],
        ] as const) {
          const pc = before.pairClassOf(a, b);
          const r = beforeResults[pc];
          if (r === undefined || !r.delivered) continue;
          let ch = byClass.get(pc);
          if (ch === undefined) {
            ch = this.reachChangeOf(before, a, b, r.verdict, `${target} is failed (its vNICs are down)`);
            byClass.set(pc, ch);
            lost.push(ch);
          }
          ch.pairs++;
          if (ch.examples.length < limit) ch.examples.push({ from: vms[a], to: vms[b] });
        }
      }
      const beforeDelivered = beforeResults.reduce((n, r) => n + (r.delivered ? r.pairs : 0), 0);
      afterDelivered = beforeDelivered - lost.reduce((n, c) => n + c.pairs, 0);
      return this.reachChangeResult(target, failed, beforeResults, afterDelivered, lost, gained);
    }
    const changed = failed.links.filter((l) => l.isUp);
    for (const l of changed) this.world.setLinkUp(l, false);
    let afterResults: ReachClassResult[];
    let after: ReturnType<typeof planReach>;
    try {
      after = this.planReachNow();
      afterResults = this.probeReach(after, progress("after"));
    } finally {
      for (const l of changed) this.world.setLinkUp(l, true);
    }
    afterDelivered = afterResults.reduce((n, r) => n + (r.delivered ? r.pairs : 0), 0);
    // Cells: VMs alike before and after (same attachment group, same class in both plans). Any
    // two cells' pairs share a pair class before and one after, so one pair answers for them.
    const cellIds = new Map<string, number>();
    const cells: number[][] = [];
    for (let k = 0; k < vms.length; k++) {
      const key = `${before.vmGroup[k]}|${before.vmClass[k]}|${after.vmClass[k]}`;
      let id = cellIds.get(key);
      if (id === undefined) {
        id = cells.length;
        cellIds.set(key, id);
        cells.push([]);
      }
      cells[id].push(k);
    }
    const changes = new Map<string, ReachChange>();
    for (let ci = 0; ci < cells.length; ci++) {
      for (let cj = 0; cj < cells.length; cj++) {
        const A = cells[ci];
        const B = cells[cj];
        if (ci === cj && A.length < 2) continue;
        const a = A[0];
        const b = ci === cj ? A[1] : B[0];
        const pb = before.pairClassOf(a, b);
        const pa = after.pairClassOf(a, b);
        const rb = beforeResults[pb];
        const ra = afterResults[pa];
        if (rb === undefined || ra === undefined || rb.delivered === ra.delivered) continue;
        const key = `${pb}|${pa}`;
        let ch = changes.get(key);
        if (ch === undefined) {
          ch = this.reachChangeOf(
            before,
            a,
            b,
            rb.delivered ? rb.verdict : (rb.failure?.text ?? rb.verdict),
            ra.delivered ? plain(ra.verdict) : (ra.failure?.text ?? ra.verdict),
          );
          changes.set(key, ch);
          (rb.delivered ? lost : gained).push(ch);
        }
        ch.pairs += ci === cj ? A.length * (A.length - 1) : A.length * B.length;
        for (const x of A) {
          if (ch.examples.length >= limit) break;
          for (const y of B) {
            if (ch.examples.length >= limit) break;
            if (x !== y) ch.examples.push({ from: vms[x], to: vms[y] });
          }
        }
      }
    }
    return this.reachChangeResult(target, failed, beforeResults, afterDelivered, lost, gained);
  }

  private reachChangeOf(
    plan: ReturnType<typeof planReach>,
    a: number,
    b: number,
    beforeText: string,
    afterText: string,
  ): ReachChange {
    const label = (k: number) => plan.classes[plan.vmClass[k]]?.label ?? "?";
    return {
      pairs: 0,
      fromClass: label(a),
      toClass: label(b),
      before: beforeText.replace(/^delivered: /, ""),
      after: afterText,
      examples: [],
    };
  }

  private reachChangeResult(
    target: string,
    failed: FaultTarget,
    beforeResults: ReachClassResult[],
    afterDelivered: number,
    lost: ReachChange[],
    gained: ReachChange[],
  ): ReachChangeResult {
    const pairs = beforeResults.reduce((n, r) => n + r.pairs, 0);
    const order = (x: ReachChange, y: ReachChange) =>
      y.pairs - x.pairs || (x.examples[0]?.from ?? "").localeCompare(y.examples[0]?.from ?? "");
    return {
      target,
      failed: failed.text,
      connections: failed.links.map((l) => l.name),
      pairs,
      deliveredBefore: beforeResults.reduce((n, r) => n + (r.delivered ? r.pairs : 0), 0),
      deliveredAfter: afterDelivered,
      lostPairs: lost.reduce((n, c) => n + c.pairs, 0),
      gainedPairs: gained.reduce((n, c) => n + c.pairs, 0),
      lost: lost.sort(order),
      gained: gained.sort(order),
    };
  }

  /**
   * The guest changes the MAC of its vNIC `nicIndex` (`ip link set eth0 address ...`), and the
   * hypervisor learns of it, as vSphere does: with "MAC address changes: reject" the vNIC then
   * receives nothing, with "forged transmits: reject" what it sends is dropped at the vswitch.
   */
  setGuestMac(vm: string, mac: number, nicIndex = 0): void {
    this.built.world.enter();
    const h = this.vm(vm);
    if (nicIndex < 0 || nicIndex >= h.spec.nics.length) {
      throw new NetworkError("no-address", `VM "${vm}" has no vNIC ${nicIndex}`);
    }
    h.device.setMac(nicIndex, mac);
    const vs = h.vswitchPorts[nicIndex];
    vs?.vswitch.setEffectiveMac(vs.port, mac);
  }

  /**
   * The guest sends `bytes` as one frame out of vNIC `nicIndex` (a raw socket: forged sources,
   * VLAN tags, malformed packets), then the world runs for `runMs` of simulated time.
   */
  sendRaw(vm: string, bytes: Uint8Array, nicIndex = 0, runMs = 10): void {
    this.built.world.enter();
    const h = this.vm(vm);
    h.device.sendRaw(nicIndex, bytes, this.world.now());
    this.world.runFor(runMs * 1e6);
  }

  /**
   * Tables of the network's state, as arrays of plain rows (JSON-ready); with `device`, only that
   * device's rows (a VM, a switch, `server1/vs0`, `server1/eth1`, or a server: all of its parts).
   */
  show(what: ShowWhat, device?: string): Record<string, string | number | null>[] {
    if (device === undefined) return this.showAll(what, () => true);
    const names = new Set(this.world.devices.map((d) => d.name));
    for (const l of this.world.links) names.add(l.name);
    const isServer = this.topology.servers.some((s) => s.name === device);
    if (!names.has(device) && !isServer) {
      const known = [...names, ...this.topology.servers.map((s) => s.name)];
      throw new NetworkError("unknown-device", `no device named "${device}"${suggestion(device, known)}`);
    }
    // A server stands for its parts: NICs and vswitches (`server1/...`) and the VMs it hosts.
    const hosted = new Set(
      isServer ? (this.topology.servers.find((sv) => sv.name === device)?.vms ?? []).map((v) => v.name) : [],
    );
    const matches = (d: string) =>
      d === device ||
      (isServer && (d.startsWith(`${device}/`) || hosted.has(d))) ||
      d.startsWith(`${device} (`);
    return this.showAll(what, matches);
  }

  /** The rows of `what` for the devices `isWanted` takes (others are never formatted). */
  private showAll(
    what: ShowWhat,
    isWanted: (device: string) => boolean,
  ): Record<string, string | number | null>[] {
    const now = this.world.now();
    switch (what) {
      case "fdb":
        return this.built.macTables.flatMap(({ device, table, portName, segmentName }) =>
          (isWanted(device) ? table.entries(now) : []).map((e) => ({
            device,
            vlan: segmentName === undefined ? e.vid : segmentName(e.vid),
            mac: formatMac(e.mac),
            port: portName(e.port),
            type: e.isStatic ? "static" : "learned",
            ageSec: e.isStatic ? null : Math.round(e.ageNs / 1e6) / 1e3,
          })),
        );
      case "arp":
        return this.built.arpCaches.flatMap(({ device, table }) =>
          (isWanted(device) ? table(now) : []).map((e) => ({
            device,
            interface: e.interface,
            ip: formatIpv4(e.ip),
            mac: e.mac === null ? null : formatMac(e.mac),
            state: e.state,
          })),
        );
      case "ports":
        return this.world.devices.flatMap((d) =>
          (isWanted(d.name) ? d.portNames : []).map((p, i) => {
            const link = this.world.linkAt(d, i);
            const side = link === null ? -1 : link.ends[0].device === d && link.ends[0].port === i ? 0 : 1;
            // In a lab, a VM's vNIC or an external port is bound to a TAP, not a simulated link:
            // its far end is the binding's first name ("web1:eth0" of "web1:eth0<->vs0:web1").
            const bound = link === null ? this.world.bindingAt(d, i) : null;
            const c = d.portCounters[i];
            return {
              device: d.name,
              kind: this.kindOf(d),
              port: p,
              peer:
                link !== null ? link.ends[side ^ 1].name : bound !== null ? bound.name.split("<->")[0] : null,
              state:
                link !== null
                  ? link.isUp
                    ? "up"
                    : "down"
                  : bound !== null
                    ? bound.isOpen === false
                      ? "down"
                      : "up"
                    : "unconnected",
              rxFrames: c?.rxFrames ?? 0,
              rxBytes: c?.rxBytes ?? 0,
              txFrames: c?.txFrames ?? 0,
              txBytes: c?.txBytes ?? 0,
              drops: c?.drops ?? 0,
            };
          }),
        );
      case "counters": {
        const rows: Record<string, string | number | null>[] = [];
        for (const d of this.world.devices) {
          if (!isWanted(d.name)) continue;
          for (const [reason, count] of d.drops.entries())
            rows.push({ device: d.name, kind: this.kindOf(d), reason, count });
        }
        for (const l of this.world.links) {
          if (!isWanted(l.name)) continue;
          for (const [reason, count] of l.drops.entries())
            rows.push({ device: l.name, kind: "link", reason, count });
        }
        // MAC tables: entries that moved to another port (a VM migrated, a failover, or a
        // spoofed source) and entries evicted to make room (a full table, or a MAC flood).
        for (const { device, table } of this.built.macTables) {
          if (!isWanted(device)) continue;
          const { moved, evicted } = table.stats;
          if (moved > 0) rows.push({ device, kind: "fdb", reason: "mac-moved", count: moved });
          if (evicted > 0) rows.push({ device, kind: "fdb", reason: "mac-evicted", count: evicted });
        }
        return rows;
      }
      case "lacp":
        return this.lacpRows(isWanted, now);
      case "teaming":
        return this.teamingRows(isWanted);
      case "mlag":
        return this.mlagRows(isWanted);
      case "stp":
        return this.stpRows(isWanted);
      case "vpn":
        return this.vpnRows(isWanted, now);
      case "nat":
        return this.built.nats.flatMap(({ device, nat }) =>
          (isWanted(device) ? nat.entries(now) : []).map((e) => ({
            device,
            protocol: e.protocol,
            inside: e.inside,
            outside: e.outside,
            remote: e.remote,
            state: e.isReplied ? "replied" : "unreplied",
            expiresSec: Math.round(e.expiresInNs / 1e6) / 1e3,
            packetsOut: e.packetsOut,
            packetsIn: e.packetsIn,
          })),
        );
    }
  }

  /**
   * One row per peer of every VPN gateway, as `wg show` prints it: the gateway's interface,
   * public key and listen port, the peer, its endpoint (given, or learned: roaming), allowed
   * IPs, the latest handshake in simulated time, bytes each way, the keepalive; and the
   * gateway's drops by reason (the engine's counters: bad MACs, failed decryptions, replays...).
   */
  private vpnRows(
    isWanted: (device: string) => boolean,
    now: number,
  ): Record<string, string | number | null>[] {
    const rows: Record<string, string | number | null>[] = [];
    for (const g of this.built.vpnGateways) {
      if (!isWanted(g.config.device)) continue;
      const st = g.status();
      const drops = Object.entries(st.counters.drops)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k}:${n}`)
        .join(" ");
      for (const p of st.counters.peers) {
        const cfg = g.config.peers.find((x) => x.name === p.name);
        rows.push({
          vpn: st.vpn,
          device: st.device,
          interface: st.iface,
          publicKey: keyToBase64(g.engine.publicKey),
          listenPort: st.listenPort,
          peer: p.name,
          peerKey: cfg === undefined ? null : keyToBase64(cfg.publicKey),
          endpoint: p.endpoint ?? null,
          allowedIps: cfg === undefined ? null : cfg.allowedIps.join(","),
          latestHandshake:
            p.lastHandshakeNs === undefined ? null : `${((now - p.lastHandshakeNs) / 1e9).toFixed(3)} s ago`,
          rxBytes: p.rxBytes,
          txBytes: p.txBytes,
          keepaliveSec: cfg === undefined || cfg.keepaliveSec === 0 ? null : cfg.keepaliveSec,
          drops: drops === "" ? null : drops,
        });
      }
    }
    return rows;
  }

  /**
   * One row per port of every switch running spanning tree: its bridge and the root, the port's
   * role and state, edge, path cost, the designated bridge and port on its link, and why (as
   * `show spanning-tree` or `mstpctl showport`).
   */
  private stpRows(isWanted: (d: string) => boolean): Record<string, string | number | null>[] {
    const rows: Record<string, string | number | null>[] = [];
    for (const d of this.world.devices) {
      if (!(d instanceof PhysicalSwitch) || !isWanted(d.name)) continue;
      const st = d.stpStatus();
      if (st === null) continue;
      for (const p of st.ports)
        rows.push({
          device: d.name,
          port: p.port,
          bridge: st.bridgeId,
          root: st.isRoot ? "this bridge" : st.rootId,
          rootCost: st.rootPathCost,
          role: p.role,
          state: p.isErrDisabled ? "err-disabled" : p.state,
          edge: p.isEdge ? "yes" : "no",
          cost: p.pathCost,
          designatedBridge: p.designatedBridge,
          designatedPort: p.designatedPort,
          why: p.why,
        });
    }
    return rows;
  }

  /**
   * One row per bundle member: switch LAGs (static ones too) and vswitch uplinks bonded by
   * LACP, with the member's carrier, LACP receive state, selection, whether it distributes, our
   * state bits and the partner as last heard (as `ovs-appctl lacp/show` or /proc/net/bonding).
   */
  private lacpRows(isWanted: (d: string) => boolean, now: number): Record<string, string | number | null>[] {
    const rows: Record<string, string | number | null>[] = [];
    const memberRow = (
      device: string,
      bundle: string,
      mode: string,
      hash: string,
      m: LacpMemberStatus<string>,
    ) => ({
      device,
      bundle,
      mode,
      hash,
      member: m.member,
      carrier: m.isUp ? "up" : "down",
      lacp: m.rx,
      selected: m.isSelected ? "yes" : "no",
      distributing: m.isEnabled ? "yes" : "no",
      actorState: m.actorStateText,
      partner: m.partner === null ? null : formatMac(m.partner.system),
      partnerKey: m.partner?.key ?? null,
      partnerPort: m.partner?.port ?? null,
      partnerState: m.partner === null ? null : formatLacpState(m.partner.state),
      why: m.why,
    });
    for (const d of this.world.devices) {
      if (!isWanted(d.name)) continue;
      if (d instanceof PhysicalSwitch) {
        const summary = d.lagSummary();
        const status = d.lacpStatus(now);
        summary.forEach((lag, i) => {
          if (lag.lacp === "off") {
            for (const m of lag.members)
              rows.push({
                device: d.name,
                bundle: lag.lag,
                mode: "off",
                hash: lag.hash,
                member: m.name,
                carrier: m.isUp ? "up" : "down",
                lacp: null,
                selected: null,
                distributing: m.isDistributing ? "yes" : "no",
                actorState: null,
                partner: null,
                partnerKey: null,
                partnerPort: null,
                partnerState: null,
                why: m.isUp ? null : "link down",
              });
          } else
            for (const m of status[i].members) rows.push(memberRow(d.name, lag.lag, lag.lacp, lag.hash, m));
        });
      } else if (d instanceof Vswitch) {
        const status = d.lacpStatus(now);
        if (status === null) continue;
        for (const m of status)
          rows.push(memberRow(d.name, "uplinks", d.lacpMode ?? "-", d.teaming.lagHashName, m));
      }
    }
    return rows;
  }

  /**
   * One row per switch of an MLAG domain and multi-chassis LAG: role, peer link and keepalive
   * state, whether the peer's half is up, suspension, and split brain (both switches primary
   * with the peer link down: each believes the other gone).
   */
  private mlagRows(isWanted: (d: string) => boolean): Record<string, string | number | null>[] {
    const rows: Record<string, string | number | null>[] = [];
    const status = new Map<string, NonNullable<ReturnType<PhysicalSwitch["mlagStatus"]>>>();
    for (const d of this.world.devices) {
      if (!(d instanceof PhysicalSwitch)) continue;
      const st = d.mlagStatus();
      if (st !== null) status.set(d.name, st);
    }
    for (const [name, st] of status) {
      if (!isWanted(name)) continue;
      const domain = this.topology.mlag?.find((m) => m.switches.includes(name));
      const peerName = domain?.switches.find((n) => n !== name) ?? null;
      const peer = peerName === null ? undefined : status.get(peerName);
      const isSplitBrain = st.role === "primary" && peer?.role === "primary" && !st.isPeerLinkUp;
      const base = {
        domain: st.domain,
        switch: name,
        role: st.role,
        peerLink: st.isPeerLinkUp ? "up" : "down",
        keepalive: domain?.keepalive === null ? "none" : st.isPeerAliveOnKeepalive ? "peer alive" : "silent",
        suspended: st.isSuspended ? "yes" : "no",
        splitBrain: isSplitBrain ? "yes" : "no",
      };
      if (st.halves.length === 0) rows.push({ ...base, lag: null, local: null, peerHalf: null });
      for (const h of st.halves)
        rows.push({
          ...base,
          lag: h.lag,
          local: h.isLocalUp ? "up" : "down",
          peerHalf: h.isPeerUp ? "up" : "down",
        });
    }
    return rows;
  }

  /** One row per vswitch port group: its teaming policy, failover order and the uplinks in use. */
  private teamingRows(isWanted: (d: string) => boolean): Record<string, string | number | null>[] {
    const rows: Record<string, string | number | null>[] = [];
    for (const d of this.world.devices) {
      if (!(d instanceof Vswitch) || !isWanted(d.name)) continue;
      for (const g of d.portGroupTeaming()) rows.push({ device: d.name, ...g });
    }
    return rows;
  }
}
