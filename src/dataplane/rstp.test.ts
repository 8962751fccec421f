/**
 * The RSTP engine between bridges cabled back to back in simulated time: every BPDU is framed
 * with `Stp.emitFrame` and parsed back with `Stp.parseFrame` (so every BPDU sent is a valid
 * frame) and arrives 50 us after it is sent. Root election, a ring's alternate port, carrier
 * loss, a silent failure found by information aging, edge ports, BPDU guard, topology change
 * flushes, the forward-delay fallback and determinism.
 */

import { describe, expect, it } from "vitest";
import { STP_FRAME_LEN, Stp } from "../wire/stp.ts";
import {
  pathCostForSpeed,
  Rstp,
  type RstpBridgeConfig,
  type RstpEvent,
  type RstpPortConfig,
} from "./rstp.ts";

const LINK_DELAY_NS = 50_000;
const S = 1e9;

interface BridgeSpec {
  name: string;
  mac: number;
  priority?: number;
  config?: Partial<RstpBridgeConfig>;
}

interface Cable {
  a: [string, number];
  b: [string, number];
  /** Whether BPDUs cross it (false: a silent failure, carrier still up). */
  isPassing: boolean;
}

/** Bridges by name, cables between (bridge, port) pairs; `run(untilNs)` steps time. */
function network(
  specs: BridgeSpec[],
  cables: [string, number, string, number][],
  ports: Record<string, RstpPortConfig[]> = {},
) {
  let now = 0;
  const log: string[] = [];
  const events: (RstpEvent<number> & { bridge: string })[] = [];
  const queue: { at: number; to: string; port: number; frame: Uint8Array }[] = [];
  const wires: Cable[] = cables.map(([a, pa, b, pb]) => ({ a: [a, pa], b: [b, pb], isPassing: true }));
  const peerOf = (name: string, port: number): [string, number] | null => {
    for (const c of wires) {
      if (c.a[0] === name && c.a[1] === port) return c.isPassing ? c.b : null;
      if (c.b[0] === name && c.b[1] === port) return c.isPassing ? c.a : null;
    }
    return null;
  };
  const bridges = new Map<string, Rstp<number>>();
  for (const spec of specs) {
    const rstp = new Rstp<number>(
      { bridgeMac: spec.mac, priority: spec.priority, ...spec.config },
      {
        send(port, bpdu) {
          const frame = new Uint8Array(STP_FRAME_LEN);
          Stp.emitFrame(bpdu, frame, 0, spec.mac + port);
          const peer = peerOf(spec.name, port);
          if (peer) queue.push({ at: now + LINK_DELAY_NS, to: peer[0], port: peer[1], frame });
        },
        onEvent(e) {
          events.push({ ...e, bridge: spec.name });
          log.push(`${e.timeNs} ${spec.name} ${JSON.stringify(e)}`);
        },
      },
    );
    bridges.set(spec.name, rstp);
  }
  const portsOf = (name: string) => {
    const list = ports[name] ?? [];
    for (const [a, pa, b, pb] of cables) {
      if (a === name && !list.some((p) => p.portNumber === pa)) list.push({ portNumber: pa });
      if (b === name && !list.some((p) => p.portNumber === pb)) list.push({ portNumber: pb });
    }
    return list.sort((x, y) => x.portNumber - y.portNumber);
  };
  for (const [name, rstp] of bridges) for (const p of portsOf(name)) rstp.addPort(p.portNumber, p, 0);
  const run = (untilNs: number) => {
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next = queue.length > 0 ? queue[0].at : Number.POSITIVE_INFINITY;
      for (const r of bridges.values()) next = Math.min(next, r.nextTimerNs());
      if (next > untilNs) break;
      now = Math.max(now, next);
      while (queue.length > 0 && queue[0].at <= now) {
        const m = queue.shift()!;
        bridges.get(m.to)!.receive(m.port, Stp.parseFrame(m.frame), now);
      }
      for (const r of bridges.values()) if (r.nextTimerNs() <= now) r.run(now);
    }
    now = Math.max(now, untilNs);
  };
  const cable = (name: string, port: number) =>
    wires.find((c) => (c.a[0] === name && c.a[1] === port) || (c.b[0] === name && c.b[1] === port))!;
  /** Carrier loss on a cable: both ends see it at once. */
  const cut = (name: string, port: number) => {
    const c = cable(name, port);
    c.isPassing = false;
    bridges.get(c.a[0])!.setPortUp(c.a[1], false, now);
    bridges.get(c.b[0])!.setPortUp(c.b[1], false, now);
  };
  const b = (name: string) => bridges.get(name)!;
  const roles = (name: string) =>
    b(name)
      .status()
      .ports.map((p) => `${p.portNumber}:${p.role}/${p.state}`);
  return { b, run, cut, cable, roles, events, log, now: () => now };
}

const MAC = (n: number) => 0x020000000000 + n * 0x100;

/** A, B, C in a ring: A1-B1, B2-C1, C2-A2. A has the lowest MAC and wins the root. */
function ring() {
  return network(
    [
      { name: "A", mac: MAC(1) },
      { name: "B", mac: MAC(2) },
      { name: "C", mac: MAC(3) },
    ],
    [
      ["A", 1, "B", 1],
      ["B", 2, "C", 1],
      ["C", 2, "A", 2],
    ],
  );
}

describe("RSTP engine (IEEE 802.1D-2004 clause 17)", () => {
  it("two bridges: the lower priority is root even with the higher MAC; at equal priority the lower MAC", () => {
    const byPriority = network(
      [
        { name: "X", mac: MAC(1) },
        { name: "Y", mac: MAC(9), priority: 4096 },
      ],
      [["X", 1, "Y", 1]],
    );
    byPriority.run(0.1 * S);
    expect(byPriority.b("Y").isRoot()).toBe(true);
    expect(byPriority.b("X").isRoot()).toBe(false);
    expect(byPriority.roles("Y")).toEqual(["1:designated/forwarding"]);
    expect(byPriority.roles("X")).toEqual(["1:root/forwarding"]);
    const xs = byPriority.b("X").status();
    expect(xs.rootId).toBe("4096.02:00:00:00:09:00");
    expect(xs.rootPathCost).toBe(20000);
    expect(xs.rootPort).toBe(1);

    const byMac = network(
      [
        { name: "X", mac: MAC(1) },
        { name: "Y", mac: MAC(9) },
      ],
      [["X", 1, "Y", 1]],
    );
    byMac.run(0.1 * S);
    expect(byMac.b("X").isRoot()).toBe(true);
    expect(byMac.b("Y").role(1)).toBe("root");
    expect(byMac.b("Y").status().rootId).toBe("32768.02:00:00:00:01:00");
    // Proposal/agreement: the designated port forwards after a round trip, not 30 s.
    const fwd = byMac.events.find((e) => e.bridge === "X" && e.kind === "state" && e.to === "forwarding")!;
    expect(fwd.timeNs).toBeLessThan(1e6);
  });

  it("a ring of three: exactly one alternate port discarding, the rest forwarding, in well under a second", () => {
    const n = ring();
    n.run(0.2 * S);
    expect(n.roles("A")).toEqual(["1:designated/forwarding", "2:designated/forwarding"]);
    expect(n.roles("B")).toEqual(["1:root/forwarding", "2:designated/forwarding"]);
    expect(n.roles("C")).toEqual(["1:alternate/discarding", "2:root/forwarding"]);
    const lastStateChangeNs = Math.max(...n.events.filter((e) => e.kind === "state").map((e) => e.timeNs));
    expect(lastStateChangeNs).toBeLessThan(0.01 * S);
    // and it stays so: nothing moves over the next minute of hellos
    const before = n.events.length;
    n.run(60 * S);
    expect(n.events.slice(before).filter((e) => e.kind === "role" || e.kind === "state")).toEqual([]);
    expect(n.roles("C")).toEqual(["1:alternate/discarding", "2:root/forwarding"]);
    expect(n.b("C").status().ports[0].why).toBe(
      "another path to the root, via 32768.02:00:00:00:02:00 port 128.2: blocked while the root port works",
    );
    // designated ports send every hello time (2 s): about 30 BPDUs in the minute, plus the start
    const sent = n.b("A").status().ports[0].bpdusSent;
    expect(sent).toBeGreaterThanOrEqual(30);
    expect(sent).toBeLessThanOrEqual(40);
  });

  it("carrier loss on a forwarding link: the alternate takes over at once", () => {
    const n = ring();
    // (past the start-up topology changes, whose TC flags would otherwise still be running)
    n.run(10 * S);
    const cutAt = n.now();
    n.cut("C", 2); // C's root port, to A
    n.run(cutAt + 0.01 * S);
    expect(n.roles("C")).toEqual(["1:root/forwarding", "2:disabled/discarding"]);
    expect(n.roles("B")).toEqual(["1:root/forwarding", "2:designated/forwarding"]);
    expect(n.roles("A")).toEqual(["1:designated/forwarding", "2:disabled/discarding"]);
    const c = n.b("C").status();
    expect(c.rootPathCost).toBe(40000);
    // C's new root port went forwarding in the same instant as the cut
    const took = n.events.find(
      (e) =>
        e.bridge === "C" && e.kind === "state" && e.port === 1 && e.to === "forwarding" && e.timeNs >= cutAt,
    )!;
    expect(took.timeNs).toBe(cutAt);
    // and the topology change it caused reached B and A, which flush
    const tcs = n.events.filter((e) => e.kind === "topology-change" && e.timeNs >= cutAt);
    expect(tcs.map((e) => `${e.bridge}:${e.kind === "topology-change" ? e.cause : ""}`)).toEqual(
      expect.arrayContaining(["C:detected", "B:received", "A:received"]),
    );
  });

  it("a silent failure (carrier up, BPDUs stop) is found by information aging within 3 x hello and re-converges", () => {
    const n = ring();
    n.run(1 * S);
    const cutAt = n.now();
    n.cable("C", 2).isPassing = false;
    n.run(cutAt + 3 * S);
    expect(n.roles("C")).toEqual(["1:alternate/discarding", "2:root/forwarding"]);
    n.run(cutAt + 6 * S);
    const aged = n.events.find((e) => e.kind === "info-aged" && e.bridge === "C")!;
    expect(aged).toMatchObject({ kind: "info-aged", port: 2 });
    expect(aged.timeNs - cutAt).toBeLessThanOrEqual(6 * S);
    expect(aged.timeNs - cutAt).toBeGreaterThan(3 * S);
    expect(n.roles("C")).toEqual(["1:root/forwarding", "2:designated/discarding"]);
    expect(n.b("C").status().rootPathCost).toBe(40000);
    expect(n.b("C").status().ports[1].why).toBe(
      "designated, proposing: waiting for an agreement or forward delay",
    );
    // A still thinks its port to C designated: it hears nothing that says otherwise
    expect(n.roles("A")).toEqual(["1:designated/forwarding", "2:designated/forwarding"]);
  });

  it("an edge port forwards at once; a BPDU on it makes it an ordinary port", () => {
    const n = network([{ name: "A", mac: MAC(1) }], [], {
      A: [{ portNumber: 3, isEdge: true }, { portNumber: 4 }],
    });
    // no run: forwarding from the moment it was added
    expect(n.b("A").state(3)).toBe("forwarding");
    expect(n.b("A").status().ports[0]).toMatchObject({ isEdge: true, role: "designated", why: "edge port" });
    // a non-edge port waits (no partner agrees: forward delay, 15 s, then 15 s learning)
    expect(n.b("A").state(4)).toBe("discarding");
    n.run(14 * S);
    expect(n.b("A").state(4)).toBe("discarding");
    n.run(15.5 * S);
    expect(n.b("A").state(4)).toBe("learning");
    n.run(30.5 * S);
    expect(n.b("A").state(4)).toBe("forwarding");
    // an edge port going forwarding is no topology change; port 4 is
    const tcs = n.events.filter((e) => e.kind === "topology-change");
    expect(tcs.map((e) => e.port)).toEqual([4]);
    const bpdu = Stp.parseFrame(frameFrom(MAC(9)));
    n.b("A").receive(3, bpdu, n.now());
    expect(n.events.at(-1)).toMatchObject({ kind: "edge-lost", port: 3 });
    expect(n.b("A").status().ports[0].isEdge).toBe(false);
    expect(n.b("A").status().ports[0].isErrDisabled).toBe(false);
  });

  it("BPDU guard err-disables the port, which stays down until re-enabled", () => {
    const n = network([{ name: "A", mac: MAC(1) }], [], {
      A: [
        { portNumber: 1, isEdge: true, hasBpduGuard: true },
        { portNumber: 2, isEdge: true },
      ],
    });
    expect(n.b("A").state(1)).toBe("forwarding");
    n.b("A").receive(1, Stp.parseFrame(frameFrom(MAC(9))), 1 * S);
    expect(n.events.find((e) => e.kind === "bpdu-guard")).toEqual({
      kind: "bpdu-guard",
      timeNs: 1 * S,
      port: 1,
      bridge: "A",
    });
    expect(n.b("A").state(1)).toBe("discarding");
    expect(n.b("A").role(1)).toBe("disabled");
    expect(n.b("A").status().ports[0]).toMatchObject({
      isErrDisabled: true,
      why: "err-disabled: a BPDU arrived on a BPDU guard port",
    });
    // nothing brings it back on its own: not time, not more BPDUs, not a carrier flap
    n.run(100 * S);
    n.b("A").receive(1, Stp.parseFrame(frameFrom(MAC(9))), n.now());
    n.b("A").setPortUp(1, false, n.now());
    n.b("A").setPortUp(1, true, n.now());
    expect(n.b("A").state(1)).toBe("discarding");
    expect(n.b("A").state(2)).toBe("forwarding");
    n.b("A").reenablePort(1, n.now());
    expect(n.b("A").state(1)).toBe("forwarding");
    expect(n.b("A").status().ports[0]).toMatchObject({ isErrDisabled: false, isEdge: true });
  });

  it("a topology change flushes every other active port but edge ports, and propagates away from its origin", () => {
    const n = network(
      [
        { name: "A", mac: MAC(1) },
        { name: "B", mac: MAC(2) },
        { name: "C", mac: MAC(3) },
        { name: "D", mac: MAC(4) },
      ],
      [
        ["A", 1, "B", 1],
        ["B", 2, "C", 1],
        ["C", 2, "A", 2],
        ["B", 3, "D", 1],
      ],
      {
        B: [
          { portNumber: 9, isEdge: true },
          { portNumber: 3, isUp: false },
        ],
      },
    );
    const flushed: string[] = [];
    n.run(10 * S);
    expect(n.b("B").state(9)).toBe("forwarding");
    const at = n.now();
    n.b("B").setPortUp(3, true, at);
    n.b("D").setPortUp(1, true, at);
    n.run(at + 0.01 * S);
    expect(n.roles("D")).toEqual(["1:root/forwarding"]);
    const tcs = n.events.filter((e) => e.kind === "topology-change" && e.timeNs >= at);
    const detected = tcs.find(
      (e) => e.bridge === "B" && e.kind === "topology-change" && e.cause === "detected",
    )!;
    // B's new port 3 went forwarding: B flushes ports 1 and 2, not 3 (the origin), not 9 (edge)
    expect(detected).toMatchObject({ port: 3, flushPorts: [1, 2] });
    // A hears it on port 1 and flushes port 2 only; C hears it from B and flushes port 2 only
    const a = tcs.find((e) => e.bridge === "A")!;
    expect(a).toMatchObject({ cause: "received", port: 1, flushPorts: [2] });
    // C hears it from A on its root port 2: its only other port is the alternate, which learns
    // nothing, so nothing to flush; and the TC B sends C's alternate port is not passed on
    const c = tcs.filter((e) => e.bridge === "C");
    expect(c).toMatchObject([{ kind: "topology-change", cause: "received", port: 2, flushPorts: [] }]);
    for (const e of tcs)
      if (e.kind === "topology-change") flushed.push(...e.flushPorts.map((p) => `${e.bridge}${p}`));
    expect(flushed).not.toContain("B9");
    expect(n.b("B").status().topologyChanges).toBeGreaterThan(0);
  });

  it("without an agreement (a shared link) a designated port goes learning, then forwarding, each after forward delay", () => {
    const n = network(
      [
        { name: "X", mac: MAC(1) },
        { name: "Y", mac: MAC(2) },
      ],
      [["X", 1, "Y", 1]],
      { X: [{ portNumber: 1, isPointToPoint: false }] },
    );
    n.run(1 * S);
    expect(n.roles("X")).toEqual(["1:designated/discarding"]);
    expect(n.roles("Y")).toEqual(["1:root/forwarding"]);
    n.run(15.1 * S);
    expect(n.roles("X")).toEqual(["1:designated/learning"]);
    n.run(30.1 * S);
    expect(n.roles("X")).toEqual(["1:designated/forwarding"]);
  });

  it("is deterministic: the same inputs give the same event log", () => {
    const once = () => {
      const n = ring();
      n.run(1 * S);
      n.cut("A", 1);
      n.run(3 * S);
      n.cable("C", 2).isPassing = false;
      n.run(12 * S);
      return n.log;
    };
    const first = once();
    expect(first.length).toBeGreaterThan(20);
    expect(once()).toEqual(first);
  });

  it("sends at most txHoldCount BPDUs a second on a port; what is held goes out when the second is over", () => {
    const sent: number[] = [];
    let now = 0;
    const r = new Rstp<number>({ bridgeMac: MAC(1) }, { send: () => sent.push(now) });
    r.addPort(1, { portNumber: 1 }, 0);
    // a neighbour with worse information keeps talking: each inferior BPDU asks for our answer
    const inferior = Stp.parseFrame(frameFrom(MAC(9)));
    for (let i = 1; i <= 20; i++) {
      now = i * 1e6;
      r.receive(1, inferior, now);
    }
    expect(sent.length).toBe(6);
    expect(r.nextTimerNs()).toBe(1e9);
    now = 1e9;
    r.run(now);
    expect(sent.length).toBe(7);
    expect(sent.at(-1)).toBe(1e9);
  });

  it("path costs by speed (Table 17-3) and refused configurations", () => {
    expect(pathCostForSpeed(1e9)).toBe(20000);
    expect(pathCostForSpeed(10e9)).toBe(2000);
    expect(pathCostForSpeed(100e6)).toBe(200000);
    expect(pathCostForSpeed(100e12)).toBe(1);
    const r = new Rstp<string>({ bridgeMac: MAC(1) }, { send() {} });
    r.addPort("ten", { portNumber: 1, speedBps: 10e9 });
    expect(r.status().ports[0].pathCost).toBe(2000);
    expect(() => new Rstp({ bridgeMac: 1, priority: 1000 }, { send() {} })).toThrow(RangeError);
    expect(() => r.addPort("x", { portNumber: 0 })).toThrow(RangeError);
    expect(() => r.addPort("y", { portNumber: 2, priority: 17 })).toThrow(RangeError);
    expect(() => r.addPort("ten", { portNumber: 3 })).toThrow("twice");
  });
});

/** An RST BPDU frame from a bridge with `mac` claiming to be root, as a neighbour would send. */
function frameFrom(mac: number): Uint8Array {
  const f = new Uint8Array(STP_FRAME_LEN);
  const id = { priority: 32768, systemIdExtension: 0, mac };
  Stp.emitFrame(
    {
      type: "rst",
      version: 2,
      flags: 0x0e,
      rootId: id,
      rootPathCost: 0,
      bridgeId: id,
      portId: { priority: 128, number: 1 },
      messageAgeS: 0,
      maxAgeS: 20,
      helloTimeS: 2,
      forwardDelayS: 15,
    },
    f,
    0,
    mac,
  );
  return f;
}
