/**
 * Tests for the tunnel endpoint's ICMP host: a literal echo request as Linux ping sends it is
 * answered byte for byte as RFC 792 says; our own requests are well-formed and their replies
 * recognized; everything else is dropped with a counted reason.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4, parseIpv6 } from "../wire/addr.ts";
import { verifyChecksum } from "../wire/checksum.ts";
import { Icmpv4, Icmpv4Type } from "../wire/icmp.ts";
import { Icmpv6, Icmpv6Type } from "../wire/icmpv6.ts";
import { Ipv4Header } from "../wire/ipv4.ts";
import { Ipv6Header } from "../wire/ipv6.ts";
import { IcmpHost } from "./icmp-host.ts";

const hex = (s: string) =>
  Uint8Array.from(
    s
      .replace(/\s+/g, "")
      .match(/../g)!
      .map((b) => Number.parseInt(b, 16)),
  );

// `ping -c1 -s 8 10.0.0.2` from 10.0.0.1: IPv4 (ident 0x1c46, DF), ICMP echo id 0x0a0b seq 1, 8 bytes of data.
const LINUX_REQUEST = hex(
  "4500 0024 1c46 4000 4001 0a7d 0a00 0001 0a00 0002" + // IPv4, checksum filled below
    "0800 0000 0a0b 0001 0102 0304 0506 0708",
);
Ipv4Header.fillChecksum(LINUX_REQUEST, 0);
{
  // ICMP checksum
  LINUX_REQUEST[22] = 0;
  LINUX_REQUEST[23] = 0;
  let s = 0;
  for (let i = 20; i < 36; i += 2) s += (LINUX_REQUEST[i] << 8) | LINUX_REQUEST[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  LINUX_REQUEST[22] = c >>> 8;
  LINUX_REQUEST[23] = c & 0xff;
}

describe("IcmpHost", () => {
  it("answers an echo request to its own address", () => {
    const host = new IcmpHost([parseIpv4("10.0.0.2")]);
    const out = host.receive(LINUX_REQUEST);
    expect(out.kind).toBe("answered");
    if (out.kind !== "answered") return;
    const r = out.reply;
    expect(r.length).toBe(36);
    expect(Ipv4Header.src(r, 0)).toBe(parseIpv4("10.0.0.2"));
    expect(Ipv4Header.dst(r, 0)).toBe(parseIpv4("10.0.0.1"));
    expect(Ipv4Header.protocol(r, 0)).toBe(1);
    expect(Ipv4Header.isChecksumValid(r, 0)).toBe(true);
    expect(r[20]).toBe(0); // echo reply
    expect(r[21]).toBe(0);
    expect(Array.from(r.subarray(24, 36))).toEqual(Array.from(LINUX_REQUEST.subarray(24, 36))); // id, seq, data
    expect(verifyChecksum(r, 20, 16)).toBe(true);
    expect(host.echoRequestsAnswered).toBe(1);
  });

  it("builds requests that another host answers, and recognizes the reply", () => {
    const a = new IcmpHost([parseIpv4("10.0.0.1")]);
    const b = new IcmpHost([parseIpv4("10.0.0.2")]);
    const req = a.buildEchoRequest(parseIpv4("10.0.0.1"), parseIpv4("10.0.0.2"), 0x1234, 7, 56, 123_456_789);
    expect(req.length).toBe(84);
    expect(Ipv4Header.isChecksumValid(req, 0)).toBe(true);
    expect(verifyChecksum(req, 20, 64)).toBe(true);
    const answered = b.receive(req);
    if (answered.kind !== "answered") throw new Error(answered.kind);
    const got = a.receive(answered.reply);
    expect(got).toEqual({
      kind: "echo-reply",
      reply: { family: 4, src: "10.0.0.2", ident: 0x1234, seq: 7, ttl: 64, icmpBytes: 64 },
    });
    expect(new DataView(answered.reply.buffer, 28, 8).getBigUint64(0)).toBe(123_456_789n);
  });

  it("answers ICMPv6 echo and recognizes the reply (RFC 4443 4.2)", () => {
    const a6 = parseIpv6("fd00::1");
    const b6 = parseIpv6("fd00::2");
    const a = new IcmpHost([], [a6]);
    const b = new IcmpHost([], [b6]);
    const req = a.buildEchoRequest6(a6, b6, 0x4242, 3, 16);
    expect(req.length).toBe(40 + 8 + 16);
    expect(req[0] >>> 4).toBe(6);
    expect(req[6]).toBe(58);
    const pseudo = (p: Uint8Array) => Ipv6Header.pseudoHeaderSum(p, 0, 58, p.length - 40);
    expect(verifyChecksum(req, 40, 24, pseudo(req))).toBe(true);
    const answered = b.receive(req);
    if (answered.kind !== "answered") throw new Error(answered.kind);
    const rep = answered.reply;
    expect(rep[40]).toBe(129);
    expect(Array.from(rep.subarray(8, 24))).toEqual(Array.from(b6));
    expect(Array.from(rep.subarray(24, 40))).toEqual(Array.from(a6));
    expect(verifyChecksum(rep, 40, 24, pseudo(rep))).toBe(true);
    expect(a.receive(rep)).toEqual({
      kind: "echo-reply",
      reply: { family: 6, src: "fd00::2", ident: 0x4242, seq: 3, ttl: 64, icmpBytes: 24 },
    });
    expect(new IcmpHost([], [parseIpv6("fd00::9")]).receive(req)).toEqual({
      kind: "drop",
      reason: "not-for-us",
    });
    const bad = req.slice();
    bad[50] ^= 1;
    expect(b.receive(bad)).toEqual({ kind: "drop", reason: "bad-icmp" });
  });

  it("answers an ICMPv6 echo request that arrives in a Node Buffer (whose slice() is a view, not a copy)", () => {
    // node:crypto hands the decrypted packet over as a Buffer; the reply once swapped the
    // addresses in place and went back to its own sender.
    const a6 = parseIpv6("fd00::1");
    const b6 = parseIpv6("fd00::2");
    const req = new IcmpHost([], [a6]).buildEchoRequest6(a6, b6, 7, 1, 100);
    const pooled = Buffer.alloc(req.length + 16);
    pooled.set(req, 16);
    const answered = new IcmpHost([], [b6]).receive(pooled.subarray(16));
    if (answered.kind !== "answered") throw new Error(answered.kind);
    expect(Array.from(answered.reply.subarray(8, 24))).toEqual(Array.from(b6));
    expect(Array.from(answered.reply.subarray(24, 40))).toEqual(Array.from(a6));
    // The request is left as it came.
    expect(Array.from(pooled.subarray(16 + 24, 16 + 40))).toEqual(Array.from(b6));
  });

  it("recognizes an ICMP error that quotes one of its echo requests (RFC 792, RFC 1812 4.3.2.3)", () => {
    const me = parseIpv4("10.0.0.1");
    const host = new IcmpHost([me]);
    const req = host.buildEchoRequest(me, parseIpv4("10.9.9.9"), 0x7777, 12, 56);
    // A router at 10.0.0.254 answers "host unreachable", quoting the request's header and 8 bytes.
    const quoted = 20 + 8;
    const err = new Uint8Array(20 + 8 + quoted);
    Ipv4Header.emit(
      {
        dscp: 0,
        ecn: 0,
        ident: 1,
        dontFragment: false,
        moreFragments: false,
        fragmentOffsetBytes: 0,
        ttl: 64,
        protocol: 1,
        src: parseIpv4("10.0.0.254"),
        dst: me,
        options: new Uint8Array(0),
        payloadLength: 8 + quoted,
        checksumValid: true,
      },
      err,
      0,
    );
    Icmpv4.emitError(err, 20, Icmpv4Type.DestUnreachable, 1, 0, req, 0, quoted);
    expect(host.receive(err)).toEqual({
      kind: "echo-error",
      error: {
        family: 4,
        src: "10.0.0.254",
        ident: 0x7777,
        seq: 12,
        type: "dest-unreachable",
        code: 1,
        nextHopMtu: 0,
      },
    });
    expect(host.echoErrorsReceived).toBe(1);
    // The same error about somebody else's datagram is not ours to report.
    const other = new IcmpHost([parseIpv4("10.0.0.2")]);
    const forOther = err.slice();
    Ipv4Header.setDst(forOther, 0, parseIpv4("10.0.0.2"));
    Ipv4Header.fillChecksum(forOther, 0);
    expect(other.receive(forOther)).toEqual({ kind: "drop", reason: "icmp-other" });
  });

  it("recognizes an ICMPv6 error that quotes one of its echo requests (RFC 4443 3.1, 3.2)", () => {
    const me = parseIpv6("fd00::1");
    const router = parseIpv6("fd00::fe");
    const host = new IcmpHost([], [me]);
    const req = host.buildEchoRequest6(me, parseIpv6("fd77::9"), 0x5151, 4, 56);
    const make = (type: number, code: number, word1: number) => {
      const quoted = req.length;
      const err = new Uint8Array(40 + 8 + quoted);
      Ipv6Header.emit(
        {
          trafficClass: 0,
          flowLabel: 0,
          payloadLength: 8 + quoted,
          nextHeader: 58,
          hopLimit: 64,
          src: router,
          dst: me,
        },
        err,
        0,
      );
      Icmpv6.emitError(err, 40, type, code, word1, req, 0, quoted, { version: 6, src: router, dst: me });
      return err;
    };
    expect(host.receive(make(Icmpv6Type.DestUnreachable, 0, 0))).toEqual({
      kind: "echo-error",
      error: {
        family: 6,
        src: "fd00::fe",
        ident: 0x5151,
        seq: 4,
        type: "dest-unreachable",
        code: 0,
        nextHopMtu: 0,
      },
    });
    expect(host.receive(make(Icmpv6Type.PacketTooBig, 0, 1280))).toMatchObject({
      kind: "echo-error",
      error: { type: "packet-too-big", nextHopMtu: 1280, seq: 4 },
    });
    expect(host.echoErrorsReceived).toBe(2);
    // About somebody else's echo: not ours to report.
    const other = new IcmpHost([], [me]);
    const foreign = new IcmpHost([], [parseIpv6("fd00::5")]).buildEchoRequest6(
      parseIpv6("fd00::5"),
      me,
      1,
      1,
      8,
    );
    const err = new Uint8Array(40 + 8 + foreign.length);
    Ipv6Header.emit(
      {
        trafficClass: 0,
        flowLabel: 0,
        payloadLength: 8 + foreign.length,
        nextHeader: 58,
        hopLimit: 64,
        src: router,
        dst: me,
      },
      err,
      0,
    );
    Icmpv6.emitError(err, 40, Icmpv6Type.TimeExceeded, 0, 0, foreign, 0, foreign.length, {
      version: 6,
      src: router,
      dst: me,
    });
    expect(other.receive(err)).toEqual({ kind: "drop", reason: "icmp-other" });
  });

  it("drops what it does not handle, by reason", () => {
    const host = new IcmpHost([parseIpv4("10.0.0.2")]);
    const other = new IcmpHost([parseIpv4("10.0.0.9")]);
    expect(other.receive(LINUX_REQUEST)).toEqual({ kind: "drop", reason: "not-for-us" });
    expect(host.receive(new Uint8Array([0x60, 0, 0, 0]))).toEqual({ kind: "drop", reason: "malformed-ip" });
    expect(host.receive(new Uint8Array([0x50, 0, 0, 0]))).toEqual({ kind: "drop", reason: "malformed-ip" });
    const badIp = LINUX_REQUEST.slice();
    badIp[8] = 1; // TTL changed, checksum not
    expect(host.receive(badIp)).toEqual({ kind: "drop", reason: "bad-ip-checksum" });
    const udp = LINUX_REQUEST.slice();
    udp[9] = 17;
    Ipv4Header.fillChecksum(udp, 0);
    expect(host.receive(udp)).toEqual({ kind: "drop", reason: "not-icmp" });
    const badIcmp = LINUX_REQUEST.slice();
    badIcmp[30] ^= 1;
    expect(host.receive(badIcmp)).toEqual({ kind: "drop", reason: "bad-icmp" });
    const frag = LINUX_REQUEST.slice();
    frag[6] = 0x20; // MF
    Ipv4Header.fillChecksum(frag, 0);
    expect(host.receive(frag)).toEqual({ kind: "drop", reason: "fragment" });
    expect(host.drops).toMatchObject({
      "malformed-ip": 2,
      "bad-ip-checksum": 1,
      "not-icmp": 1,
      "bad-icmp": 1,
      fragment: 1,
    });
    expect(other.drops["not-for-us"]).toBe(1);
  });

  test.prop([fc.uint8Array({ maxLength: 80 })])(
    "any bytes are answered, recognized or dropped by reason",
    (b) => {
      const host = new IcmpHost([parseIpv4("10.0.0.2")]);
      const out = host.receive(b);
      expect(["answered", "echo-reply", "drop"]).toContain(out.kind);
    },
  );
});
