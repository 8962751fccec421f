import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  formatIpv4,
  formatIpv6,
  formatMac,
  isMulticastMac,
  parseIpv4,
  parseMac,
  prefixMask,
  readMac,
  tryParseIpv4,
  writeMac,
} from "./addr.ts";

describe("addresses", () => {
  it("MAC text round trip", () => {
    expect(formatMac(parseMac("02:00:00:00:20:12"))).toBe("02:00:00:00:20:12");
    expect(parseMac("ff:ff:ff:ff:ff:ff")).toBe(0xffffffffffff);
    expect(isMulticastMac(parseMac("01:80:c2:00:00:02"))).toBe(true);
    expect(isMulticastMac(parseMac("02:80:c2:00:00:02"))).toBe(false);
  });
  it("IPv4 text", () => {
    expect(formatIpv4(parseIpv4("192.168.10.11"))).toBe("192.168.10.11");
    expect(tryParseIpv4("256.1.1.1")).toBeUndefined();
    expect(tryParseIpv4("01.1.1.1")).toBeUndefined();
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(32)).toBe(0xffffffff);
  });
  it("IPv6 text per RFC 5952", () => {
    const a = new Uint8Array(16);
    a[0] = 0xfe;
    a[1] = 0x80;
    a[15] = 1;
    expect(formatIpv6(a, 0)).toBe("fe80::1");
    expect(formatIpv6(new Uint8Array(16), 0)).toBe("::");
  });
  test.prop([fc.integer({ min: 0, max: 2 ** 48 - 1 })])("MAC bytes round trip", (mac) => {
    const b = new Uint8Array(6);
    writeMac(b, 0, mac);
    expect(readMac(b, 0)).toBe(mac);
    expect(parseMac(formatMac(mac))).toBe(mac);
  });
  test.prop([fc.integer({ min: 0, max: 2 ** 32 - 1 })])("IPv4 text round trip", (ip) => {
    expect(parseIpv4(formatIpv4(ip))).toBe(ip);
  });
});
