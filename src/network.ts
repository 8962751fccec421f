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
import { analyseTrace, type TraceResult, type TraceTarget, type VmEndpoint } from "./analysis/trace.ts";
import type { SendError, PingResult as StackPingResult } from "./dataplane/ip-host.ts";
import type { HopRecord } from "./dataplane/trace.ts";
import { formatDiagnostic } from "./model/diagnostics.ts";
import { type LoadResult, loadTopologyText } from "./model/load-text.ts";
import type { Topology } from "./model/types.ts";
import { type BuiltNetwork, buildWorld, type VmHandle } from "./sim/build.ts";
import { CaptureSet } from "./sim/capture.ts";
import { formatIpv4, formatMac, tryParseIpv4 } from "./wire/addr.ts";

export class NetworkError extends Error {
  override readonly name = "NetworkError";
  constructor(
    readonly code: "unknown-vm" | "bad-target" | "no-address" | "too-large",
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

export interface PingAllResult {
  vms: string[];
  /** matrix[i][j]: vms[i] reached vms[j] (diagonal true). */
  matrix: boolean[][];
  pairs: number;
  received: number;
  lossPercent: number;
  failures: { from: string; to: string; why: string }[];
}

export const SHOW_WHATS = ["fdb", "arp", "ports", "counters"] as const;
export type ShowWhat = (typeof SHOW_WHATS)[number];

/** Largest network `pingAll` accepts: n(n-1) echoes, one sender at a time. */
export const MAX_PINGALL_VMS = 300;

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

  private constructor(topology: Topology, options: NetworkOptions, warnings: string[]) {
    this.topology = topology;
    this.seed = options.seed ?? 1;
    this.warnings = warnings;
    this.built = buildWorld(topology, { seed: this.seed });
    const isAnnouncing = options.isAnnouncing ?? this.built.vms.size <= QUIET_START_ABOVE_VMS;
    if (isAnnouncing) this.built.world.start();
    else this.built.world.startQuietly();
    // Let the start-up announcements (gratuitous ARP) pass, so that what is asked next is not
    // mixed with them.
    this.world.runFor(STARTUP_NS);
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
      this.captureSet = new CaptureSet();
      this.world.setCaptures(this.captureSet);
    }
  }

  /**
   * The captures so far (after `startCaptures`), one classic nanosecond pcap per link end that
   * carried traffic, as file name and bytes, sorted by name; the caller writes them where it
   * wants (the CLI's `--pcap DIR`, a browser's download).
   */
  captures(): { fileName: string; bytes: Uint8Array; frames: number }[] {
    return this.captureSet?.encodeAll() ?? [];
  }

  /** Runs the world until nothing is pending (bounded), e.g. after start-up announcements. */
  settle(): void {
    this.world.runFor(GRACE_NS);
  }

  private vm(name: string): VmHandle {
    const vm = this.built.vms.get(name);
    if (vm === undefined) {
      const known = this.vmNames();
      throw new NetworkError(
        "unknown-vm",
        `no VM named "${name}"; known: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", ..." : ""}`,
      );
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
      attachment = { kind: "portGroup", vswitch: a.vswitch, portGroup: a.portGroup, vlan: pg?.vlan ?? 0 };
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
  trace(from: string, to: string): TraceResult {
    const src = this.vm(from);
    const source = this.endpoint(src);
    const target = this.target(to);
    const records: HopRecord[] = [];
    const labels = new Map<number, FrameLabel>();
    const world = this.world;
    world.setTraceSink(
      (r) => records.push(r),
      (f) => {
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

  /** Every VM pings every other VM's first address, one echo per pair, in file order. */
  pingAll(): PingAllResult {
    const vms = this.vmNames();
    const n = vms.length;
    if (n > MAX_PINGALL_VMS) {
      throw new NetworkError(
        "too-large",
        `pingall: ${n} VMs make ${n * (n - 1)} pairs; pingall is for up to ${MAX_PINGALL_VMS} VMs (ping pairs instead)`,
      );
    }
    const matrix = vms.map((_, i) => vms.map((_, j) => i === j));
    const failures: PingAllResult["failures"] = [];
    const world = this.world;
    const handles = vms.map((v) => this.vm(v));
    const ips = handles.map((h) => h.spec.nics[0]?.ip);
    const id = this.nextEchoId++ & 0xffff;
    const why = new Map<number, string>();
    let results = 0;
    let expected = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && ips[j] !== undefined) expected++;
    const t0 = world.now();
    // One sender at a time, each to every target at once, spaced so the ARP of one round does not
    // overlap the next; all in simulated time.
    const roundNs = 10e6;
    handles.forEach((h, i) => {
      world.scheduler.at(t0 + i * roundNs, (now) => {
        for (let j = 0; j < n; j++) {
          const ip = ips[j];
          if (j === i || ip === undefined) continue;
          const err = h.device.ping(
            ip,
            { id, seq: j + 1, sizeBytes: 56, timeoutNs: EXCHANGE_TIMEOUT_NS },
            now,
            (r) => {
              results++;
              if (r.kind === "reply") matrix[i][j] = true;
              else if (r.kind === "error") why.set(i * n + j, `${r.text} (from ${formatIpv4(r.from)})`);
              else why.set(i * n + j, "no reply (timeout)");
            },
          );
          if (err !== null) {
            results++;
            why.set(i * n + j, sendErrorText(err));
          }
        }
      });
    });
    this.runUntilDone(
      t0 + Math.max(0, n - 1) * roundNs + EXCHANGE_TIMEOUT_NS + 1,
      () => results === expected,
    );
    let received = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        if (matrix[i][j]) received++;
        else failures.push({ from: vms[i], to: vms[j], why: why.get(i * n + j) ?? "no reply" });
      }
    }
    const pairs = n * (n - 1);
    return {
      vms,
      matrix,
      pairs,
      received,
      lossPercent: pairs === 0 ? 0 : Math.round(((pairs - received) / pairs) * 1000) / 10,
      failures,
    };
  }

  /**
   * The guest changes the MAC of its vNIC `nicIndex` (`ip link set eth0 address ...`), and the
   * hypervisor learns of it, as vSphere does: with "MAC address changes: reject" the vNIC then
   * receives nothing, with "forged transmits: reject" what it sends is dropped at the vswitch.
   */
  setGuestMac(vm: string, mac: number, nicIndex = 0): void {
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
    const h = this.vm(vm);
    h.device.sendRaw(nicIndex, bytes, this.world.now());
    this.world.runFor(runMs * 1e6);
  }

  /** Tables of the network's state, as arrays of plain rows (JSON-ready). */
  show(what: ShowWhat): Record<string, string | number | null>[] {
    const now = this.world.now();
    switch (what) {
      case "fdb":
        return this.built.macTables.flatMap(({ device, table, portName }) =>
          table.entries(now).map((e) => ({
            device,
            vlan: e.vid,
            mac: formatMac(e.mac),
            port: portName(e.port),
            type: e.isStatic ? "static" : "learned",
            ageSec: e.isStatic ? null : Math.round(e.ageNs / 1e6) / 1e3,
          })),
        );
      case "arp":
        return this.built.arpCaches.flatMap(({ device, table }) =>
          table(now).map((e) => ({
            device,
            interface: e.interface,
            ip: formatIpv4(e.ip),
            mac: e.mac === null ? null : formatMac(e.mac),
            state: e.state,
          })),
        );
      case "ports":
        return this.world.devices.flatMap((d) =>
          d.portNames.map((p, i) => {
            const link = this.world.linkAt(d, i);
            const side = link === null ? -1 : link.ends[0].device === d && link.ends[0].port === i ? 0 : 1;
            const c = d.portCounters[i];
            return {
              device: d.name,
              kind: d.kind,
              port: p,
              peer: link === null ? null : link.ends[side ^ 1].name,
              state: link === null ? "unconnected" : link.isUp ? "up" : "down",
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
          for (const [reason, count] of d.drops.entries())
            rows.push({ device: d.name, kind: d.kind, reason, count });
        }
        for (const l of this.world.links) {
          for (const [reason, count] of l.drops.entries())
            rows.push({ device: l.name, kind: "link", reason, count });
        }
        return rows;
      }
    }
  }
}
