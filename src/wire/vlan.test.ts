import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { WireError } from "./error.ts";
import { EtherType } from "./ethernet.ts";
import { isVlanTpid, MAX_VLAN_TAGS, VLAN_TAG_LEN, Vlan, type VlanTagRepr } from "./vlan.ts";

// A Q-in-Q ARP request as tshark decodes it: S-tag (0x88a8) PCP 3 VID 100, then C-tag (0x8100)
// PCP 5 DEI 1 VID 42, then EtherType ARP.
const FRAME = new Uint8Array([
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0xa8, 0x60, 0x64, 0x81, 0x00,
  0xb0, 0x2a, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
  0xc0, 0xa8, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x0a, 0x0c,
]);

function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error("expected a WireError");
}

const S_TAG: VlanTagRepr = { tpid: 0x88a8, pcp: 3, dei: false, vid: 100 };
const C_TAG: VlanTagRepr = { tpid: 0x8100, pcp: 5, dei: true, vid: 42 };

describe("vlan", () => {
  it("deconstruct", () => {
    expect(Vlan.tpid(FRAME, 12)).toBe(EtherType.QinQ);
    expect(Vlan.pcp(FRAME, 12)).toBe(3);
    expect(Vlan.dei(FRAME, 12)).toBe(false);
    expect(Vlan.vid(FRAME, 12)).toBe(100);
    expect(Vlan.tpid(FRAME, 16)).toBe(EtherType.VLAN);
    expect(Vlan.tci(FRAME, 16)).toBe(0xb02a);
    expect(Vlan.pcp(FRAME, 16)).toBe(5);
    expect(Vlan.dei(FRAME, 16)).toBe(true);
    expect(Vlan.vid(FRAME, 16)).toBe(42);
  });
  it("construct", () => {
    const buf = FRAME.slice();
    buf.fill(0, 12, 20);
    Vlan.setTpid(buf, 12, 0x88a8);
    Vlan.setPcp(buf, 12, 3);
    Vlan.setVid(buf, 12, 100);
    Vlan.setTpid(buf, 16, 0x8100);
    Vlan.setVid(buf, 16, 42);
    Vlan.setDei(buf, 16, true);
    Vlan.setPcp(buf, 16, 5);
    expect(buf).toEqual(FRAME);
    // setVid keeps PCP and DEI
    Vlan.setVid(buf, 16, 4094);
    expect(Vlan.parse(buf, 16)).toEqual({ ...C_TAG, vid: 4094 });
  });
  it("parse", () => {
    expect(Vlan.parse(FRAME, 12)).toEqual(S_TAG);
    expect(Vlan.parse(FRAME, 16)).toEqual(C_TAG);
    expect(Vlan.parseStack(FRAME)).toEqual({
      tags: [S_TAG, C_TAG],
      etherType: EtherType.ARP,
      payloadOffset: 22,
    });
  });
  it("walks 0..n tags", () => {
    expect(Vlan.walk(FRAME)).toBe(20);
    expect(Vlan.tagCount(FRAME)).toBe(2);
    const untagged = new Uint8Array([...FRAME.subarray(0, 12), 0x08, 0x00, 1, 2]);
    expect(Vlan.walk(untagged)).toBe(12);
    expect(Vlan.parseStack(untagged)).toEqual({ tags: [], etherType: EtherType.IPv4, payloadOffset: 14 });
    // at a non-zero frame offset
    const shifted = new Uint8Array(7 + FRAME.length);
    shifted.set(FRAME, 7);
    expect(Vlan.walk(shifted, 7)).toBe(27);
    expect(Vlan.tagCount(shifted, 7)).toBe(2);
  });
  it("emit", () => {
    const buf = new Uint8Array(8);
    expect(Vlan.emit(S_TAG, buf, 0)).toBe(VLAN_TAG_LEN);
    expect(Vlan.emit(C_TAG, buf, 4)).toBe(VLAN_TAG_LEN);
    expect(buf).toEqual(FRAME.subarray(12, 20));
    expect(wireError(() => Vlan.emit({ ...C_TAG, vid: 4096 }, buf)).code).toBe("bad-value");
    expect(wireError(() => Vlan.emit({ ...C_TAG, pcp: 8 }, buf)).code).toBe("bad-value");
    expect(wireError(() => Vlan.emit({ ...C_TAG, tpid: 0x0800 }, buf)).code).toBe("bad-value");
  });
  it("impossible length", () => {
    const e = wireError(() => Vlan.parse(FRAME.subarray(0, 15), 12));
    expect(e.code).toBe("truncated");
    expect(e.offset).toBe(12);
    // a tag with nothing after it: the inner EtherType is missing
    const w = wireError(() => Vlan.walk(FRAME.subarray(0, 18)));
    expect(w.code).toBe("truncated");
    expect(w.offset).toBe(18);
    expect(wireError(() => Vlan.walk(FRAME.subarray(0, 13))).code).toBe("truncated");
  });
  it("refuses a TPID that is not a tag, and endless stacks", () => {
    const e = wireError(() => Vlan.parse(FRAME, 20));
    expect(e.code).toBe("bad-value");
    expect(e.offset).toBe(20);
    const deep = new Uint8Array(12 + 4 * (MAX_VLAN_TAGS + 1) + 2);
    for (let at = 12; at < deep.length - 2; at += 4) deep.set([0x81, 0x00, 0, 1], at);
    expect(wireError(() => Vlan.walk(deep)).code).toBe("unsupported");
    expect(isVlanTpid(0x9100)).toBe(false);
  });

  test.prop([fc.uint8Array({ maxLength: 64 }), fc.nat(70)])(
    "random bytes parse or raise WireError",
    (bytes, offset) => {
      for (const f of [() => Vlan.parse(bytes, offset), () => Vlan.parseStack(bytes, offset)]) {
        try {
          f();
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }
    },
  );
  test.prop([
    fc.array(
      fc.record({
        tpid: fc.constantFrom(0x8100, 0x88a8),
        pcp: fc.integer({ min: 0, max: 7 }),
        dei: fc.boolean(),
        vid: fc.integer({ min: 0, max: 4095 }),
      }),
      { maxLength: MAX_VLAN_TAGS },
    ),
    fc.integer({ min: 0, max: 0xffff }).filter((t) => !isVlanTpid(t)),
  ])("parse(emit(x)) == x", (tags, etherType) => {
    const buf = new Uint8Array(14 + 4 * tags.length);
    let at = 12;
    for (const t of tags) at += Vlan.emit(t, buf, at);
    buf[at] = etherType >>> 8;
    buf[at + 1] = etherType & 0xff;
    expect(Vlan.parseStack(buf)).toEqual({ tags, etherType, payloadOffset: at + 2 });
  });
});
