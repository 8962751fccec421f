/**
 * ARP for IPv4 over Ethernet (RFC 826), the only combination a data-center network carries:
 * hardware type 1, protocol type 0x0800, address lengths 6 and 4, so the packet is 28 bytes.
 * Anything else (other hardware, RARP opcodes) is refused with a WireError rather than guessed at.
 *
 *    0       2       4   5   6       8
 *   +-------+-------+---+---+-------+
 *   | htype | ptype |hln|pln|  op   |
 *   +-------+-------+---+---+-------+---------------+-----------------------+---------------+
 *   | sender hardware address (6)   | sender IP (4) | target hardware (6)   | target IP (4) |
 *   +-------------------------------+---------------+-----------------------+---------------+
 *   8                               14              18                      24              28
 */

import { type Ipv4, type Mac, readIpv4, readMac, writeIpv4, writeMac } from "./addr.ts";
import { checkLen, WireError } from "./error.ts";

export const ARP_LEN = 28;

/** RFC 826 opcodes (IANA "ARP Operation Codes"). */
export const ArpOp = {
  Request: 1,
  Reply: 2,
} as const;
export type ArpOpCode = (typeof ArpOp)[keyof typeof ArpOp];

const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

export interface ArpRepr {
  op: ArpOpCode;
  senderMac: Mac;
  senderIp: Ipv4;
  /** Zero in a request (RFC 826: "don't care"); the answerer's MAC in a reply. */
  targetMac: Mac;
  targetIp: Ipv4;
}

/** Zero-copy accessors over an ARP packet at `offset` of `buf`. */
export const Arp = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, ARP_LEN, "arp packet");
  },
  hardwareType(buf: Uint8Array, offset = 0): number {
    return (buf[offset] << 8) | buf[offset + 1];
  },
  protocolType(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 2] << 8) | buf[offset + 3];
  },
  hardwareLen(buf: Uint8Array, offset = 0): number {
    return buf[offset + 4];
  },
  protocolLen(buf: Uint8Array, offset = 0): number {
    return buf[offset + 5];
  },
  op(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 6] << 8) | buf[offset + 7];
  },
  senderMac(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset + 8);
  },
  senderIp(buf: Uint8Array, offset = 0): Ipv4 {
    return readIpv4(buf, offset + 14);
  },
  targetMac(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset + 18);
  },
  targetIp(buf: Uint8Array, offset = 0): Ipv4 {
    return readIpv4(buf, offset + 24);
  },
  /** Writes htype/ptype/hlen/plen for Ethernet + IPv4, the fixed first 6 bytes. */
  setEthernetIpv4(buf: Uint8Array, offset: number): void {
    buf[offset] = 0;
    buf[offset + 1] = HTYPE_ETHERNET;
    buf[offset + 2] = PTYPE_IPV4 >>> 8;
    buf[offset + 3] = 0;
    buf[offset + 4] = 6;
    buf[offset + 5] = 4;
  },
  setOp(buf: Uint8Array, offset: number, op: number): void {
    buf[offset + 6] = op >>> 8;
    buf[offset + 7] = op & 0xff;
  },
  setSenderMac(buf: Uint8Array, offset: number, mac: Mac): void {
    writeMac(buf, offset + 8, mac);
  },
  setSenderIp(buf: Uint8Array, offset: number, ip: Ipv4): void {
    writeIpv4(buf, offset + 14, ip);
  },
  setTargetMac(buf: Uint8Array, offset: number, mac: Mac): void {
    writeMac(buf, offset + 18, mac);
  },
  setTargetIp(buf: Uint8Array, offset: number, ip: Ipv4): void {
    writeIpv4(buf, offset + 24, ip);
  },

  /**
   * Checks the fixed fields without building a Repr: the fast path for a host or router that
   * then reads the addresses through the accessors. Throws like `parse`.
   */
  validate(buf: Uint8Array, offset = 0): void {
    Arp.check(buf, offset);
    const htype = Arp.hardwareType(buf, offset);
    if (htype !== HTYPE_ETHERNET) {
      throw new WireError("unsupported", offset, `arp: hardware type ${htype}, only Ethernet (1)`);
    }
    const ptype = Arp.protocolType(buf, offset);
    if (ptype !== PTYPE_IPV4) {
      throw new WireError("unsupported", offset + 2, `arp: protocol type 0x${ptype.toString(16)}, only IPv4`);
    }
    if (Arp.hardwareLen(buf, offset) !== 6) {
      throw new WireError("bad-value", offset + 4, `arp: hardware length ${buf[offset + 4]} for Ethernet`);
    }
    if (Arp.protocolLen(buf, offset) !== 4) {
      throw new WireError("bad-value", offset + 5, `arp: protocol length ${buf[offset + 5]} for IPv4`);
    }
    const op = Arp.op(buf, offset);
    if (op !== ArpOp.Request && op !== ArpOp.Reply) {
      throw new WireError("unsupported", offset + 6, `arp: opcode ${op}, only request (1) and reply (2)`);
    }
  },

  parse(buf: Uint8Array, offset = 0): ArpRepr {
    Arp.validate(buf, offset);
    return {
      op: Arp.op(buf, offset) as ArpOpCode,
      senderMac: Arp.senderMac(buf, offset),
      senderIp: Arp.senderIp(buf, offset),
      targetMac: Arp.targetMac(buf, offset),
      targetIp: Arp.targetIp(buf, offset),
    };
  },
  /** Writes the 28-byte packet at `offset`; returns the number of bytes written. */
  emit(repr: ArpRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, ARP_LEN, "arp emit");
    if (repr.op !== ArpOp.Request && repr.op !== ArpOp.Reply) {
      throw new WireError("bad-value", offset + 6, `arp emit: opcode ${repr.op}`);
    }
    Arp.setEthernetIpv4(buf, offset);
    Arp.setOp(buf, offset, repr.op);
    Arp.setSenderMac(buf, offset, repr.senderMac);
    Arp.setSenderIp(buf, offset, repr.senderIp);
    Arp.setTargetMac(buf, offset, repr.targetMac);
    Arp.setTargetIp(buf, offset, repr.targetIp);
    return ARP_LEN;
  },
};
