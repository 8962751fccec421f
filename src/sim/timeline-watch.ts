/**
 * What a run's timeline learns around each port-state change without asking the devices to
 * report it: a vswitch team moving a VM to another uplink (failover, failback), found by
 * comparing `Vswitch.pinnedUplink` of its VM ports before and after an uplink's carrier
 * changes, and MAC entries flushed, found by comparing the sizes of the device's MAC tables.
 * Installed with `World.setTimelineSink(sink, watch)`; nothing here runs when nobody listens.
 */

import type { Device } from "../dataplane/device.ts";
import type { MacTable } from "../dataplane/mac-table.ts";
import type { TimelineEvent } from "../dataplane/timeline.ts";
import { Vswitch } from "../dataplane/vswitch.ts";
import type { BuiltNetwork } from "./build.ts";
import type { PortWatch } from "./world.ts";

/** VMs a failover line names before "...". */
const SHOWN_VMS = 3;

/** A port watch that emits `failover`, `failback` and `mac-flush` events for a built network. */
export function timelineWatch(built: BuiltNetwork, emit: (e: TimelineEvent) => void): PortWatch {
  const tables = new Map<string, MacTable[]>();
  for (const t of built.macTables) tables.set(t.device, [...(tables.get(t.device) ?? []), t.table]);
  /** Per vswitch, its VM ports and the name of the VM (and vNIC, when it has several there). */
  const vmPorts = new Map<Vswitch, { port: number; name: string }[]>();
  for (const h of built.vms.values()) {
    h.vswitchPorts.forEach((vp, i) => {
      if (vp === null) return;
      const list = vmPorts.get(vp.vswitch) ?? [];
      const many = h.vswitchPorts.filter((x) => x?.vswitch === vp.vswitch).length > 1;
      list.push({ port: vp.port, name: many ? `${h.spec.name}:${h.spec.nics[i].name}` : h.spec.name });
      vmPorts.set(vp.vswitch, list);
    });
  }

  return (device: Device, port: number, isUp: boolean, nowNs: number) => {
    const own = tables.get(device.name) ?? [];
    const sizes = own.map((t) => t.size);
    const isUplink = device instanceof Vswitch && port < device.teamPort && device.portVlan(port) === null;
    const ports = isUplink ? (vmPorts.get(device as Vswitch) ?? []) : [];
    const pins = ports.map((p) => (device as Vswitch).pinnedUplink(p.port));
    return () => {
      if (isUplink) {
        // One event per kind of move: at scale a top-of-rack failure moves every VM of a host.
        const vs = device as Vswitch;
        const name = (u: number) => (u < 0 ? null : (vs.portNames[u] ?? String(u)));
        const moves = new Map<string, { from: number; to: number; vms: string[] }>();
        ports.forEach((p, i) => {
          const from = pins[i];
          const to = vs.pinnedUplink(p.port);
          if (from === to) return;
          const key = `${from}>${to}`;
          const m = moves.get(key) ?? { from, to, vms: [] };
          m.vms.push(p.name);
          moves.set(key, m);
        });
        for (const { from, to, vms } of moves.values()) {
          const who =
            vms.length === 1
              ? vms[0]
              : `${vms.length} VMs (${vms.slice(0, SHOWN_VMS).join(", ")}${vms.length > SHOWN_VMS ? ", ..." : ""})`;
          const text =
            to < 0
              ? `${vs.name}: ${who} lost ${vms.length === 1 ? "its" : "their"} last uplink (${name(from)})`
              : from < 0
                ? `${vs.name}: ${who} back on ${name(to)}`
                : `${vs.name}: ${who} moved from ${name(from)} to ${name(to)}`;
          emit({
            timeNs: nowNs,
            device: vs.name,
            kind: isUp ? "failback" : "failover",
            text,
            fields: { vm: vms[0], vms, from: name(from), to: name(to) },
          });
        }
      }
      own.forEach((t, i) => {
        const flushed = sizes[i] - t.size;
        if (flushed <= 0) return;
        const portName = device.portNames[port] ?? String(port);
        emit({
          timeNs: nowNs,
          device: device.name,
          kind: "mac-flush",
          text: `${device.name}: ${flushed} MAC ${flushed === 1 ? "entry" : "entries"} flushed (${portName} down)`,
          fields: { port: portName, entries: flushed },
        });
      });
    };
  };
}
