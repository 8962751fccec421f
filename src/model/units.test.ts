/** Text forms of the topology file: bandwidth, delay, loss, VLAN ranges, prefixes. */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "../wire/addr.ts";
import { parseBandwidth, parseCidr, parseDelay, parseLoss, parseVlanRange } from "./units.ts";

describe("parseBandwidth", () => {
  it("reads decimal rates with and without bps", () => {
    expect(parseBandwidth("10Gbps")).toEqual({ ok: true, value: 10e9 });
    expect(parseBandwidth("1G")).toEqual({ ok: true, value: 1e9 });
    expect(parseBandwidth("100Mbps")).toEqual({ ok: true, value: 100e6 });
    expect(parseBandwidth("2.5Gbps")).toEqual({ ok: true, value: 2.5e9 });
    expect(parseBandwidth("64 kbps")).toEqual({ ok: true, value: 64e3 });
    expect(parseBandwidth("400G")).toEqual({ ok: true, value: 400e9 });
  });
  it("refuses rates out of range and other text", () => {
    expect(parseBandwidth("10bps")).toEqual({
      ok: false,
      message: "bandwidth 10bps is too low: at least 1kbps",
    });
    expect(parseBandwidth("2T")).toEqual({ ok: false, message: "bandwidth 2T is too high: at most 1.6Tbps" });
    expect(parseBandwidth("10Gbs").ok).toBe(false);
  });
});

describe("parseDelay", () => {
  it("reads ns, us, µs, ms, s", () => {
    expect(parseDelay("500ns")).toEqual({ ok: true, value: 500 });
    expect(parseDelay("2us")).toEqual({ ok: true, value: 2000 });
    expect(parseDelay("2µs")).toEqual({ ok: true, value: 2000 });
    expect(parseDelay("1.5ms")).toEqual({ ok: true, value: 1_500_000 });
    expect(parseDelay("1s")).toEqual({ ok: true, value: 1e9 });
    expect(parseDelay("0ns")).toEqual({ ok: true, value: 0 });
  });
  it("refuses delays over 10s and text without a unit", () => {
    expect(parseDelay("11s")).toEqual({ ok: false, message: "delay 11s is too long: at most 10s" });
    expect(parseDelay("2").ok).toBe(false);
  });
});

describe("parseLoss", () => {
  it("reads probabilities and percentages", () => {
    expect(parseLoss(0.001)).toEqual({ ok: true, value: 0.001 });
    expect(parseLoss("0.1%")).toEqual({ ok: true, value: 0.001 });
    expect(parseLoss("100%")).toEqual({ ok: true, value: 1 });
    expect(parseLoss("150%")).toEqual({ ok: false, message: "loss 150% is above 100%" });
  });
});

describe("parseVlanRange", () => {
  it("reads ids and ranges", () => {
    expect(parseVlanRange(7)).toEqual({ ok: true, value: [7, 7] });
    expect(parseVlanRange("100-199")).toEqual({ ok: true, value: [100, 199] });
    expect(parseVlanRange("0-10")).toEqual({
      ok: false,
      message: "VLAN range 0-10 leaves 1..4094 (IEEE 802.1Q reserves 0 and 4095)",
    });
    expect(parseVlanRange("20-10")).toEqual({
      ok: false,
      message: "VLAN range 20-10 is backwards; write 10-20",
    });
  });
});

describe("parseCidr", () => {
  it("reads address and prefix length", () => {
    expect(parseCidr("192.168.10.11/24")).toEqual({ ip: parseIpv4("192.168.10.11"), prefixLen: 24 });
    expect(parseCidr("10.0.0.1/32")).toEqual({ ip: parseIpv4("10.0.0.1"), prefixLen: 32 });
    expect(parseCidr("10.0.0.1")).toBeUndefined();
    expect(parseCidr("10.0.0.1/33")).toBeUndefined();
  });
});

test.prop([fc.string({ maxLength: 16 })])("the parsers answer every text with ok or a message", (t) => {
  for (const r of [parseBandwidth(t), parseDelay(t), parseLoss(t), parseVlanRange(t)]) {
    if (r.ok) expect(Number.isFinite(Array.isArray(r.value) ? r.value[0] : r.value)).toBe(true);
    else expect(r.message.length).toBeGreaterThan(0);
  }
});

describe("parsePps (storm-control levels)", () => {
  it("takes numbers and text with or without a unit; refuses zero and words", async () => {
    const { parsePps } = await import("./units.ts");
    expect(parsePps(1000)).toBe(1000);
    expect(parsePps("2000")).toBe(2000);
    expect(parsePps("2kpps")).toBe(2000);
    expect(parsePps("1.5Mpps")).toBe(1.5e6);
    expect(parsePps("10 pps")).toBe(10);
    expect(parsePps("0")).toBeNull();
    expect(parsePps("10mbps")).toBeNull();
  });
});
