/**
 * The port core every layer-2 device shares (the vswitch, the physical switch, the NIC with its
 * embedded switch): per-port counters, carrier state, the scratch list of egress ports of one
 * decision, transmission, and the one way to refuse a frame (a typed reason code counted in
 * `drops`, the port's drop counter, and a trace record when someone is tracing). A device owns
 * one and keeps only its forwarding decisions; before this, each device carried its own copy and
 * the copies had drifted (only the vswitch gave drop codes).
 *
 * Port indexes past the device's front ports are internal ports (a switch's SVIs): they have
 * counters too, and the device names them through `nameOf`.
 */

import { DropCounters, newPortCounters, type PortCounters } from "./counters.ts";
import type { DeviceEnv } from "./device.ts";
import type { Frame } from "./frame.ts";
import type { HopAction, HopFacts, HopKind, HopRecord } from "./trace.ts";

export class PortCore {
  /** Front port names, indexed by port number. */
  readonly names: readonly string[];
  /** Counters of the front ports, then of the internal ports. */
  readonly counters: readonly PortCounters[];
  /** Carrier per front port (true until the world says otherwise). */
  readonly isUp: boolean[];
  readonly drops = new DropCounters();
  /** Scratch egress list of one decision; devices fill `out[0..n)` and call `emit`. */
  readonly out: Int32Array;
  env: DeviceEnv | null = null;

  constructor(
    readonly device: string,
    readonly kind: HopKind,
    names: readonly string[],
    internalPorts = 0,
    /** How a port (front or internal) is named in trace records; `vid` is the decision's VLAN. */
    private readonly nameOf: (port: number, vid: number | null) => string = (port) => names[port] ?? "?",
    /** The hop kind of records about port `port` (a NIC's VFs are `vf` hops). */
    private readonly kindOf: ((port: number) => HopKind) | null = null,
  ) {
    this.names = names;
    const counters: PortCounters[] = [];
    for (let i = 0; i < names.length + internalPorts; i++) counters.push(newPortCounters());
    this.counters = counters;
    this.isUp = names.map(() => true);
    this.out = new Int32Array(names.length + internalPorts + 1);
  }

  get isTracing(): boolean {
    return this.env?.isTracing === true;
  }

  /** Counts a frame received on `port`. */
  countRx(port: number, frame: Frame): void {
    const pc = this.counters[port];
    pc.rxFrames++;
    pc.rxBytes += frame.length;
  }

  /** Counts a frame handed to an internal port (the device's own consumer). */
  countTx(port: number, frame: Frame): void {
    const pc = this.counters[port];
    pc.txFrames++;
    pc.txBytes += frame.length;
  }

  /** Sends `frame` out of front port `port`: padded as its medium pads, counted, handed to the world. */
  transmit(port: number, frame: Frame): void {
    const env = this.env as DeviceEnv;
    const min = env.padTo?.[port] ?? 0;
    if (frame.length < min) frame.padTo(min);
    const pc = this.counters[port];
    pc.txFrames++;
    pc.txBytes += frame.length;
    env.transmit(port, frame);
  }

  /**
   * Refuses a frame that came in on `port` (front or internal): the reason code is counted, the
   * port's drop counter goes up, and a trace record says why (the text is built only when
   * someone is tracing).
   */
  drop(
    port: number,
    frame: Frame,
    nowNs: number,
    vid: number | null,
    code: string,
    reason: () => string,
  ): void {
    this.drops.add(code);
    this.counters[port].drops++;
    if (this.env?.isTracing)
      this.recordAt(
        nowNs,
        frame,
        this.nameOf(port, vid),
        null,
        vid,
        "drop",
        reason(),
        code,
        this.kindOf === null ? this.kind : this.kindOf(port),
      );
  }

  /** A trace record for a decision on a frame from port `port` (callers check `isTracing`). */
  record(
    nowNs: number,
    frame: Frame,
    port: number,
    out: string | null,
    vid: number | null,
    action: HopAction,
    reason: string,
    code?: string,
  ): void {
    this.recordAt(nowNs, frame, this.nameOf(port, vid), out, vid, action, reason, code);
  }

  /** A trace record with an explicit ingress name (or none, for frames the device originates). */
  recordAt(
    nowNs: number,
    frame: Frame,
    inName: string | null,
    out: string | null,
    vid: number | null,
    action: HopAction,
    reason: string,
    code?: string,
    kind: HopKind = this.kind,
    facts?: HopFacts,
  ): void {
    const record: HopRecord = {
      timeNs: nowNs,
      frameId: frame.id,
      device: this.device,
      kind,
      in: inName,
      out,
      vlan: vid,
      action,
      reason,
    };
    if (code !== undefined) record.code = code;
    if (facts !== undefined) Object.assign(record, facts);
    (this.env as DeviceEnv).trace(record);
  }

  /** The names of out[0..n), comma-joined (for trace text). */
  outNames(n: number, nameOf: (port: number) => string = (p) => this.nameOf(p, null)): string {
    let s = "";
    for (let i = 0; i < n; i++) s += (i > 0 ? "," : "") + nameOf(this.out[i]);
    return s;
  }
}
