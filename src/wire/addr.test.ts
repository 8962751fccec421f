import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  formatIpv4,
  formatIpv6,
  formatMac,
  isMulticastMac,
  parseIpv4,
  parseIpv6,
  parseMac,
  prefixMask,
  readMac,
  tryParseIpv4,
  tryParseIpv6,
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
  it("IPv6 text to bytes (RFC 4291 §2.2)", () => {
    expect(formatIpv6(parseIpv6("2001:DB8::1:0:0:1"), 0)).toBe("2001:db8::1:0:0:1");
    expect(formatIpv6(parseIpv6("::ffff:192.0.2.1"), 0)).toBe("::ffff:c000:201");
    expect(formatIpv6(parseIpv6("1:2:3:4:5:6:7::"), 0)).toBe("1:2:3:4:5:6:7:0");
    expect(parseIpv6("::")).toEqual(new Uint8Array(16));
    for (const bad of [
      "1::2::3",
      "1:2:3:4:5:6:7",
      "12345::",
      "fe80::1%eth0",
      ":1",
      "1:",
      "1:2:3:4:5:6:7:1.2.3.4",
    ]) {
      expect(tryParseIpv6(bad)).toBeUndefined();
    }
  });
  test.prop([fc.uint8Array({ minLength: 16, maxLength: 16 })])("IPv6 text round trip", (a) => {
    expect(parseIpv6(formatIpv6(a, 0))).toEqual(a);
  });
  test.prop([fc.integer({ min: 0, max: 2 ** 32 - 1 })])("IPv4 text round trip", (ip) => {
    expect(parseIpv4(formatIpv4(ip))).toBe(ip);
  });
});
