/**
 * vnet's MLAG peer messages: what the two switches of a multi-chassis LAG domain tell each other
 * over their peer link and their keepalive link. Real implementations use their own protocols
 * (Cisco's CFS over the vPC peer link, Arista's MLAG agent over TCP on a peer VLAN); none is a
 * standard, so vnet carries its own in Ethernet frames with the IEEE 802 "local experimental"
 * EtherType 0x88B5, which capture tools show as such. Two messages:
 *
 * - HELLO: domain, the sender's role priority and system MAC, its role, whether it sees the peer
 *   link up, and the state of its half of each multi-chassis LAG (id, up) — role election, peer
 *   liveness (on both links) and the loop-prevention rule all read it;
 * - MAC: a MAC address the sender learned (or forgot) in a VLAN, on a multi-chassis LAG (its id)
 *   or on an orphan port (0xffff), so the peer installs it too.
 *
 * Layout after the Ethernet header (big-endian): version (1), type (1), then per type
 * HELLO: domain u16, priority u16, system 6 bytes, role u8, flags u8 (bit 0 peer link up),
 * count u8, count x (id u16, isUp u8); MAC: op u8 (1 add, 2 delete), vid u16, mac 6 bytes, id u16.
 */

import { type Mac, readMac, writeMac } from "./addr.ts";
import { WireError } from "./error.ts";

export const ETHERTYPE_MLAG = 0x88b5;
const VERSION = 1;
export const MLAG_ORPHAN = 0xffff;

export type MlagRole = "none" | "primary" | "secondary";
const ROLES: MlagRole[] = ["none", "primary", "secondary"];

export type MlagMessage =
  | {
      type: "hello";
      domain: number;
      priority: number;
      system: Mac;
      role: MlagRole;
      isPeerLinkUp: boolean;
      halves: { id: number; isUp: boolean }[];
    }
  | { type: "mac"; isAdd: boolean; vid: number; mac: Mac; id: number };

/** Bytes a message takes after the Ethernet header. */
export function mlagMessageLength(m: MlagMessage): number {
  return m.type === "hello" ? 2 + 13 + 1 + 3 * m.halves.length : 2 + 11;
}

export const MlagCodec = {
  emit(m: MlagMessage, buf: Uint8Array, offset: number): number {
    const n = mlagMessageLength(m);
    if (offset + n > buf.length) throw new WireError("truncated", offset, "mlag emit: buffer too short");
    buf[offset] = VERSION;
    let at = offset + 2;
    if (m.type === "hello") {
      buf[offset + 1] = 1;
      buf[at] = m.domain >> 8;
      buf[at + 1] = m.domain & 0xff;
      buf[at + 2] = m.priority >> 8;
      buf[at + 3] = m.priority & 0xff;
      writeMac(buf, at + 4, m.system);
      buf[at + 10] = ROLES.indexOf(m.role);
      buf[at + 11] = m.isPeerLinkUp ? 1 : 0;
      buf[at + 12] = m.halves.length;
      at += 13;
      for (const h of m.halves) {
        buf[at] = h.id >> 8;
        buf[at + 1] = h.id & 0xff;
        buf[at + 2] = h.isUp ? 1 : 0;
        at += 3;
      }
    } else {
      buf[offset + 1] = 2;
      buf[at] = m.isAdd ? 1 : 2;
      buf[at + 1] = m.vid >> 8;
      buf[at + 2] = m.vid & 0xff;
      writeMac(buf, at + 3, m.mac);
      buf[at + 9] = m.id >> 8;
      buf[at + 10] = m.id & 0xff;
    }
    return n;
  },

  parse(buf: Uint8Array, offset: number, end: number): MlagMessage {
    if (offset + 2 > end) throw new WireError("truncated", offset, "mlag: no header");
    if (buf[offset] !== VERSION) throw new WireError("bad-version", offset, `mlag: version ${buf[offset]}`);
    const type = buf[offset + 1];
    const at = offset + 2;
    if (type === 1) {
      if (at + 13 > end) throw new WireError("truncated", at, "mlag hello: cut short");
      const role = ROLES[buf[at + 10]];
      if (role === undefined) throw new WireError("bad-value", at + 10, `mlag hello: role ${buf[at + 10]}`);
      const count = buf[at + 12];
      if (at + 13 + 3 * count > end)
        throw new WireError("truncated", at + 13, "mlag hello: halves cut short");
      const halves: { id: number; isUp: boolean }[] = [];
      for (let i = 0; i < count; i++) {
        const p = at + 13 + 3 * i;
        halves.push({ id: (buf[p] << 8) | buf[p + 1], isUp: buf[p + 2] === 1 });
      }
      return {
        type: "hello",
        domain: (buf[at] << 8) | buf[at + 1],
        priority: (buf[at + 2] << 8) | buf[at + 3],
        system: readMac(buf, at + 4),
        role,
        isPeerLinkUp: (buf[at + 11] & 1) === 1,
        halves,
      };
    }
    if (type === 2) {
      if (at + 11 > end) throw new WireError("truncated", at, "mlag mac: cut short");
      const op = buf[at];
      if (op !== 1 && op !== 2) throw new WireError("bad-value", at, `mlag mac: op ${op}`);
      return {
        type: "mac",
        isAdd: op === 1,
        vid: (buf[at + 1] << 8) | buf[at + 2],
        mac: readMac(buf, at + 3),
        id: (buf[at + 9] << 8) | buf[at + 10],
      };
    }
    throw new WireError("unsupported", offset + 1, `mlag: message type ${type}`);
  },
};
