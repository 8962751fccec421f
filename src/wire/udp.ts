/**
 * UDP headers (RFC 768). The checksum covers a pseudo-header (source and destination address,
 * protocol 17, UDP length: RFC 768 for IPv4, RFC 8200 §8.1 for IPv6), the header and the data.
 * Over IPv4 a zero checksum means "none was computed"; a sender whose sum comes out as zero
 * sends 0xffff instead (RFC 768). Over IPv6 zero is not allowed (RFC 8200 §8.1) except for
 * tunnels under RFC 6935/6936, so the parser reports "absent" and the receiver decides.
 *
 *    0      7 8     15 16    23 24    31
 *   +--------+--------+--------+--------+
 *   |   Source Port   |    Dest Port    |
 *   +--------+--------+--------+--------+
 *   |     Length      |    Checksum     |
 *   +--------+--------+--------+--------+
 *   |          data octets ...
 *
 * Verification is reported in `checksumStatus`, never assumed: "valid", "invalid", "absent"
 * (zero on the wire) or "unchecked" (the caller gave no pseudo-header, e.g. a decoder looking at
 * a quoted fragment).
 */

import { type PseudoHeader, pseudoHeaderSum, pseudoHeaderSumV4, sumWords } from "./checksum.ts";
import { checkLen, WireError } from "./error.ts";
import { IpProtocol } from "./ipv4.ts";

export const UDP_HEADER_LEN = 8;

/** Well-known ports the codecs and devices care about. */
export const UdpPort = {
  Dns: 53,
  Dhcp4Server: 67,
  Dhcp4Client: 68,
  WireGuard: 51820,
  /** IANA-assigned VXLAN port (RFC 7348 §5). */
  Vxlan: 4789,
} as const;

export type ChecksumStatus = "valid" | "invalid" | "absent" | "unchecked";

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** Bytes of data after the header (UDP length - 8). */
  payloadLength: number;
  /**
   * What parse found. For `emit`: "absent" writes zero (IPv4 only: "no checksum"); anything
   * else computes it, which needs a pseudo-header.
   */
  checksumStatus: ChecksumStatus;
}

/** Folds and inverts a sum into the value for the checksum field; 0 is sent as 0xffff. */
function finishChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  const c = ~s & 0xffff;
  return c === 0 ? 0xffff : c;
}

/** Zero-copy accessors over a UDP header at `offset` of `buf`. */
export const Udp = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, UDP_HEADER_LEN, "udp header");
  },
  srcPort(buf: Uint8Array, offset = 0): number {
    return (buf[offset] << 8) | buf[offset + 1];
  },
  dstPort(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 2] << 8) | buf[offset + 3];
  },
  /** The UDP length field: header plus data. */
  length(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 4] << 8) | buf[offset + 5];
  },
  checksum(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 6] << 8) | buf[offset + 7];
  },
  setSrcPort(buf: Uint8Array, offset: number, port: number): void {
    buf[offset] = (port >>> 8) & 0xff;
    buf[offset + 1] = port & 0xff;
  },
  setDstPort(buf: Uint8Array, offset: number, port: number): void {
    buf[offset + 2] = (port >>> 8) & 0xff;
    buf[offset + 3] = port & 0xff;
  },
  setLength(buf: Uint8Array, offset: number, length: number): void {
    buf[offset + 4] = (length >>> 8) & 0xff;
    buf[offset + 5] = length & 0xff;
  },
  setChecksum(buf: Uint8Array, offset: number, checksum: number): void {
    buf[offset + 6] = (checksum >>> 8) & 0xff;
    buf[offset + 7] = checksum & 0xff;
  },

  /**
   * Computes and writes the checksum over the header and data (the UDP length field must be set)
   * given the unfolded pseudo-header sum, e.g. `pseudoHeaderSumV4(src, dst, 17, length)`.
   */
  fillChecksum(buf: Uint8Array, offset: number, pseudoSum: number): void {
    buf[offset + 6] = 0;
    buf[offset + 7] = 0;
    Udp.setChecksum(buf, offset, finishChecksum(sumWords(buf, offset, Udp.length(buf, offset), pseudoSum)));
  },
  /** Convenience for IPv4: the pseudo-header from the two addresses. */
  fillChecksumV4(buf: Uint8Array, offset: number, src: number, dst: number): void {
    Udp.fillChecksum(buf, offset, pseudoHeaderSumV4(src, dst, IpProtocol.UDP, Udp.length(buf, offset)));
  },
  /** Checks a non-zero checksum; the caller has validated the length. */
  isChecksumValid(buf: Uint8Array, offset: number, pseudoSum: number): boolean {
    let s = sumWords(buf, offset, Udp.length(buf, offset), pseudoSum);
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
    return s === 0xffff;
  },

  /**
   * Checks the length field against the header and the `available` bytes (the IP payload),
   * allocating nothing; returns the UDP length. Bytes past the UDP length are IP-level padding.
   */
  validate(buf: Uint8Array, offset = 0, available = buf.length - offset): number {
    Udp.check(buf, offset);
    const len = Udp.length(buf, offset);
    if (len < UDP_HEADER_LEN) throw new WireError("bad-length", offset + 4, `udp: length ${len} is below 8`);
    if (len > available || offset + len > buf.length) {
      throw new WireError(
        "bad-length",
        offset + 4,
        `udp: length ${len} exceeds the ${available} bytes present`,
      );
    }
    return len;
  },

  /**
   * Parses the header at `offset`. With a pseudo-header the checksum is verified; `available` is
   * the IP payload length when the buffer holds more (Ethernet padding).
   */
  parse(buf: Uint8Array, offset = 0, pseudo?: PseudoHeader, available = buf.length - offset): UdpRepr {
    const len = Udp.validate(buf, offset, available);
    let checksumStatus: ChecksumStatus;
    if (Udp.checksum(buf, offset) === 0) checksumStatus = "absent";
    else if (!pseudo) checksumStatus = "unchecked";
    else {
      const ok = Udp.isChecksumValid(buf, offset, pseudoHeaderSum(pseudo, IpProtocol.UDP, len));
      checksumStatus = ok ? "valid" : "invalid";
    }
    return {
      srcPort: Udp.srcPort(buf, offset),
      dstPort: Udp.dstPort(buf, offset),
      payloadLength: len - UDP_HEADER_LEN,
      checksumStatus,
    };
  },
  /**
   * Writes the header at `offset`. The data (`repr.payloadLength` bytes) must already be in place
   * after it when a checksum is computed. Returns the number of header bytes written.
   */
  emit(repr: UdpRepr, buf: Uint8Array, offset = 0, pseudo?: PseudoHeader): number {
    const len = UDP_HEADER_LEN + repr.payloadLength;
    if (!(repr.payloadLength >= 0 && len <= 0xffff)) {
      throw new WireError("bad-length", offset + 4, `udp emit: payload length ${repr.payloadLength}`);
    }
    checkLen(buf, offset, UDP_HEADER_LEN, "udp emit");
    Udp.setSrcPort(buf, offset, repr.srcPort);
    Udp.setDstPort(buf, offset, repr.dstPort);
    Udp.setLength(buf, offset, len);
    Udp.setChecksum(buf, offset, 0);
    if (repr.checksumStatus !== "absent") {
      if (!pseudo) throw new WireError("bad-value", offset + 6, "udp emit: a checksum needs a pseudo-header");
      checkLen(buf, offset, len, "udp emit payload");
      Udp.fillChecksum(buf, offset, pseudoHeaderSum(pseudo, IpProtocol.UDP, len));
    }
    return UDP_HEADER_LEN;
  },
};
