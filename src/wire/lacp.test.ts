import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseMac } from "./addr.ts";
import { WireError } from "./error.ts";
import { Ethernet, EtherType } from "./ethernet.ts";
import {
  formatLacpState,
  LACP_FRAME_LEN,
  LACPDU_LEN,
  Lacp,
  LacpMarker,
  type LacpMarkerRepr,
  type LacpRepr,
  LacpState,
  lacpStateFlags,
  lacpStateFromFlags,
  SLOW_PROTOCOLS_MAC,
} from "./lacp.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) =>
    Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16),
  );
}

function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error("expected a WireError");
}

// A LACP frame as tshark decodes it: actor 65535/02:00:00:00:00:aa key 9, port 255/1, state 0x3d
// "LACP Activity, Aggregation, Synchronization, Collecting, Distributing"; partner
// 32768/02:00:00:00:00:bb key 1, port 32768/17, state 0x3f (plus "LACP Timeout"); collector max
// delay 5; terminator; 50 bytes of padding. 124 bytes.
const FRAME = hex(
  "0180 c200 0002 0200 0000 00aa 8809" +
    "0101" +
    "0114 ffff 0200 0000 00aa 0009 00ff 0001 3d00 0000" +
    "0214 8000 0200 0000 00bb 0001 8000 0011 3f00 0000" +
    "0310 0005 0000 0000 0000 0000 0000 0000" +
    "0000" +
    "00".repeat(50),
);

const REPR: LacpRepr = {
  version: 1,
  actor: {
    systemPriority: 65535,
    system: parseMac("02:00:00:00:00:aa"),
    key: 9,
    portPriority: 255,
    port: 1,
    state: 0x3d,
  },
  partner: {
    systemPriority: 32768,
    system: parseMac("02:00:00:00:00:bb"),
    key: 1,
    portPriority: 32768,
    port: 17,
    state: 0x3f,
  },
  collectorMaxDelay: 5,
};

// A marker PDU as tshark decodes it: "Marker Protocol", Marker Information, requester port 1,
// system 02:00:00:00:00:aa, transaction id 7, terminator, 90 reserved bytes.
const MARKER = hex(
  "0180 c200 0002 0200 0000 00aa 8809" +
    "0201 0110 0001 0200 0000 00aa 0000 0007 0000" +
    "0000" +
    "00".repeat(90),
);
const MARKER_REPR: LacpMarkerRepr = {
  version: 1,
  isResponse: false,
  requesterPort: 1,
  requesterSystem: parseMac("02:00:00:00:00:aa"),
  transactionId: 7,
};

describe("lacp", () => {
  it("deconstruct", () => {
    expect(FRAME.length).toBe(LACP_FRAME_LEN);
    expect(Ethernet.dst(FRAME)).toBe(SLOW_PROTOCOLS_MAC);
    expect(Ethernet.etherType(FRAME)).toBe(EtherType.SlowProtocols);
    expect(Lacp.isLacpFrame(FRAME)).toBe(true);
    expect(Lacp.subtype(FRAME, 14)).toBe(1);
    expect(Lacp.version(FRAME, 14)).toBe(1);
    expect(Lacp.actorSystemPriority(FRAME, 14)).toBe(65535);
    expect(Lacp.actorSystem(FRAME, 14)).toBe(parseMac("02:00:00:00:00:aa"));
    expect(Lacp.actorKey(FRAME, 14)).toBe(9);
    expect(Lacp.actorPortPriority(FRAME, 14)).toBe(255);
    expect(Lacp.actorPort(FRAME, 14)).toBe(1);
    expect(Lacp.actorState(FRAME, 14)).toBe(0x3d);
    expect(Lacp.partnerSystemPriority(FRAME, 14)).toBe(32768);
    expect(Lacp.partnerSystem(FRAME, 14)).toBe(parseMac("02:00:00:00:00:bb"));
    expect(Lacp.partnerKey(FRAME, 14)).toBe(1);
    expect(Lacp.partnerPortPriority(FRAME, 14)).toBe(32768);
    expect(Lacp.partnerPort(FRAME, 14)).toBe(17);
    expect(Lacp.partnerState(FRAME, 14)).toBe(0x3f);
    expect(Lacp.collectorMaxDelay(FRAME, 14)).toBe(5);
  });
  it("construct", () => {
    const b = FRAME.slice();
    Lacp.setActorState(b, 14, 0);
    Lacp.setPartnerState(b, 14, 0);
    expect(Lacp.actorState(b, 14)).toBe(0);
    Lacp.setActorState(b, 14, 0x3d);
    Lacp.setPartnerState(b, 14, 0x3f);
    expect(b).toEqual(FRAME);
  });
  it("state bits", () => {
    expect(lacpStateFlags(0x3d)).toEqual({
      isActive: true,
      isShortTimeout: false,
      isAggregatable: true,
      isInSync: true,
      isCollecting: true,
      isDistributing: true,
      isDefaulted: false,
      isExpired: false,
    });
    expect(formatLacpState(0x3f)).toBe(
      "activity,short-timeout,aggregation,synchronization,collecting,distributing",
    );
    expect(formatLacpState(LacpState.Defaulted | LacpState.Expired)).toBe("defaulted,expired");
    expect(formatLacpState(0)).toBe("none");
    for (let s = 0; s < 256; s++) expect(lacpStateFromFlags(lacpStateFlags(s))).toBe(s);
  });
  it("parse", () => {
    expect(Lacp.parse(FRAME, 14)).toEqual(REPR);
  });
  it("emit", () => {
    const b = new Uint8Array(LACP_FRAME_LEN).fill(0xee);
    expect(Lacp.emitFrame(REPR, b, 0, parseMac("02:00:00:00:00:aa"))).toBe(124);
    expect(b).toEqual(FRAME);
    const pdu = new Uint8Array(LACPDU_LEN);
    expect(Lacp.emit(REPR, pdu)).toBe(110);
    expect(pdu).toEqual(FRAME.subarray(14));
    expect(wireError(() => Lacp.emit({ ...REPR, version: 0 }, pdu)).code).toBe("bad-version");
  });
  it("impossible length", () => {
    const e = wireError(() => Lacp.parse(FRAME.subarray(0, 123), 14));
    expect(e.code).toBe("truncated");
    expect(wireError(() => Lacp.parse(FRAME.subarray(0, 15), 14)).code).toBe("truncated");
  });
  it("refuses what is not a version 1 LACPDU", () => {
    const cases: [number, number, string][] = [
      [14, 2, "unsupported"], // marker PDU
      [14, 10, "unsupported"], // OAM
      [15, 0, "bad-version"],
      [16, 2, "bad-value"], // actor TLV type
      [17, 19, "bad-value"], // actor TLV length
      [36, 1, "bad-value"], // partner TLV type
      [57, 15, "bad-value"], // collector TLV length
      [72, 1, "bad-value"], // terminator type
    ];
    for (const [at, value, code] of cases) {
      const b = FRAME.slice();
      b[at] = value;
      const e = wireError(() => Lacp.parse(b, 14));
      expect([at, e.code]).toEqual([at, code]);
    }
    // a later version keeps the version 1 fields and may carry more TLVs after the collector
    const v2 = FRAME.slice();
    v2[15] = 2;
    v2[72] = 4;
    v2[73] = 8;
    expect(Lacp.parse(v2, 14)).toEqual({ ...REPR, version: 2 });
    expect(Lacp.isLacpFrame(v2.subarray(0, 14))).toBe(false);
  });

  it("marker PDU", () => {
    expect(MARKER.length).toBe(124);
    expect(LacpMarker.parse(MARKER, 14)).toEqual(MARKER_REPR);
    expect(LacpMarker.requesterPort(MARKER, 14)).toBe(1);
    expect(LacpMarker.transactionId(MARKER, 14)).toBe(7);
    const b = new Uint8Array(110).fill(0xee);
    expect(LacpMarker.emit(MARKER_REPR, b)).toBe(110);
    expect(b).toEqual(MARKER.subarray(14));
    // the responder's answer: same fields, TLV type 2
    LacpMarker.toResponse(b);
    expect(LacpMarker.parse(b)).toEqual({ ...MARKER_REPR, isResponse: true });
    expect(b[2]).toBe(2);
    expect(wireError(() => Lacp.parse(MARKER, 14)).code).toBe("unsupported");
    expect(wireError(() => LacpMarker.parse(FRAME, 14)).code).toBe("unsupported");
    const bad = MARKER.slice();
    bad[17] = 20;
    expect(wireError(() => LacpMarker.parse(bad, 14)).code).toBe("bad-value");
    expect(wireError(() => LacpMarker.parse(MARKER.subarray(0, 100), 14)).code).toBe("truncated");
  });

  test.prop([fc.uint8Array({ maxLength: 130 }), fc.nat(8)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      for (const f of [() => Lacp.parse(bytes, at), () => LacpMarker.parse(bytes, at)]) {
        try {
          f();
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }
    },
  );
  test.prop([
    fc.record({
      version: fc.constant(1),
      isResponse: fc.boolean(),
      requesterPort: fc.nat(0xffff),
      requesterSystem: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      transactionId: fc.nat(2 ** 32 - 1),
    }),
  ])("marker: parse(emit(x)) == x", (repr) => {
    const b = new Uint8Array(LACPDU_LEN);
    LacpMarker.emit(repr, b);
    expect(LacpMarker.parse(b)).toEqual(repr);
  });
  test.prop([fc.nat(LACPDU_LEN - 1), fc.nat(255)])(
    "a valid PDU with one byte changed parses or raises WireError",
    (at, value) => {
      const b = FRAME.slice();
      b[14 + at] = value;
      try {
        Lacp.parse(b, 14);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
  const participant = fc.record({
    systemPriority: fc.nat(0xffff),
    system: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    key: fc.nat(0xffff),
    portPriority: fc.nat(0xffff),
    port: fc.nat(0xffff),
    state: fc.nat(255),
  });
  test.prop([
    fc.record({
      version: fc.constant(1),
      actor: participant,
      partner: participant,
      collectorMaxDelay: fc.nat(0xffff),
    }),
  ])("parse(emit(x)) == x", (repr) => {
    const b = new Uint8Array(LACPDU_LEN);
    Lacp.emit(repr, b);
    expect(Lacp.parse(b)).toEqual(repr);
  });
});
