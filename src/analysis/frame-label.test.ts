/**
 * Frame label tests: ARP and ICMP echo named from literal frames, behind VLAN tags too; anything
 * short or foreign is "other", never an exception.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { labelFrame } from "./frame-label.ts";

const hex = (s: string) =>
  Uint8Array.from(
    s
      .replace(/\s+/g, "")
      .match(/../g)!
      .map((b) => Number.parseInt(b, 16)),
  );

// ARP request who-has 192.168.10.12 tell 192.168.10.11 (RFC 826 layout).
const ARP_REQ = hex(`ffffffffffff 020000001011 0806
  0001 0800 06 04 0001 020000001011 c0a80a0b 000000000000 c0a80a0c`);
// ICMP echo request 192.168.10.11 > 192.168.20.12, in VLAN 10.
const ECHO_TAGGED = hex(`020000002012 020000001011 8100 000a 0800
  4500 0054 0001 4000 4001 0000 c0a80a0b c0a8140c
  0800 0000 1234 0001`);

describe("labelFrame", () => {
  it("names an ARP request", () => {
    expect(labelFrame(ARP_REQ, 0, ARP_REQ.length)).toEqual({
      kind: "arp-request",
      text: "ARP request who-has 192.168.10.12 tell 192.168.10.11",
    });
  });

  it("names an ICMP echo request behind an 802.1Q tag", () => {
    expect(labelFrame(ECHO_TAGGED, 0, ECHO_TAGGED.length)).toEqual({
      kind: "echo-request",
      text: "ICMP echo request 192.168.10.11 > 192.168.20.12",
    });
  });

  it("names an ARP reply and honours the start offset", () => {
    const buf = new Uint8Array(4 + ARP_REQ.length);
    buf.set(ARP_REQ, 4);
    buf[4 + 21] = 2; // opcode: reply
    expect(labelFrame(buf, 4, buf.length).text).toBe("ARP reply 192.168.10.11 is-at 02:00:00:00:10:11");
  });

  test.prop([fc.uint8Array({ maxLength: 80 })])("never throws on arbitrary bytes", (bytes) => {
    const l = labelFrame(bytes, 0, bytes.length);
    expect(typeof l.text).toBe("string");
  });
});
