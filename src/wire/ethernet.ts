/**
 * Ethernet II frames (IEEE 802.3 clause 3, DIX framing). The view reads and writes fields in
 * place; the Repr is the plain description a codec user builds or gets back.
 *
 *   0                   6                   12      14
 *   +-------------------+-------------------+-------+---------
 *   | destination MAC   | source MAC        | type  | payload
 *   +-------------------+-------------------+-------+---------
 *
 * This is the template every `src/wire/` codec follows: `check` guarantees that no accessor
 * reads out of bounds; `parse` returns a Repr or throws a WireError; `emit` writes a Repr into a
 * buffer at an offset and returns the bytes written. No slicing, no allocation in accessors.
 */

import { type Mac, readMac, writeMac } from "./addr.ts";
import { checkLen } from "./error.ts";

export const ETHERNET_HEADER_LEN = 14;

export const EtherType = {
  IPv4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100, // IEEE 802.1Q C-tag
  QinQ: 0x88a8, // IEEE 802.1ad S-tag
  IPv6: 0x86dd,
  SlowProtocols: 0x8809, // LACP, marker (IEEE 802.3 Annex 57A)
} as const;

export interface EthernetRepr {
  dst: Mac;
  src: Mac;
  etherType: number;
}

/** Zero-copy accessors over an Ethernet header at `offset` of `buf`. */
export const Ethernet = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, ETHERNET_HEADER_LEN, "ethernet header");
  },
  dst(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset);
  },
  src(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset + 6);
  },
  etherType(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 12] << 8) | buf[offset + 13];
  },
  setDst(buf: Uint8Array, offset: number, mac: Mac): void {
    writeMac(buf, offset, mac);
  },
  setSrc(buf: Uint8Array, offset: number, mac: Mac): void {
    writeMac(buf, offset + 6, mac);
  },
  setEtherType(buf: Uint8Array, offset: number, type: number): void {
    buf[offset + 12] = type >>> 8;
    buf[offset + 13] = type & 0xff;
  },

  parse(buf: Uint8Array, offset = 0): EthernetRepr {
    Ethernet.check(buf, offset);
    return {
      dst: Ethernet.dst(buf, offset),
      src: Ethernet.src(buf, offset),
      etherType: Ethernet.etherType(buf, offset),
    };
  },
  /** Writes the header at `offset`; returns the number of bytes written. */
  emit(repr: EthernetRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, ETHERNET_HEADER_LEN, "ethernet emit");
    Ethernet.setDst(buf, offset, repr.dst);
    Ethernet.setSrc(buf, offset, repr.src);
    Ethernet.setEtherType(buf, offset, repr.etherType);
    return ETHERNET_HEADER_LEN;
  },
};
