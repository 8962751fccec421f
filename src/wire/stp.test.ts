import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseMac } from "./addr.ts";
import { WireError } from "./error.ts";
import { Ethernet } from "./ethernet.ts";
import {
  BRIDGE_GROUP_MAC,
  bpduPortRole,
  formatStpFlags,
  STP_CONFIG_LEN,
  STP_FRAME_LEN,
  STP_RST_LEN,
  STP_TCN_LEN,
  Stp,
  StpFlag,
  type StpRepr,
  stpFlagsFromWords,
  stpFlagWords,
} from "./stp.ts";

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

// An RST BPDU as tshark decodes it: 802.3 length 39, LLC 42 42 03, protocol 0, version 2, type
// 2, flags 0x3e (proposal, designated, learning, forwarding), root 32768/0/02:00:00:00:00:01,
// cost 4, bridge 36864/1/02:00:00:00:00:02 (a system id extension of 1), port 0x8003, message age
// 1 s, max age 20 s, hello 2 s, forward delay 15 s, version 1 length 0; 7 bytes of padding.
const RST = hex(
  "0180 c200 0000 0200 0000 0002 0027 4242 03" +
    "0000 02 02 3e 8000 0200 0000 0001 0000 0004 9001 0200 0000 0002 8003 0100 1400 0200 0f00 00" +
    "00".repeat(7),
);
const RST_REPR: StpRepr = {
  type: "rst",
  version: 2,
  flags: 0x3e,
  rootId: { priority: 32768, systemIdExtension: 0, mac: parseMac("02:00:00:00:00:01") },
  rootPathCost: 4,
  bridgeId: { priority: 36864, systemIdExtension: 1, mac: parseMac("02:00:00:00:00:02") },
  portId: { priority: 128, number: 3 },
  messageAgeS: 1,
  maxAgeS: 20,
  helloTimeS: 2,
  forwardDelayS: 15,
};
// A config BPDU (version 0, type 0) with TC and TCA, message age 1.5 s; a TCN BPDU.
const CONFIG = hex(
  "0180 c200 0000 0200 0000 0002 0026 4242 03" +
    "0000 00 00 81 8000 0200 0000 0001 0000 0004 9001 0200 0000 0002 8003 0180 1400 0200 0f00" +
    "00".repeat(8),
);
const TCN = hex(`0180 c200 0000 0200 0000 0002 0007 4242 03 0000 00 80${"00".repeat(39)}`);

describe("stp", () => {
  it("deconstruct", () => {
    expect(RST.length).toBe(STP_FRAME_LEN);
    expect(Ethernet.dst(RST)).toBe(BRIDGE_GROUP_MAC);
    expect(Stp.isStpFrame(RST)).toBe(true);
    const at = 17;
    expect(Stp.protocolId(RST, at)).toBe(0);
    expect(Stp.version(RST, at)).toBe(2);
    expect(Stp.bpduType(RST, at)).toBe(2);
    expect(Stp.flags(RST, at)).toBe(0x3e);
    expect(Stp.rootPriority(RST, at)).toBe(0x8000);
    expect(Stp.rootMac(RST, at)).toBe(parseMac("02:00:00:00:00:01"));
    expect(Stp.rootPathCost(RST, at)).toBe(4);
    expect(Stp.bridgePriority(RST, at)).toBe(0x9001);
    expect(Stp.bridgeMac(RST, at)).toBe(parseMac("02:00:00:00:00:02"));
    expect(Stp.portId(RST, at)).toBe(0x8003);
    expect(Stp.messageAgeS(RST, at)).toBe(1);
    expect(Stp.maxAgeS(RST, at)).toBe(20);
    expect(Stp.helloTimeS(RST, at)).toBe(2);
    expect(Stp.forwardDelayS(RST, at)).toBe(15);
  });
  it("construct", () => {
    const b = RST.slice();
    Stp.setFlags(b, 17, 0);
    Stp.setMessageAgeS(b, 17, 3.5);
    expect(Stp.flags(b, 17)).toBe(0);
    expect(Stp.messageAgeS(b, 17)).toBe(3.5);
    Stp.setFlags(b, 17, 0x3e);
    Stp.setMessageAgeS(b, 17, 1);
    expect(b).toEqual(RST);
  });
  it("flags", () => {
    expect(stpFlagWords(0x3e)).toEqual({
      isTopologyChange: false,
      isProposal: true,
      portRole: "designated",
      isLearning: true,
      isForwarding: true,
      isAgreement: false,
      isTopologyChangeAck: false,
    });
    expect(formatStpFlags(0x3e)).toBe("proposal,designated,learning,forwarding");
    expect(formatStpFlags(0xff)).toBe("tc,proposal,designated,learning,forwarding,agreement,tca");
    expect(formatStpFlags(0xff, false)).toBe("tc,tca");
    expect(formatStpFlags(0)).toBe("none");
    expect(bpduPortRole(0x04)).toBe("alternate-or-backup");
    expect(bpduPortRole(StpFlag.Agreement | 0x08)).toBe("root");
    for (let f = 0; f < 256; f++) expect(stpFlagsFromWords(stpFlagWords(f))).toBe(f);
  });
  it("parse", () => {
    expect(Stp.parseFrame(RST)).toEqual(RST_REPR);
    expect(Stp.parse(RST, 17)).toEqual(RST_REPR);
    expect(Stp.parseFrame(CONFIG)).toEqual({
      ...RST_REPR,
      type: "config",
      version: 0,
      flags: 0x81,
      messageAgeS: 1.5,
    });
    expect(Stp.parseFrame(TCN)).toEqual({ type: "tcn", version: 0 });
  });
  it("emit", () => {
    const b = new Uint8Array(STP_FRAME_LEN).fill(0xee);
    expect(Stp.emitFrame(RST_REPR, b, 0, parseMac("02:00:00:00:00:02"))).toBe(60);
    expect(b).toEqual(RST);
    Stp.emitFrame(Stp.parseFrame(CONFIG), b, 0, parseMac("02:00:00:00:00:02"));
    expect(b).toEqual(CONFIG);
    Stp.emitFrame({ type: "tcn", version: 0 }, b, 0, parseMac("02:00:00:00:00:02"));
    expect(b).toEqual(TCN);
    const pdu = new Uint8Array(STP_RST_LEN);
    expect(Stp.emit(RST_REPR, pdu)).toBe(STP_RST_LEN);
    expect(Stp.emit({ ...RST_REPR, type: "config", version: 0 }, pdu)).toBe(STP_CONFIG_LEN);
    expect(Stp.emit({ type: "tcn", version: 0 }, pdu)).toBe(STP_TCN_LEN);
    expect(wireError(() => Stp.emit({ ...RST_REPR, version: 0 }, pdu)).code).toBe("bad-version");
    const bad: [Partial<typeof RST_REPR>, number][] = [
      [{ rootId: { ...RST_REPR.rootId, priority: 1000 } }, 5],
      [{ bridgeId: { ...RST_REPR.bridgeId, systemIdExtension: 4096 } }, 17],
      [{ rootPathCost: -1 }, 13],
      [{ portId: { priority: 256, number: 1 } }, 25],
      [{ portId: { priority: 128, number: 4096 } }, 25],
      [{ maxAgeS: 256 }, 29],
      [{ helloTimeS: -1 }, 31],
    ];
    for (const [change, at] of bad) {
      const e = wireError(() => Stp.emit({ ...RST_REPR, ...change } as StpRepr, pdu));
      expect([e.code, e.offset]).toEqual(["bad-value", at]);
    }
  });
  it("refuses what is not a BPDU it knows", () => {
    const cases: [number, number, string][] = [
      [17, 1, "bad-value"], // protocol identifier
      [20, 0x03, "bad-value"], // BPDU type
      [19, 0, "bad-version"], // an RST BPDU of version 0
      [19, 1, "bad-version"],
      [15, 0xaa, "unsupported"], // LLC DSAP (SNAP)
      [12, 0x08, "bad-value"], // an EtherType
      [13, 0x02, "bad-length"], // 802.3 length shorter than the LLC header
    ];
    for (const [at, value, code] of cases) {
      const b = RST.slice();
      b[at] = value;
      const e = wireError(() => Stp.parseFrame(b));
      expect([at, e.code]).toEqual([at, code]);
    }
    // the 802.3 length bounds the BPDU: an RST BPDU claimed in 38 bytes is truncated
    const short = RST.slice();
    short[13] = 38;
    expect(wireError(() => Stp.parseFrame(short)).code).toBe("truncated");
    expect(wireError(() => Stp.parseFrame(RST.subarray(0, 40))).code).toBe("bad-length");
    expect(wireError(() => Stp.parse(RST.subarray(0, 40), 17)).code).toBe("truncated");
    // MSTP (version 3) reads as RST
    const mst = RST.slice();
    mst[19] = 3;
    expect(Stp.parseFrame(mst)).toEqual({ ...RST_REPR, version: 3 });
    expect(Stp.isStpFrame(RST.subarray(0, 16))).toBe(false);
  });

  test.prop([fc.uint8Array({ maxLength: 80 }), fc.nat(20)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      for (const f of [() => Stp.parse(bytes, at), () => Stp.parseFrame(bytes, at)]) {
        try {
          f();
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }
    },
  );
  test.prop([fc.nat(STP_FRAME_LEN - 1), fc.nat(255)])(
    "a valid frame with one byte changed parses or raises WireError",
    (at, value) => {
      const b = RST.slice();
      b[at] = value;
      try {
        Stp.parseFrame(b);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
  const bridgeId = fc.record({
    priority: fc.nat(15).map((p) => p * 4096),
    systemIdExtension: fc.nat(4095),
    mac: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  });
  const seconds = fc.nat(0xffff).map((u) => u / 256);
  const configOrRst = fc.oneof(
    fc.record({ type: fc.constant("config" as const), version: fc.nat(255) }),
    fc.record({ type: fc.constant("rst" as const), version: fc.integer({ min: 2, max: 255 }) }),
  );
  test.prop([
    configOrRst,
    fc.record({
      flags: fc.nat(255),
      rootId: bridgeId,
      rootPathCost: fc.nat(0xffffffff),
      bridgeId,
      portId: fc.record({ priority: fc.nat(15).map((p) => p * 16), number: fc.nat(4095) }),
      messageAgeS: seconds,
      maxAgeS: seconds,
      helloTimeS: seconds,
      forwardDelayS: seconds,
    }),
    fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  ])("parse(emit(x)) == x", (head, body, src) => {
    const repr = { ...head, ...body } as StpRepr;
    const b = new Uint8Array(STP_FRAME_LEN);
    Stp.emitFrame(repr, b, 0, src);
    expect(Stp.parseFrame(b)).toEqual(repr);
  });
  test.prop([fc.nat(255)])("tcn: parse(emit(x)) == x", (version) => {
    const b = new Uint8Array(STP_FRAME_LEN);
    Stp.emitFrame({ type: "tcn", version }, b, 0, 2);
    expect(Stp.parseFrame(b)).toEqual({ type: "tcn", version });
  });
});
