import { describe, expect, it } from "vitest";
import { internetChecksum } from "../wire/checksum.ts";
import { ETHERNET_HEADER_LEN } from "../wire/ethernet.ts";
import { IpProtocol, Ipv4Header } from "../wire/ipv4.ts";
import { Udp } from "../wire/udp.ts";
import type { Frame } from "./frame.ts";
import { decodeChecked, echoMessage, ip, ipv4Frame, mac, udpMessage } from "./ip-testing.ts";
import { Masquerade, NAT_TIMEOUTS } from "./nat.ts";

const OUTSIDE = ip("203.0.113.1");
const INSIDE = ip("192.168.1.2");
const INSIDE2 = ip("192.168.1.3");
const REMOTE = ip("198.51.100.1");
const M = mac("02:00:00:00:00:01");

function udp(
  src: number,
  dst: number,
  sport: number,
  dport: number,
  data = new Uint8Array([1, 2, 3]),
): Frame {
  return ipv4Frame({
    srcMac: M,
    dstMac: M,
    src,
    dst,
    protocol: IpProtocol.UDP,
    payload: udpMessage(src, dst, sport, dport, data),
  });
}

const off = (f: Frame) => f.start + ETHERNET_HEADER_LEN;

describe("Masquerade", () => {
  it("translates a UDP flow out and its replies back, checksums valid both ways", () => {
    const nat = new Masquerade(OUTSIDE);
    const out = udp(INSIDE, REMOTE, 51820, 51820);
    expect(nat.outbound(out.buf, off(out), 0)).toBeNull();
    const d = decodeChecked(out);
    expect(d.ip?.src).toBe(OUTSIDE);
    expect(d.udp?.srcPort).toBe(51820); // kept: no other flow holds it
    const reply = udp(REMOTE, OUTSIDE, 51820, 51820);
    expect(nat.inbound(reply.buf, off(reply), 1e9)).toBe(true);
    const r = decodeChecked(reply);
    expect(r.ip?.dst).toBe(INSIDE);
    expect(r.udp?.dstPort).toBe(51820);
    expect(nat.entries(1e9)).toEqual([
      expect.objectContaining({
        protocol: "udp",
        inside: "192.168.1.2:51820",
        outside: "203.0.113.1:51820",
        remote: "198.51.100.1:51820",
        isReplied: true,
      }),
    ]);
  });

  it("gives a second inside host with the same port another outside port", () => {
    const nat = new Masquerade(OUTSIDE);
    const a = udp(INSIDE, REMOTE, 5000, 53);
    const b = udp(INSIDE2, REMOTE, 5000, 53);
    nat.outbound(a.buf, off(a), 0);
    nat.outbound(b.buf, off(b), 0);
    const pb = decodeChecked(b).udp!.srcPort;
    expect(pb).not.toBe(5000);
    const reply = udp(REMOTE, OUTSIDE, 53, pb);
    expect(nat.inbound(reply.buf, off(reply), 0)).toBe(true);
    expect(decodeChecked(reply).ip?.dst).toBe(INSIDE2);
    expect(decodeChecked(reply).udp?.dstPort).toBe(5000);
  });

  it("filters by remote address and port, and forgets idle connections", () => {
    const nat = new Masquerade(OUTSIDE);
    const out = udp(INSIDE, REMOTE, 40000, 51820);
    nat.outbound(out.buf, off(out), 0);
    const stranger = udp(ip("198.51.100.9"), OUTSIDE, 51820, 40000);
    expect(nat.inbound(stranger.buf, off(stranger), 1e9)).toBe(false);
    const otherPort = udp(REMOTE, OUTSIDE, 1234, 40000);
    expect(nat.inbound(otherPort.buf, off(otherPort), 1e9)).toBe(false);
    // Unreplied UDP lives 30 s.
    const late = udp(REMOTE, OUTSIDE, 51820, 40000);
    expect(nat.inbound(late.buf, off(late), NAT_TIMEOUTS.udpNs + 1)).toBe(false);
    expect(nat.size).toBe(0);
  });

  it("translates ICMP echo by its identifier, checksum valid", () => {
    const nat = new Masquerade(OUTSIDE);
    const req = ipv4Frame({
      srcMac: M,
      dstMac: M,
      src: INSIDE,
      dst: REMOTE,
      protocol: IpProtocol.ICMP,
      payload: echoMessage(7, 1, new Uint8Array(8)),
    });
    nat.outbound(req.buf, off(req), 0);
    expect(decodeChecked(req).ip?.src).toBe(OUTSIDE);
    const rep = ipv4Frame({
      srcMac: M,
      dstMac: M,
      src: REMOTE,
      dst: OUTSIDE,
      protocol: IpProtocol.ICMP,
      payload: echoMessage(7, 1, new Uint8Array(8), 0),
    });
    expect(nat.inbound(rep.buf, off(rep), 0)).toBe(true);
    expect(decodeChecked(rep).ip?.dst).toBe(INSIDE);
  });

  it("translates an ICMP error about a translated flow back to the inside host (RFC 5508)", () => {
    const nat = new Masquerade(OUTSIDE);
    const a = udp(INSIDE, REMOTE, 5000, 53);
    const b = udp(INSIDE2, REMOTE, 5000, 53);
    nat.outbound(a.buf, off(a), 0);
    nat.outbound(b.buf, off(b), 0); // b leaves with another port: the error must restore it
    const quoted = b.buf.slice(off(b), off(b) + 28);
    const icmp = new Uint8Array(8 + quoted.length);
    icmp[0] = 3; // destination unreachable
    icmp[1] = 4; // fragmentation needed
    icmp[6] = 0x05; // next-hop MTU 1400
    icmp[7] = 0x78;
    icmp.set(quoted, 8);
    const sum = internetChecksum(icmp, 0, icmp.length);
    icmp[2] = sum >>> 8;
    icmp[3] = sum & 0xff;
    const err = ipv4Frame({
      srcMac: M,
      dstMac: M,
      src: ip("198.51.100.254"),
      dst: OUTSIDE,
      protocol: 1,
      payload: icmp,
    });
    expect(nat.inbound(err.buf, off(err), 0)).toBe(true);
    const d = decodeChecked(err); // outer IPv4 and ICMP checksums verify
    expect(d.ip?.dst).toBe(INSIDE2);
    const q = off(err) + 20 + 8;
    expect(Ipv4Header.src(err.buf, q)).toBe(INSIDE2);
    expect(Ipv4Header.isChecksumValid(err.buf, q)).toBe(true);
    expect(Udp.srcPort(err.buf, q + 20)).toBe(5000);
  });

  it("refuses non-first fragments and leaves the router's own packets alone", () => {
    const nat = new Masquerade(OUTSIDE);
    const own = udp(OUTSIDE, REMOTE, 1, 2);
    expect(nat.outbound(own.buf, off(own), 0)).toBeNull();
    expect(nat.size).toBe(0);
    const frag = udp(INSIDE, REMOTE, 1, 2);
    frag.buf[off(frag) + 7] = 10; // offset 80 bytes
    expect(nat.outbound(frag.buf, off(frag), 0)).toBe("nat-fragment");
  });

  it("refuses a new connection when the table is full", () => {
    const nat = new Masquerade(OUTSIDE, 2);
    for (const p of [1000, 1001]) {
      const f = udp(INSIDE, REMOTE, p, 53);
      expect(nat.outbound(f.buf, off(f), 0)).toBeNull();
    }
    const f = udp(INSIDE, REMOTE, 1002, 53);
    expect(nat.outbound(f.buf, off(f), 0)).toBe("nat-table-full");
  });
});
