/**
 * The LACP engine between two systems wired back to back by lossless "cables" (a PDU arrives
 * 10 us after it is sent, re-encoded through the wire codec so every PDU is a valid LACPDU),
 * stepped in simulated time: aggregation forms, passive/active rules, selection by partner,
 * silent failure bounded by the timeouts, carrier loss, churn.
 */

import { describe, expect, it } from "vitest";
import { Lacp, type LacpRepr, LacpState } from "../wire/lacp.ts";
import { LACP_TIMES, type LacpActorConfig, LacpEngine } from "./lacp.ts";

interface Cable {
  /** Whether PDUs cross it (false: a silent failure, carrier still up). */
  isPassing: boolean;
}

/** Two engines A and B, member i of A cabled to member i of B; `run(untilNs)` steps time. */
function pair(a: Partial<LacpActorConfig>, b: Partial<LacpActorConfig>, members = 2) {
  let now = 0;
  const queue: { at: number; to: "a" | "b"; member: number; bytes: Uint8Array }[] = [];
  const cables: Cable[] = Array.from({ length: members }, () => ({ isPassing: true }));
  const wire = (to: "a" | "b") => (member: number, pdu: LacpRepr) => {
    const bytes = new Uint8Array(110);
    Lacp.emit(pdu, bytes, 0);
    if (cables[member].isPassing) queue.push({ at: now + 10_000, to, member, bytes });
  };
  const A = new LacpEngine<number>(
    { system: 0x02000000000a, key: 1, mode: "active", rate: "fast", ...a },
    wire("b"),
  );
  const B = new LacpEngine<number>(
    { system: 0x02000000000b, key: 7, mode: "active", rate: "fast", ...b },
    wire("a"),
  );
  for (let i = 0; i < members; i++) {
    A.addMember(i, { port: i + 1 });
    B.addMember(i, { port: i + 1 });
  }
  const run = (untilNs: number) => {
    for (;;) {
      const next = Math.min(A.nextTimerNs(), B.nextTimerNs(), queue.length > 0 ? queue[0].at : Infinity);
      if (next > untilNs) break;
      now = Math.max(now, next);
      while (queue.length > 0 && queue[0].at <= now) {
        const p = queue.shift()!;
        (p.to === "a" ? A : B).receive(p.member, Lacp.parse(p.bytes), now);
      }
      A.run(now);
      B.run(now);
    }
    now = untilNs;
  };
  return { A, B, cables, run, now: () => now };
}

const enabled = (e: LacpEngine<number>, n = 2) => Array.from({ length: n }, (_, i) => e.mayEnable(i));

describe("LACP engine (IEEE 802.1AX)", () => {
  it("two active fast systems aggregate both links within a second", () => {
    const p = pair({}, {});
    p.run(1e9);
    expect(enabled(p.A)).toEqual([true, true]);
    expect(enabled(p.B)).toEqual([true, true]);
    const s = p.A.status(p.now())[0];
    expect(s.rx).toBe("current");
    expect(s.partner).toMatchObject({ system: 0x02000000000b, key: 7, port: 1 });
    expect(s.actorStateText).toBe(
      "activity,short-timeout,aggregation,synchronization,collecting,distributing",
    );
  });

  it("active with passive aggregates; passive with passive never sends a PDU", () => {
    const ap = pair({}, { mode: "passive" });
    ap.run(2e9);
    expect(enabled(ap.A)).toEqual([true, true]);
    expect(enabled(ap.B)).toEqual([true, true]);
    const pp = pair({ mode: "passive" }, { mode: "passive" });
    pp.run(60e9);
    expect(enabled(pp.A)).toEqual([false, false]);
    expect(
      pp.A.status(pp.now()).every((s) => s.pdusSent === 0 && s.why === "no partner (no LACPDU received)"),
    ).toBe(true);
  });

  it("sends fast (1 s) or slow (30 s) as the partner asks", () => {
    const fast = pair({}, {});
    fast.run(10.5e9);
    // An exchange at start (a few PDUs to sync), then one a second.
    expect(fast.A.status(fast.now())[0].pdusSent).toBeGreaterThanOrEqual(10);
    expect(fast.A.status(fast.now())[0].pdusSent).toBeLessThanOrEqual(16);
    const slow = pair({ rate: "slow" }, { rate: "slow" });
    slow.run(100e9);
    // Slow: about one per 30 s after the start-up exchange.
    expect(slow.A.status(slow.now())[0].pdusSent).toBeLessThanOrEqual(9);
    expect(enabled(slow.A)).toEqual([true, true]);
  });

  it("a member whose partner is another system stays out of the aggregator, and says why", () => {
    let now = 0;
    const toA: { member: number; pdu: LacpRepr }[] = [];
    const A = new LacpEngine<number>(
      { system: 0x0200000000aa, key: 1, mode: "active", rate: "fast" },
      () => {},
    );
    A.addMember(0, { port: 1 });
    A.addMember(1, { port: 2 });
    const peer = (system: number, port: number): LacpRepr => ({
      version: 1,
      actor: {
        systemPriority: 32768,
        system,
        key: 9,
        portPriority: 32768,
        port,
        state: LacpState.Activity | LacpState.Timeout | LacpState.Aggregation | LacpState.Synchronization,
      },
      partner: { systemPriority: 0, system: 0, key: 0, portPriority: 0, port: 0, state: 0 },
      collectorMaxDelay: 0,
    });
    toA.push({ member: 0, pdu: peer(0x0200000000b1, 1) }, { member: 1, pdu: peer(0x0200000000b2, 1) });
    for (const x of toA) A.receive(x.member, x.pdu, now);
    now = 1e6;
    A.run(now);
    const [m0, m1] = A.status(now);
    expect(m0.isSelected).toBe(true);
    expect(m0.isEnabled).toBe(true);
    expect(m1.isSelected).toBe(false);
    expect(m1.why).toBe("partner system or key differs from the selected aggregator's");
  });

  it("a silent failure (carrier up, no PDUs) stops the member within 3 s (fast), then defaults it", () => {
    const p = pair({}, {});
    p.run(2e9);
    expect(enabled(p.A)).toEqual([true, true]);
    p.cables[0].isPassing = false;
    const cut = p.now();
    // Still current just under 3 s after the last PDU (sent at most 1 s before the cut).
    p.run(cut + 1.9e9);
    expect(p.A.mayEnable(0)).toBe(true);
    p.run(cut + 3.01e9);
    expect(p.A.mayEnable(0)).toBe(false);
    expect(p.A.mayEnable(1)).toBe(true);
    expect(p.A.status(p.now())[0].rx).toBe("expired");
    p.run(cut + 6.1e9);
    expect(p.A.status(p.now())[0].rx).toBe("defaulted");
    // The cable passes again: the member rejoins within a couple of fast periods.
    p.cables[0].isPassing = true;
    p.run(p.now() + 2.5e9);
    expect(enabled(p.A)).toEqual([true, true]);
  });

  it("with slow timeouts a silent failure takes up to 90 s to notice", () => {
    const p = pair({ rate: "slow" }, { rate: "slow" });
    p.run(5e9);
    p.cables[1].isPassing = false;
    const cut = p.now();
    p.run(cut + 59e9);
    expect(p.A.mayEnable(1)).toBe(true);
    p.run(cut + LACP_TIMES.longTimeoutNs + 1e9);
    expect(p.A.mayEnable(1)).toBe(false);
  });

  it("carrier loss takes the member out at once; churn is reported after 60 s out of sync", () => {
    const p = pair({}, {});
    p.run(2e9);
    p.A.setMemberUp(0, false, p.now());
    expect(p.A.mayEnable(0)).toBe(false);
    expect(p.A.status(p.now())[0].why).toBe("link down");
    // A member up whose partner never answers goes into churn after the detection time.
    p.cables[1].isPassing = false;
    p.B.setMemberUp(1, false, p.now());
    p.run(p.now() + 70e9);
    const s = p.A.status(p.now())[1];
    expect(s.isEnabled).toBe(false);
    expect(s.isActorChurn).toBe(true);
  });

  it("every PDU it sends is a valid 110-byte LACPDU naming the actor's system and key", () => {
    const sent: LacpRepr[] = [];
    const e = new LacpEngine<number>(
      { system: 0x0200000000cc, key: 42, mode: "active", rate: "fast" },
      (_m, pdu) => sent.push(pdu),
    );
    e.addMember(0, { port: 5, portPriority: 100 });
    e.run(0);
    expect(sent.length).toBe(1);
    const bytes = new Uint8Array(110);
    Lacp.emit(sent[0], bytes, 0);
    expect(() => Lacp.validate(bytes, 0)).not.toThrow();
    expect(Lacp.parse(bytes, 0).actor).toMatchObject({
      system: 0x0200000000cc,
      key: 42,
      port: 5,
      portPriority: 100,
    });
    expect(Lacp.actorState(bytes, 0) & LacpState.Defaulted).not.toBe(0);
  });
});
