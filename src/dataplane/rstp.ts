/**
 * The Rapid Spanning Tree Protocol engine (IEEE 802.1D-2004 clause 17), beside the devices like
 * the LACP engine (`lacp.ts`): it holds no frames and does no I/O. A bridge registers its ports
 * under opaque handles, hands it every RST BPDU it receives (parsed with `Stp.parseFrame`) and
 * every carrier change, calls `run(now)` when `nextTimerNs()` comes due, and asks
 * `isForwarding(port)` / `isLearning(port)` before it forwards or learns on a port. BPDUs to send
 * come out through `send` as `StpRepr`s (the bridge frames them with `Stp.emitFrame`); what
 * happens (roles, states, topology changes, a new root, BPDU guard) comes out through `onEvent`
 * with the time, and the ports whose learned MACs must go through `flush`.
 *
 * What it does, in the standard's terms:
 * - **Priority vectors** (§17.6): each port keeps the best message priority vector heard on it
 *   (root id, root path cost, designated bridge id, designated port id); vectors compare field
 *   by field, lower wins.
 * - **Role selection** (§17.21.25 updtRolesTree): the root path priority vector is the best of
 *   the bridge's own and each port's received vector plus that port's path cost; its port is
 *   the root port. Every other port's designated vector (root, our cost, us, the port) is
 *   compared with what the port heard: if ours is better the port is designated, else alternate
 *   (another bridge is designated there) or backup (we are, through another of our ports).
 * - **Port information** (§17.27): a superior or repeated message from a designated port is
 *   recorded and its information kept for 3 x its hello time (rcvdInfoWhile); when that runs out
 *   the information is aged and roles are selected again: that is how a silent failure (carrier
 *   up, no BPDUs) is found, within 6 s at the default hello time.
 * - **Role transitions** (§17.29): a designated port proposes; the bridge below puts its other
 *   ports in sync (discarding, or already agreed) and answers on its root port with an
 *   agreement; the proposer then goes learning and forwarding at once, so a point-to-point link
 *   comes up in about a round trip. Without an agreement (a shared link, a silent peer) a
 *   designated port goes learning after forward delay and forwarding after another. A root port
 *   forwards at once; an alternate or backup port discards and agrees to any proposal. Edge
 *   ports forward at once and stay out of the handshake.
 * - **Topology change** (§17.25): a non-edge port that goes forwarding sets TC in its BPDUs for
 *   2 x hello time (tcWhile; §17.21.7 newTcWhile says hello time + 1 s, the same at a 1 s hello)
 *   and every other learning or forwarding non-edge port is flushed; a TC received on a root or designated forwarding
 *   port flushes and propagates on every other such port. A port that stops learning is flushed.
 * - **Transmission** (§17.26): designated ports send every hello time; any port sends at once
 *   when it has something new to say (a proposal, an agreement, new information), at most
 *   `txHoldCount` BPDUs a second.
 * - **BPDU guard** (an operator feature, not in the standard): a port with `hasBpduGuard` that
 *   receives a BPDU is err-disabled (treated as down) until `reenablePort`.
 *
 * Simplified, as mstpd and Open vSwitch simplify it, and why it stays correct here:
 * - A port's state changes take effect at once (no wait for the hardware to stop forwarding),
 *   so the "recent root" and "recent backup" timers (rrWhile, rbWhile) have nothing to bridge:
 *   a port that leaves the root role is put discarding immediately instead, and a new root port
 *   may forward at once.
 * - No STP (version 0) compatibility: config and TCN BPDUs are counted and ignored, and the
 *   engine never falls back to sending them (`migrateTimeS` is accepted for that future work).
 * - No dispute mechanism (§17.21.10, a designated port hearing an inferior designated port
 *   that is learning), no automatic edge detection (edge is configured; a BPDU clears it until
 *   the port goes down and up), no MSTP (version 3 BPDUs are read as RST BPDUs by the codec).
 */

import { formatMac, type Mac } from "../wire/addr.ts";
import {
  type BpduPortRole,
  type BridgeId,
  bpduPortRoleBits,
  type StpConfigRepr,
  StpFlag,
  type StpRepr,
} from "../wire/stp.ts";

export type RstpRole = "root" | "designated" | "alternate" | "backup" | "disabled";
export type RstpState = "discarding" | "learning" | "forwarding";

export interface RstpBridgeConfig {
  bridgeMac: Mac;
  /** Bridge priority, a multiple of 4096 in 0..61440 (§17.13.7); lower wins the root. */
  priority?: number;
  helloTimeS?: number;
  maxAgeS?: number;
  forwardDelayS?: number;
  /** BPDUs a port may send per second (§17.13.12). */
  txHoldCount?: number;
  /** STP migration time (§17.13.9); kept for STP compatibility, which is not done yet. */
  migrateTimeS?: number;
}

export interface RstpPortConfig {
  /** 1..4095, the low 12 bits of the port identifier. */
  portNumber: number;
  /** A multiple of 16 in 0..240 (§17.13.10); lower wins ties. */
  priority?: number;
  /** Port path cost; default from `speedBps` by Table 17-3. */
  pathCost?: number;
  /** Link speed for the default path cost (1 Gb/s when neither is given). */
  speedBps?: number;
  /** Configured edge port (a host, not a bridge): forwards at once (§17.13.1 AdminEdge). */
  isEdge?: boolean;
  /** Err-disable the port when a BPDU arrives on it. */
  hasBpduGuard?: boolean;
  /** A point-to-point link (the proposal/agreement handshake needs one); default true. */
  isPointToPoint?: boolean;
  isUp?: boolean;
}

export type RstpEvent<H> =
  | { kind: "role"; timeNs: number; port: H; from: RstpRole; to: RstpRole }
  | { kind: "state"; timeNs: number; port: H; from: RstpState; to: RstpState }
  | {
      kind: "topology-change";
      timeNs: number;
      /** The port that went forwarding ("detected") or that heard TC ("received"). */
      port: H;
      cause: "detected" | "received";
      /** Ports whose learned MACs must be flushed (not the origin, not edge ports). */
      flushPorts: H[];
    }
  | { kind: "flush"; timeNs: number; port: H; why: string }
  | { kind: "new-root"; timeNs: number; rootId: BridgeId; rootPort: H | null; rootPathCost: number }
  | { kind: "info-aged"; timeNs: number; port: H }
  | { kind: "edge-lost"; timeNs: number; port: H }
  | { kind: "bpdu-guard"; timeNs: number; port: H };

export interface RstpCallbacks<H> {
  /** A BPDU to send on `port` (must not call back into the engine synchronously). */
  send(port: H, bpdu: StpRepr): void;
  onEvent?(event: RstpEvent<H>): void;
  /** Learned MACs on these ports are stale (a topology change, or the port stopped learning). */
  flush?(ports: readonly H[], nowNs: number): void;
}

export interface RstpPortStatus<H> {
  port: H;
  portNumber: number;
  /** "128.3": priority and number. */
  portId: string;
  role: RstpRole;
  state: RstpState;
  pathCost: number;
  isUp: boolean;
  isEdge: boolean;
  isErrDisabled: boolean;
  isPointToPoint: boolean;
  /** The designated bridge and port on this link ("32768.02:00:00:00:00:01", "128.1"). */
  designatedBridge: string | null;
  designatedPort: string | null;
  bpdusSent: number;
  bpdusReceived: number;
  /** Version 0 (config, TCN) BPDUs, ignored: no STP compatibility. */
  stpBpdusIgnored: number;
  topologyChangesReceived: number;
  /** Why the port is in this role and state, in words. */
  why: string;
}

export interface RstpStatus<H> {
  bridgeId: string;
  rootId: string;
  isRoot: boolean;
  rootPort: H | null;
  rootPathCost: number;
  topologyChanges: number;
  lastTopologyChangeNs: number | null;
  ports: RstpPortStatus<H>[];
}

/** Default port path cost for a link speed (§17.14, Table 17-3): 20 Tb/s divided by the speed. */
export function pathCostForSpeed(speedBps: number): number {
  if (!(speedBps > 0)) throw new RangeError(`rstp: speed ${speedBps} b/s`);
  return Math.min(200_000_000, Math.max(1, Math.round(20e12 / speedBps)));
}

/** "32768.02:00:00:00:00:01": priority (with the system id extension) and MAC. */
export function formatBridgeId(id: BridgeId): string {
  return `${id.priority + id.systemIdExtension}.${formatMac(id.mac)}`;
}

/** A priority vector (§17.6), the port identifiers packed as on the wire. */
interface Vector {
  rootId: BridgeId;
  rootPathCost: number;
  designatedBridgeId: BridgeId;
  designatedPortId: number;
}

interface Times {
  messageAgeS: number;
  maxAgeS: number;
  helloTimeS: number;
  forwardDelayS: number;
}

function compareIds(a: BridgeId, b: BridgeId): number {
  const pa = a.priority + a.systemIdExtension;
  const pb = b.priority + b.systemIdExtension;
  return pa !== pb ? pa - pb : a.mac - b.mac;
}

/** Negative when `a` is the better vector (§17.6: lower is better, field by field). */
function compareVectors(a: Vector, b: Vector): number {
  return (
    compareIds(a.rootId, b.rootId) ||
    a.rootPathCost - b.rootPathCost ||
    compareIds(a.designatedBridgeId, b.designatedBridgeId) ||
    a.designatedPortId - b.designatedPortId
  );
}

function sameTimes(a: Times, b: Times): boolean {
  return (
    a.messageAgeS === b.messageAgeS &&
    a.maxAgeS === b.maxAgeS &&
    a.helloTimeS === b.helloTimeS &&
    a.forwardDelayS === b.forwardDelayS
  );
}

const S = 1e9;
/** A timer that is not running: "is zero" in the standard's terms. */
const OFF = 0;
const NEVER = Number.POSITIVE_INFINITY;

interface Port<H> {
  handle: H;
  portNumber: number;
  priority: number;
  portId: number;
  pathCost: number;
  isAdminEdge: boolean;
  hasBpduGuard: boolean;
  isPointToPoint: boolean;
  isUp: boolean;
  isErrDisabled: boolean;
  isOperEdge: boolean;
  /** Where the port's priority vector came from (§17.19.10 infoIs). */
  infoIs: "disabled" | "mine" | "aged" | "received";
  portPriority: Vector | null;
  portTimes: Times | null;
  designatedPriority: Vector | null;
  designatedTimes: Times | null;
  role: RstpRole;
  isLearning: boolean;
  isForwarding: boolean;
  /** Timers as deadlines in ns; OFF (0) when not running. */
  rcvdInfoWhileNs: number;
  fdWhileNs: number;
  tcWhileNs: number;
  helloWhenNs: number;
  isProposing: boolean;
  isProposed: boolean;
  isAgree: boolean;
  isAgreed: boolean;
  isSync: boolean;
  isSynced: boolean;
  isNewInfo: boolean;
  isUpdtInfo: boolean;
  txWindowNs: number;
  txInWindow: number;
  bpdusSent: number;
  bpdusReceived: number;
  stpBpdusIgnored: number;
  topologyChangesReceived: number;
}

export class Rstp<H> {
  private readonly ports: Port<H>[] = [];
  private readonly bridgeId: BridgeId;
  private readonly bridgeTimes: Times;
  private readonly txHoldCount: number;
  readonly migrateTimeS: number;
  private rootVector: Vector;
  private rootTimes: Times;
  private rootPort: Port<H> | null = null;
  private isReselect = true;
  private topologyChanges = 0;
  private lastTopologyChangeNs: number | null = null;

  constructor(
    config: RstpBridgeConfig,
    private readonly callbacks: RstpCallbacks<H>,
  ) {
    const priority = config.priority ?? 32768;
    if (!(Number.isInteger(priority) && priority >= 0 && priority <= 61440 && priority % 4096 === 0))
      throw new RangeError(`rstp: bridge priority ${priority} is not a multiple of 4096 in 0..61440`);
    this.bridgeId = { priority, systemIdExtension: 0, mac: config.bridgeMac };
    this.bridgeTimes = {
      messageAgeS: 0,
      maxAgeS: config.maxAgeS ?? 20,
      helloTimeS: config.helloTimeS ?? 2,
      forwardDelayS: config.forwardDelayS ?? 15,
    };
    // §17.14 Table 17-5 ranges, and 2 x (forward delay - 1) >= max age >= 2 x (hello + 1).
    const t = this.bridgeTimes;
    if (!(t.helloTimeS >= 1 && t.helloTimeS <= 10))
      throw new RangeError(`rstp: hello time ${t.helloTimeS} s`);
    if (!(t.maxAgeS >= 6 && t.maxAgeS <= 40)) throw new RangeError(`rstp: max age ${t.maxAgeS} s`);
    if (!(t.forwardDelayS >= 4 && t.forwardDelayS <= 30))
      throw new RangeError(`rstp: forward delay ${t.forwardDelayS} s`);
    this.txHoldCount = config.txHoldCount ?? 6;
    if (!(Number.isInteger(this.txHoldCount) && this.txHoldCount >= 1 && this.txHoldCount <= 10))
      throw new RangeError(`rstp: transmit hold count ${this.txHoldCount}`);
    this.migrateTimeS = config.migrateTimeS ?? 3;
    this.rootVector = this.ownVector();
    this.rootTimes = { ...this.bridgeTimes };
  }

  addPort(handle: H, config: RstpPortConfig, nowNs = 0): void {
    if (this.ports.some((p) => p.handle === handle)) throw new Error("rstp: port registered twice");
    const n = config.portNumber;
    if (!(Number.isInteger(n) && n >= 1 && n <= 4095))
      throw new RangeError(`rstp: port number ${n} is not 1..4095`);
    if (this.ports.some((p) => p.portNumber === n)) throw new Error(`rstp: port number ${n} used twice`);
    const priority = config.priority ?? 128;
    if (!(Number.isInteger(priority) && priority >= 0 && priority <= 240 && priority % 16 === 0))
      throw new RangeError(`rstp: port priority ${priority} is not a multiple of 16 in 0..240`);
    const pathCost = config.pathCost ?? pathCostForSpeed(config.speedBps ?? 1e9);
    if (!(Number.isInteger(pathCost) && pathCost >= 1 && pathCost <= 200_000_000))
      throw new RangeError(`rstp: path cost ${pathCost} is not 1..200000000`);
    const isAdminEdge = config.isEdge ?? false;
    this.ports.push({
      handle,
      portNumber: n,
      priority,
      portId: (priority << 8) | n,
      pathCost,
      isAdminEdge,
      hasBpduGuard: config.hasBpduGuard ?? false,
      isPointToPoint: config.isPointToPoint ?? true,
      isUp: false,
      isErrDisabled: false,
      isOperEdge: isAdminEdge,
      infoIs: "disabled",
      portPriority: null,
      portTimes: null,
      designatedPriority: null,
      designatedTimes: null,
      role: "disabled",
      isLearning: false,
      isForwarding: false,
      rcvdInfoWhileNs: OFF,
      fdWhileNs: OFF,
      tcWhileNs: OFF,
      helloWhenNs: OFF,
      isProposing: false,
      isProposed: false,
      isAgree: false,
      isAgreed: false,
      isSync: false,
      isSynced: true,
      isNewInfo: false,
      isUpdtInfo: false,
      txWindowNs: nowNs,
      txInWindow: 0,
      bpdusSent: 0,
      bpdusReceived: 0,
      stpBpdusIgnored: 0,
      topologyChangesReceived: 0,
    });
    if (config.isUp ?? true) this.setPortUp(handle, true, nowNs);
  }

  /** Carrier up or down (§17.21 portEnabled). */
  setPortUp(handle: H, isUp: boolean, nowNs: number): void {
    const p = this.port(handle);
    if (p.isUp === isUp) return;
    p.isUp = isUp;
    if (this.isEnabled(p)) this.enable(p, nowNs);
    else this.disable(p, nowNs);
    this.settle(nowNs);
  }

  /** Brings an err-disabled port (BPDU guard) back; it starts again as a configured edge port. */
  reenablePort(handle: H, nowNs: number): void {
    const p = this.port(handle);
    if (!p.isErrDisabled) return;
    p.isErrDisabled = false;
    if (this.isEnabled(p)) this.enable(p, nowNs);
    this.settle(nowNs);
  }

  /** A BPDU received on `handle` (parsed and validated by the bridge). */
  receive(handle: H, bpdu: StpRepr, nowNs: number): void {
    const p = this.port(handle);
    if (!this.isEnabled(p)) return;
    p.bpdusReceived++;
    if (p.hasBpduGuard) {
      // An operator said nothing that speaks spanning tree lives behind this port.
      p.isErrDisabled = true;
      this.emit({ kind: "bpdu-guard", timeNs: nowNs, port: p.handle });
      this.disable(p, nowNs);
      this.settle(nowNs);
      return;
    }
    if (p.isOperEdge) {
      // A bridge behind an edge port: it must take part in the tree (§17.19.17 operEdge).
      p.isOperEdge = false;
      this.emit({ kind: "edge-lost", timeNs: nowNs, port: p.handle });
    }
    if (bpdu.type !== "rst") {
      p.stpBpdusIgnored++;
      this.settle(nowNs);
      return;
    }
    this.receiveRst(p, bpdu, nowNs);
    this.settle(nowNs);
  }

  /** Runs what is due at `nowNs`: information aging, forward delay, hello and held BPDUs. */
  run(nowNs: number): void {
    for (const p of this.ports) {
      if (!this.isEnabled(p)) continue;
      if (p.infoIs === "received" && p.rcvdInfoWhileNs !== OFF && nowNs >= p.rcvdInfoWhileNs) {
        // The designated bridge on this link went quiet: forget what it said (§17.27 AGED).
        p.infoIs = "aged";
        p.rcvdInfoWhileNs = OFF;
        this.isReselect = true;
        this.emit({ kind: "info-aged", timeNs: nowNs, port: p.handle });
      }
      if (nowNs >= p.helloWhenNs) {
        p.helloWhenNs = nowNs + this.bridgeTimes.helloTimeS * S;
        if (p.role === "designated" || (p.role === "root" && this.isTcRunning(p, nowNs))) p.isNewInfo = true;
      }
    }
    this.settle(nowNs);
  }

  /** When `run` must be called next (Infinity when nothing is pending). */
  nextTimerNs(): number {
    let t = NEVER;
    const at = (deadline: number) => {
      if (deadline !== OFF && deadline < t) t = deadline;
    };
    for (const p of this.ports) {
      if (!this.isEnabled(p)) continue;
      if (p.infoIs === "received") at(p.rcvdInfoWhileNs);
      at(p.helloWhenNs);
      if ((p.role === "designated" || p.role === "root") && !p.isForwarding) at(p.fdWhileNs);
      if (p.isNewInfo) at(Math.max(p.txWindowNs + S, 1));
    }
    return t;
  }

  state(handle: H): RstpState {
    const p = this.port(handle);
    return p.isForwarding ? "forwarding" : p.isLearning ? "learning" : "discarding";
  }

  isForwarding(handle: H): boolean {
    return this.port(handle).isForwarding;
  }

  isLearning(handle: H): boolean {
    return this.port(handle).isLearning;
  }

  role(handle: H): RstpRole {
    return this.port(handle).role;
  }

  isRoot(): boolean {
    return this.rootPort === null;
  }

  status(): RstpStatus<H> {
    return {
      bridgeId: formatBridgeId(this.bridgeId),
      rootId: formatBridgeId(this.rootVector.rootId),
      isRoot: this.isRoot(),
      rootPort: this.rootPort?.handle ?? null,
      rootPathCost: this.rootVector.rootPathCost,
      topologyChanges: this.topologyChanges,
      lastTopologyChangeNs: this.lastTopologyChangeNs,
      ports: this.ports.map((p) => ({
        port: p.handle,
        portNumber: p.portNumber,
        portId: formatPortId(p.portId),
        role: p.role,
        state: this.state(p.handle),
        pathCost: p.pathCost,
        isUp: p.isUp,
        isEdge: p.isOperEdge,
        isErrDisabled: p.isErrDisabled,
        isPointToPoint: p.isPointToPoint,
        designatedBridge: p.portPriority ? formatBridgeId(p.portPriority.designatedBridgeId) : null,
        designatedPort: p.portPriority ? formatPortId(p.portPriority.designatedPortId) : null,
        bpdusSent: p.bpdusSent,
        bpdusReceived: p.bpdusReceived,
        stpBpdusIgnored: p.stpBpdusIgnored,
        topologyChangesReceived: p.topologyChangesReceived,
        why: this.why(p),
      })),
    };
  }

  // ---- port information (§17.27) -----------------------------------------------------------

  private receiveRst(p: Port<H>, bpdu: StpConfigRepr, nowNs: number): void {
    const msg: Vector = {
      rootId: { ...bpdu.rootId },
      rootPathCost: bpdu.rootPathCost,
      designatedBridgeId: { ...bpdu.bridgeId },
      designatedPortId: (bpdu.portId.priority << 8) | bpdu.portId.number,
    };
    const times: Times = {
      messageAgeS: bpdu.messageAgeS,
      maxAgeS: bpdu.maxAgeS,
      helloTimeS: bpdu.helloTimeS,
      forwardDelayS: bpdu.forwardDelayS,
    };
    const role = roleOf(bpdu.flags);
    const current = p.portPriority;
    const cmp = current === null ? -1 : compareVectors(msg, current);
    // The same designated port again, even with worse news, replaces what it said (§17.21.8).
    const isSameSender =
      current !== null &&
      compareIds(msg.designatedBridgeId, current.designatedBridgeId) === 0 &&
      msg.designatedPortId === current.designatedPortId;
    if (role === "designated") {
      if (cmp < 0 || (isSameSender && (cmp !== 0 || !sameTimes(times, p.portTimes!)))) {
        // Superior designated information (§17.27 SUPERIOR_DESIGNATED).
        if (times.messageAgeS + 1 > times.maxAgeS) return; // too old to use (§17.21.23)
        p.isAgreed = false;
        p.isProposing = false;
        p.isAgree = p.isAgree && cmp <= 0;
        p.portPriority = msg;
        p.portTimes = times;
        p.infoIs = "received";
        p.isProposed = (bpdu.flags & StpFlag.Proposal) !== 0;
        p.rcvdInfoWhileNs = nowNs + 3 * times.helloTimeS * S;
        this.isReselect = true;
      } else if (cmp === 0 && p.infoIs === "received") {
        // Repeated designated information: only keeps it alive (§17.27 REPEATED_DESIGNATED).
        if ((bpdu.flags & StpFlag.Proposal) !== 0) p.isProposed = true;
        p.rcvdInfoWhileNs = nowNs + 3 * times.helloTimeS * S;
      } else {
        // Inferior designated information: our better word goes back at once, so a bridge that
        // lost its root path learns of ours without waiting for the hello timer.
        p.isNewInfo = true;
      }
    } else if (role === "root" || role === "alternate-or-backup") {
      // A root or alternate port answering us (§17.21.2 recordAgreement): an agreement counts
      // on a point-to-point link and for the root we announce.
      const mine = p.designatedPriority;
      if (
        (bpdu.flags & StpFlag.Agreement) !== 0 &&
        p.isPointToPoint &&
        mine !== null &&
        compareIds(msg.rootId, mine.rootId) === 0 &&
        p.role === "designated"
      ) {
        p.isAgreed = true;
        p.isProposing = false;
      }
    }
    if ((bpdu.flags & StpFlag.TopologyChange) !== 0) this.receivedTc(p, nowNs);
  }

  // ---- role selection (§17.21.25) ----------------------------------------------------------

  private ownVector(): Vector {
    return { rootId: this.bridgeId, rootPathCost: 0, designatedBridgeId: this.bridgeId, designatedPortId: 0 };
  }

  private selectRoles(nowNs: number): void {
    let best = this.ownVector();
    let bestPort: Port<H> | null = null;
    for (const p of this.ports) {
      if (!this.isEnabled(p) || p.infoIs !== "received" || p.portPriority === null) continue;
      const v = p.portPriority;
      // Our own BPDU heard back (a loop to ourselves) is no path to the root.
      if (compareIds(v.designatedBridgeId, this.bridgeId) === 0) continue;
      const candidate: Vector = { ...v, rootPathCost: v.rootPathCost + p.pathCost };
      const cmp = compareVectors(candidate, best);
      if (cmp < 0 || (cmp === 0 && bestPort !== null && p.portId < bestPort.portId)) {
        best = candidate;
        bestPort = p;
      }
    }
    const oldRoot = this.rootVector.rootId;
    const oldRootPort = this.rootPort;
    this.rootVector = {
      rootId: best.rootId,
      rootPathCost: best.rootPathCost,
      designatedBridgeId: this.bridgeId,
      designatedPortId: 0,
    };
    this.rootPort = bestPort;
    this.rootTimes =
      bestPort === null
        ? { ...this.bridgeTimes }
        : { ...bestPort.portTimes!, messageAgeS: bestPort.portTimes!.messageAgeS + 1 };
    if (compareIds(oldRoot, best.rootId) !== 0 || oldRootPort !== bestPort) {
      this.emit({
        kind: "new-root",
        timeNs: nowNs,
        rootId: { ...best.rootId },
        rootPort: bestPort?.handle ?? null,
        rootPathCost: best.rootPathCost,
      });
    }
    for (const p of this.ports) {
      const designated: Vector = {
        rootId: best.rootId,
        rootPathCost: best.rootPathCost,
        designatedBridgeId: this.bridgeId,
        designatedPortId: p.portId,
      };
      p.designatedPriority = designated;
      p.designatedTimes = { ...this.rootTimes, helloTimeS: this.bridgeTimes.helloTimeS };
      let role: RstpRole;
      if (!this.isEnabled(p)) role = "disabled";
      else if (p === bestPort) role = "root";
      else if (p.infoIs === "received" && p.portPriority !== null) {
        if (compareVectors(designated, p.portPriority) < 0) role = "designated";
        else if (compareIds(p.portPriority.designatedBridgeId, this.bridgeId) === 0) role = "backup";
        else role = "alternate";
      } else role = "designated";
      p.isUpdtInfo =
        role === "designated" &&
        (p.infoIs !== "mine" ||
          p.portPriority === null ||
          compareVectors(designated, p.portPriority) !== 0 ||
          !sameTimes(p.designatedTimes, p.portTimes!));
      this.setRole(p, role, nowNs);
    }
    for (const p of this.ports) if (p.isUpdtInfo) this.updateInfo(p);
  }

  /** Our designated information replaces the port's (§17.27 UPDATE). */
  private updateInfo(p: Port<H>): void {
    const isBetterOrSame =
      p.infoIs === "mine" &&
      p.portPriority !== null &&
      compareVectors(p.designatedPriority!, p.portPriority) <= 0;
    p.isProposing = false;
    p.isProposed = false;
    p.isAgreed = p.isAgreed && isBetterOrSame;
    p.isSynced = p.isSynced && p.isAgreed;
    p.portPriority = { ...p.designatedPriority! };
    p.portTimes = { ...p.designatedTimes! };
    p.isUpdtInfo = false;
    p.infoIs = "mine";
    p.rcvdInfoWhileNs = OFF;
    p.isNewInfo = true;
  }

  private setRole(p: Port<H>, role: RstpRole, nowNs: number): void {
    const from = p.role;
    if (from === role) return;
    p.role = role;
    this.emit({ kind: "role", timeNs: nowNs, port: p.handle, from, to: role });
    if (role === "root") {
      p.fdWhileNs = nowNs + this.rootTimes.forwardDelayS * S;
    } else if (role === "designated") {
      // A port that was root is put discarding at once: that is what rrWhile guards in the
      // standard, with a delay this engine does not have.
      if (from === "root") this.setLearnForward(p, false, false, nowNs, "left the root role");
      if (!p.isForwarding) p.fdWhileNs = nowNs + this.rootTimes.forwardDelayS * S;
    } else {
      // Alternate, backup, disabled: blocked, and in sync by definition (§17.29 BLOCK_PORT).
      this.setLearnForward(p, false, false, nowNs, `became ${role}`);
      p.fdWhileNs = nowNs + this.rootTimes.forwardDelayS * S;
      p.isSynced = true;
      p.isSync = false;
      p.isProposing = false;
      p.isAgreed = false;
      p.isAgree = false;
    }
  }

  // ---- role transitions (§17.29) -----------------------------------------------------------

  private isAllSynced(except: Port<H>): boolean {
    return this.ports.every((q) => q === except || q.isSynced || !this.isEnabled(q));
  }

  private setSyncTree(): void {
    for (const q of this.ports) q.isSync = true;
  }

  /** One pass of every port's role transitions; true when something changed. */
  private stepTransitions(nowNs: number): boolean {
    let isChanged = false;
    for (const p of this.ports) {
      if (!this.isEnabled(p)) continue;
      const fdExpired = p.fdWhileNs !== OFF && nowNs >= p.fdWhileNs;
      switch (p.role) {
        case "root": {
          if (p.isProposed && !p.isAgree) {
            // A proposal from above: block what could loop below before agreeing.
            this.setSyncTree();
            p.isProposed = false;
            isChanged = true;
          }
          if ((this.isAllSynced(p) && !p.isAgree) || (p.isProposed && p.isAgree)) {
            p.isProposed = false;
            p.isSync = false;
            p.isAgree = true;
            p.isNewInfo = true;
            isChanged = true;
          }
          p.isSynced = true;
          if (!p.isForwarding) {
            this.setLearnForward(p, true, true, nowNs, "");
            isChanged = true;
          }
          break;
        }
        case "designated": {
          if (!p.isForwarding && !p.isAgreed && !p.isProposing && !p.isOperEdge) {
            p.isProposing = true;
            p.isNewInfo = true;
            isChanged = true;
          }
          const isInSync = (!p.isLearning && !p.isForwarding) || p.isAgreed || p.isOperEdge;
          if ((isInSync && !p.isSynced) || (p.isSync && p.isSynced)) {
            p.isSynced = true;
            p.isSync = false;
            isChanged = true;
          }
          if (p.isSync && !p.isSynced && !p.isOperEdge && (p.isLearning || p.isForwarding)) {
            this.setLearnForward(p, false, false, nowNs, "sync for a proposal from the root side");
            p.fdWhileNs = nowNs + this.rootTimes.forwardDelayS * S;
            isChanged = true;
          }
          const mayAdvance = (fdExpired || p.isAgreed || p.isOperEdge) && !p.isSync;
          if (mayAdvance && !p.isLearning) {
            this.setLearnForward(p, true, false, nowNs, "");
            p.fdWhileNs = nowNs + this.rootTimes.forwardDelayS * S;
            isChanged = true;
          } else if (mayAdvance && p.isLearning && !p.isForwarding) {
            // Learning after forward delay, or straight through on agreement or at an edge.
            const isNow = p.isAgreed || p.isOperEdge || fdExpired;
            if (isNow) {
              this.setLearnForward(p, true, true, nowNs, "");
              p.fdWhileNs = OFF;
              // Forwarding is as good as agreed from here on (§17.29 DESIGNATED_FORWARD): only
              // worse information (UPDATE) takes it back and makes a later sync block the port.
              p.isAgreed = true;
              isChanged = true;
            }
          }
          break;
        }
        case "alternate":
        case "backup": {
          if (p.isProposed) {
            // Agreeing costs nothing: this port stays discarding (§17.29 ALTERNATE_AGREED).
            p.isProposed = false;
            p.isAgree = true;
            p.isNewInfo = true;
            isChanged = true;
          }
          break;
        }
        case "disabled":
          break;
      }
    }
    return isChanged;
  }

  /** Runs selection and transitions until nothing moves, then transmits what is new. */
  private settle(nowNs: number): void {
    for (let i = 0; i < 32; i++) {
      let isChanged = false;
      if (this.isReselect) {
        this.isReselect = false;
        this.selectRoles(nowNs);
        isChanged = true;
      }
      if (this.stepTransitions(nowNs)) isChanged = true;
      if (!isChanged) break;
    }
    for (const p of this.ports) if (p.isNewInfo && this.isEnabled(p)) this.transmit(p, nowNs);
  }

  // ---- states, topology change (§17.25, §17.30) --------------------------------------------

  private setLearnForward(
    p: Port<H>,
    isLearning: boolean,
    isForwarding: boolean,
    nowNs: number,
    why: string,
  ): void {
    const from = this.state(p.handle);
    const wasLearning = p.isLearning;
    const wasForwarding = p.isForwarding;
    p.isLearning = isLearning;
    p.isForwarding = isForwarding;
    const to = this.state(p.handle);
    if (from !== to) this.emit({ kind: "state", timeNs: nowNs, port: p.handle, from, to });
    if (wasLearning && !isLearning) {
      // What it learned may now be reachable another way (§17.25 INACTIVE fdbFlush).
      p.tcWhileNs = OFF;
      this.emit({ kind: "flush", timeNs: nowNs, port: p.handle, why: why || "stopped learning" });
      this.callbacks.flush?.([p.handle], nowNs);
    }
    if (!wasForwarding && isForwarding && !p.isOperEdge && (p.role === "root" || p.role === "designated")) {
      this.topologyChangeFrom(p, "detected", nowNs);
    }
  }

  private isTcRunning(p: Port<H>, nowNs: number): boolean {
    return p.tcWhileNs !== OFF && nowNs < p.tcWhileNs;
  }

  /** Starts tcWhile unless running: TC goes out in BPDUs for 2 x hello (§17.21.7, see the top). */
  private newTcWhile(p: Port<H>, nowNs: number): void {
    if (!this.isTcRunning(p, nowNs)) {
      p.tcWhileNs = nowNs + 2 * this.bridgeTimes.helloTimeS * S;
      p.isNewInfo = true;
    }
  }

  private receivedTc(p: Port<H>, nowNs: number): void {
    p.topologyChangesReceived++;
    // Only an active port (root or designated, forwarding) passes a TC on (§17.25 NOTIFIED_TC).
    if ((p.role === "root" || p.role === "designated") && p.isForwarding && !p.isOperEdge) {
      this.topologyChangeFrom(p, "received", nowNs);
    }
  }

  /** The TC at `origin` (detected or heard) flushes and propagates on every other active port. */
  private topologyChangeFrom(origin: Port<H>, cause: "detected" | "received", nowNs: number): void {
    if (cause === "detected") this.newTcWhile(origin, nowNs);
    const flushPorts: Port<H>[] = [];
    for (const q of this.ports) {
      if (q === origin || q.isOperEdge || !this.isEnabled(q) || !q.isLearning) continue;
      flushPorts.push(q);
      if (q.isForwarding) this.newTcWhile(q, nowNs);
    }
    this.topologyChanges++;
    this.lastTopologyChangeNs = nowNs;
    const handles = flushPorts.map((q) => q.handle);
    this.emit({ kind: "topology-change", timeNs: nowNs, port: origin.handle, cause, flushPorts: handles });
    if (handles.length > 0) this.callbacks.flush?.(handles, nowNs);
  }

  // ---- transmission (§17.26) ---------------------------------------------------------------

  private transmit(p: Port<H>, nowNs: number): void {
    if (p.role === "disabled") return;
    if (nowNs >= p.txWindowNs + S) {
      p.txWindowNs = nowNs;
      p.txInWindow = 0;
    }
    if (p.txInWindow >= this.txHoldCount) return; // held: nextTimerNs names the window's end
    p.txInWindow++;
    p.isNewInfo = false;
    p.bpdusSent++;
    const v = p.designatedPriority!;
    const t = p.designatedTimes!;
    const role: BpduPortRole =
      p.role === "root" ? "root" : p.role === "designated" ? "designated" : "alternate-or-backup";
    let flags = bpduPortRoleBits(role);
    if (this.isTcRunning(p, nowNs)) flags |= StpFlag.TopologyChange;
    if (p.role === "designated" && p.isProposing) flags |= StpFlag.Proposal;
    if (p.isLearning) flags |= StpFlag.Learning;
    if (p.isForwarding) flags |= StpFlag.Forwarding;
    if (p.isAgree) flags |= StpFlag.Agreement;
    this.callbacks.send(p.handle, {
      type: "rst",
      version: 2,
      flags,
      rootId: { ...v.rootId },
      rootPathCost: v.rootPathCost,
      bridgeId: { ...this.bridgeId },
      portId: { priority: p.priority, number: p.portNumber },
      messageAgeS: t.messageAgeS,
      maxAgeS: t.maxAgeS,
      helloTimeS: this.bridgeTimes.helloTimeS,
      forwardDelayS: t.forwardDelayS,
    });
  }

  // ---- ports coming and going --------------------------------------------------------------

  private isEnabled(p: Port<H>): boolean {
    return p.isUp && !p.isErrDisabled;
  }

  private enable(p: Port<H>, nowNs: number): void {
    p.isOperEdge = p.isAdminEdge;
    p.infoIs = "aged";
    p.portPriority = null;
    p.portTimes = null;
    p.isAgreed = false;
    p.isAgree = false;
    p.isProposed = false;
    p.isProposing = false;
    // The first BPDU goes out at once as new information; the hello timer follows it.
    p.helloWhenNs = nowNs + this.bridgeTimes.helloTimeS * S;
    p.txWindowNs = nowNs;
    p.txInWindow = 0;
    this.isReselect = true;
  }

  private disable(p: Port<H>, nowNs: number): void {
    p.infoIs = "disabled";
    p.portPriority = null;
    p.portTimes = null;
    p.rcvdInfoWhileNs = OFF;
    p.tcWhileNs = OFF;
    p.isNewInfo = false;
    this.setLearnForward(p, false, false, nowNs, p.isErrDisabled ? "err-disabled" : "link down");
    this.isReselect = true;
  }

  private port(handle: H): Port<H> {
    const p = this.ports.find((x) => x.handle === handle);
    if (p === undefined) throw new Error("rstp: unknown port");
    return p;
  }

  private emit(e: RstpEvent<H>): void {
    this.callbacks.onEvent?.(e);
  }

  private why(p: Port<H>): string {
    if (p.isErrDisabled) return "err-disabled: a BPDU arrived on a BPDU guard port";
    if (!p.isUp) return "link down";
    const via = p.portPriority
      ? `${formatBridgeId(p.portPriority.designatedBridgeId)} port ${formatPortId(p.portPriority.designatedPortId)}`
      : "";
    switch (p.role) {
      case "root":
        return `best path to the root ${formatBridgeId(this.rootVector.rootId)}, cost ${this.rootVector.rootPathCost}, via ${via}`;
      case "alternate":
        return `another path to the root, via ${via}: blocked while the root port works`;
      case "backup":
        return `this bridge's port ${formatPortId(p.portPriority!.designatedPortId)} is designated on the same link`;
      case "disabled":
        return "disabled";
      case "designated":
        if (p.isOperEdge) return "edge port";
        if (p.isForwarding) return "designated: the best path to the root for this link";
        return p.isProposing
          ? "designated, proposing: waiting for an agreement or forward delay"
          : "designated, waiting for forward delay";
    }
  }
}

function roleOf(flags: number): BpduPortRole {
  const bits = (flags & StpFlag.PortRoleMask) >>> 2;
  return (["unknown", "alternate-or-backup", "root", "designated"] as const)[bits];
}

function formatPortId(id: number): string {
  return `${id >>> 8}.${id & 0xfff}`;
}
