/**
 * IEEE 802.1Q VLAN tags: the C-tag (TPID 0x8100) and the IEEE 802.1ad S-tag (TPID 0x88a8), as
 * they sit in an Ethernet frame after the two MAC addresses (802.1Q-2018 §9.3). A tag here is the
 * four bytes TPID + TCI, so the first tag of a frame starts at frame offset 12, the second at 16,
 * and the frame's real EtherType follows the last tag. This matches `Frame.pushVlanTag`.
 *
 *    0               2               4
 *   +-------+-------+-------+-------+
 *   |     TPID      |PCP|D|   VID   |      TCI = PCP (3 bits) | DEI (1 bit) | VID (12 bits)
 *   +-------+-------+-------+-------+
 *
 * Stacked tags (Q-in-Q) are seen for what they are: `Vlan.walk` steps over 0..n tags without
 * allocating and returns the offset of the inner EtherType; `Vlan.parseStack` gives the Repr.
 * VID 0 (priority-tagged) and VID 0xfff (reserved, 802.1Q Table 9-2) parse: dropping them is the
 * bridge's decision, with its own reason code, not the codec's.
 */

import { checkLen, WireError } from "./error.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "./ethernet.ts";

export const VLAN_TAG_LEN = 4;

/** VID 0 means "no VLAN, priority only" (802.1Q Table 9-2). */
export const VID_PRIORITY_ONLY = 0;
/** VID 0xfff is reserved and must not be configured or sent in a tag (802.1Q Table 9-2). */
export const VID_RESERVED = 0xfff;

/** Deepest tag stack `walk` follows; a frame with more is refused as unsupported (not looped). */
export const MAX_VLAN_TAGS = 8;

export interface VlanTagRepr {
  /** 0x8100 (C-tag) or 0x88a8 (S-tag). */
  tpid: number;
  /** Priority code point, 0..7 (802.1Q §6.9.3). */
  pcp: number;
  /** Drop eligible indicator. */
  dei: boolean;
  /** VLAN identifier, 0..4095. */
  vid: number;
}

/** Every tag in front of the payload, outermost first, plus what follows them. */
export interface VlanStackRepr {
  tags: VlanTagRepr[];
  /** The EtherType after the last tag (the frame's real payload type). */
  etherType: number;
  /** Offset of the payload in the buffer (after the inner EtherType). */
  payloadOffset: number;
}

/** True for the TPIDs this codec understands as a tag. */
export function isVlanTpid(type: number): boolean {
  return type === EtherType.VLAN || type === EtherType.QinQ;
}

/** Zero-copy accessors over a 4-byte tag (TPID + TCI) at `offset` of `buf`. */
export const Vlan = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, VLAN_TAG_LEN, "vlan tag");
  },
  tpid(buf: Uint8Array, offset = 0): number {
    return (buf[offset] << 8) | buf[offset + 1];
  },
  tci(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 2] << 8) | buf[offset + 3];
  },
  pcp(buf: Uint8Array, offset = 0): number {
    return buf[offset + 2] >>> 5;
  },
  dei(buf: Uint8Array, offset = 0): boolean {
    return (buf[offset + 2] & 0x10) !== 0;
  },
  vid(buf: Uint8Array, offset = 0): number {
    return ((buf[offset + 2] & 0x0f) << 8) | buf[offset + 3];
  },
  setTpid(buf: Uint8Array, offset: number, tpid: number): void {
    buf[offset] = tpid >>> 8;
    buf[offset + 1] = tpid & 0xff;
  },
  setTci(buf: Uint8Array, offset: number, tci: number): void {
    buf[offset + 2] = (tci >>> 8) & 0xff;
    buf[offset + 3] = tci & 0xff;
  },
  setPcp(buf: Uint8Array, offset: number, pcp: number): void {
    buf[offset + 2] = (buf[offset + 2] & 0x1f) | ((pcp & 7) << 5);
  },
  setDei(buf: Uint8Array, offset: number, dei: boolean): void {
    buf[offset + 2] = (buf[offset + 2] & 0xef) | (dei ? 0x10 : 0);
  },
  /** Rewrites the VID in place (a trunk translating VLANs); PCP and DEI are kept. */
  setVid(buf: Uint8Array, offset: number, vid: number): void {
    buf[offset + 2] = (buf[offset + 2] & 0xf0) | ((vid >>> 8) & 0x0f);
    buf[offset + 3] = vid & 0xff;
  },

  /** Parses one tag; the TPID must be 0x8100 or 0x88a8. */
  parse(buf: Uint8Array, offset = 0): VlanTagRepr {
    Vlan.check(buf, offset);
    const tpid = Vlan.tpid(buf, offset);
    if (!isVlanTpid(tpid)) {
      throw new WireError(
        "bad-value",
        offset,
        `vlan tag: TPID 0x${tpid.toString(16)} is not 0x8100 or 0x88a8`,
      );
    }
    return { tpid, pcp: Vlan.pcp(buf, offset), dei: Vlan.dei(buf, offset), vid: Vlan.vid(buf, offset) };
  },
  /** Writes one tag at `offset`; returns the number of bytes written. */
  emit(repr: VlanTagRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, VLAN_TAG_LEN, "vlan tag emit");
    if (!isVlanTpid(repr.tpid)) {
      throw new WireError("bad-value", offset, `vlan tag emit: TPID 0x${repr.tpid.toString(16)}`);
    }
    if (!Number.isInteger(repr.vid) || repr.vid < 0 || repr.vid > 0xfff) {
      throw new WireError("bad-value", offset, `vlan tag emit: VID ${repr.vid} is not 0..4095`);
    }
    if (!Number.isInteger(repr.pcp) || repr.pcp < 0 || repr.pcp > 7) {
      throw new WireError("bad-value", offset, `vlan tag emit: PCP ${repr.pcp} is not 0..7`);
    }
    Vlan.setTpid(buf, offset, repr.tpid);
    Vlan.setTci(buf, offset, (repr.pcp << 13) | (repr.dei ? 0x1000 : 0) | repr.vid);
    return VLAN_TAG_LEN;
  },

  /**
   * Steps over the tags of the Ethernet frame starting at `frameOffset` and returns the offset of
   * the inner EtherType field (frameOffset + 12 when untagged). The number of tags is
   * `(result - frameOffset - 12) / 4`. Allocates nothing: this is the forwarding fast path.
   */
  walk(buf: Uint8Array, frameOffset = 0): number {
    checkLen(buf, frameOffset, ETHERNET_HEADER_LEN, "ethernet header");
    let at = frameOffset + 12;
    for (let n = 0; ; n++) {
      const type = (buf[at] << 8) | buf[at + 1];
      if (!isVlanTpid(type)) return at;
      if (n === MAX_VLAN_TAGS) {
        throw new WireError("unsupported", at, `more than ${MAX_VLAN_TAGS} stacked vlan tags`);
      }
      at += VLAN_TAG_LEN;
      checkLen(buf, at, 2, "ethertype after vlan tag");
    }
  },
  /** The number of tags in the frame at `frameOffset`. */
  tagCount(buf: Uint8Array, frameOffset = 0): number {
    return (Vlan.walk(buf, frameOffset) - frameOffset - 12) / VLAN_TAG_LEN;
  },
  /** The tags, the inner EtherType and the payload offset of the frame at `frameOffset`. */
  parseStack(buf: Uint8Array, frameOffset = 0): VlanStackRepr {
    const typeAt = Vlan.walk(buf, frameOffset);
    const tags: VlanTagRepr[] = [];
    for (let at = frameOffset + 12; at < typeAt; at += VLAN_TAG_LEN) tags.push(Vlan.parse(buf, at));
    return { tags, etherType: (buf[typeAt] << 8) | buf[typeAt + 1], payloadOffset: typeAt + 2 };
  },
};
