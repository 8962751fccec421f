/**
 * The timeline of a run: what happened to the network's control state over time, as opposed to
 * the frames it carried (those are trace records, `trace.ts`). A fault applied, a port's carrier
 * lost or regained, a vswitch team moving a VM to another uplink, a MAC table flushing what it
 * learned behind a port; later LACP, MLAG and STP state changes. A device reports one through
 * the optional `DeviceEnv.event` hook and the world passes it to whoever listens (`vnet run`);
 * nobody listening, the world drops it at once. Events are rare (state changes, not frames), so
 * building one is not on any forwarding path. Browser-safe; no clock is read here.
 */

/**
 * What kind of change. The union is open: LACP, MLAG and STP emit their own kinds ("lacp",
 * "mlag", "stp") and a reader that does not know a kind shows its text.
 */
export type TimelineKind =
  | "fault"
  | "carrier"
  | "failover"
  | "failback"
  | "mac-flush"
  | "lacp"
  | "mlag"
  | "stp"
  | (string & {});

/** A structured field of an event: plain values, so that `--json` prints them as they are. */
export type TimelineValue = string | number | boolean | null | readonly string[];

export interface TimelineEvent {
  /** World time in ns (a run's report gives it from the start of the run). */
  timeNs: number;
  /** The device the change happened on ("tor1", "server1/vs0"), or the fault's target. */
  device: string;
  kind: TimelineKind;
  /** One line for people: "server1/vs0: web1 moved from uplink:eth0 to uplink:eth1". */
  text: string;
  /** The same facts for scripts (port names, VM names, counts, states). */
  fields: Readonly<Record<string, TimelineValue>>;
}

/** "2.000 s": a time in seconds with millisecond precision, as `vnet run` prints times. */
export function formatSeconds(ns: number): string {
  return `${(ns / 1e9).toFixed(3)} s`;
}

/** Events in time order; events at the same time keep the order they happened in. */
export function sortTimeline(events: readonly TimelineEvent[]): TimelineEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.timeNs - b.e.timeNs || a.i - b.i)
    .map((x) => x.e);
}

/** Width of the kind column: the longest kind emitted today. */
const KIND_WIDTH = "mac-flush".length;

/** One line per event: "  2.000 s  failover   server1/vs0: web1 moved from ...". */
export function formatTimeline(events: readonly TimelineEvent[]): string[] {
  return sortTimeline(events).map(
    (e) => `  ${formatSeconds(e.timeNs).padStart(9)}  ${e.kind.padEnd(KIND_WIDTH)}  ${e.text}`,
  );
}
