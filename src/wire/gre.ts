/**
 * Generic Routing Encapsulation (RFC 2784): the 4-byte header that carries one network's
 * packet inside another's IPv4 (IP protocol 47). Bit 0 (C) says a checksum and 2 reserved bytes
 * follow; bits 1-12 are Reserved0 (RFC 2784 §2.3: a receiver MUST discard a packet where any of
 * bits 1-5 is set, those being RFC 1701's routing, key, sequence and strict-source-route bits,
 * which this codec does not implement: `unsupported`); bits 13-15 are the version, which must
 * be 0; then the payload's EtherType (0x0800 for IPv4). The checksum, when present, is the
 * Internet checksum over the GRE header and payload.
 *
 * Zero-copy accessors over `(buf, offset)` for the forwarding path, and `GreRepr` with
 * `parse`/`emit` for the edges, as every codec of `src/wire/`.
 */

import { internetChecksum } from "./checksum.ts";
import { WireError } from "./error.ts";

export const GRE_HEADER_LEN = 4;
export const GRE_CHECKSUM_LEN = 4;
const C_BIT = 0x8000;
/** Bits 1-5 of the first word: RFC 1701's R, K, S, s and the high recursion bit. */
const RFC1701_BITS = 0x7c00;

export interface GreRepr {
  /** Whether the optional checksum is present (and, after `parse`, whether it verified). */
  hasChecksum: boolean;
  checksumValid: boolean;
  /** The payload's EtherType (0x0800 IPv4). */
  protocolType: number;
}

export const Gre = {
  /** The header's length: 4, or 8 with the checksum. Throws when the fixed part is missing. */
  headerLength(buf: Uint8Array, offset: number, end = buf.length): number {
    if (offset < 0 || offset + GRE_HEADER_LEN > end)
      throw new WireError("truncated", offset, "gre: shorter than its 4-byte header");
    return (buf[offset] & 0x80) !== 0 ? GRE_HEADER_LEN + GRE_CHECKSUM_LEN : GRE_HEADER_LEN;
  },
  protocolType(buf: Uint8Array, offset: number): number {
    return (buf[offset + 2] << 8) | buf[offset + 3];
  },
  /**
   * Checks a header against RFC 2784 and the buffer; returns its length. `end` bounds the
   * payload (for the checksum).
   */
  validate(buf: Uint8Array, offset: number, end = buf.length): number {
    const hl = Gre.headerLength(buf, offset, end);
    const word = (buf[offset] << 8) | buf[offset + 1];
    if ((word & 0x7) !== 0) throw new WireError("bad-version", offset + 1, `gre: version ${word & 0x7}`);
    if ((word & RFC1701_BITS) !== 0)
      throw new WireError(
        "unsupported",
        offset,
        "gre: RFC 1701 routing/key/sequence bits set (RFC 2784 §2.3)",
      );
    if (offset + hl > end) throw new WireError("truncated", offset, "gre: checksum field cut short");
    return hl;
  },
  parse(buf: Uint8Array, offset = 0, end = buf.length): GreRepr {
    const hl = Gre.validate(buf, offset, end);
    const hasChecksum = hl > GRE_HEADER_LEN;
    return {
      hasChecksum,
      checksumValid: hasChecksum ? internetChecksum(buf, offset, end - offset) === 0 : true,
      protocolType: Gre.protocolType(buf, offset),
    };
  },
  /**
   * Writes the header at `offset` (with a checksum over it and the `payloadLength` bytes after
   * it when `hasChecksum`); returns its length.
   */
  emit(
    repr: Pick<GreRepr, "hasChecksum" | "protocolType">,
    buf: Uint8Array,
    offset: number,
    payloadLength = 0,
  ): number {
    const hl = repr.hasChecksum ? GRE_HEADER_LEN + GRE_CHECKSUM_LEN : GRE_HEADER_LEN;
    if (offset < 0 || offset + hl > buf.length)
      throw new WireError("truncated", offset, "gre emit: buffer too short");
    if (!(repr.protocolType >= 0 && repr.protocolType <= 0xffff))
      throw new WireError("bad-value", offset + 2, `gre emit: protocol type ${repr.protocolType}`);
    buf[offset] = repr.hasChecksum ? C_BIT >> 8 : 0;
    buf[offset + 1] = 0;
    buf[offset + 2] = repr.protocolType >> 8;
    buf[offset + 3] = repr.protocolType & 0xff;
    if (repr.hasChecksum) {
      buf.fill(0, offset + 4, offset + 8);
      if (offset + hl + payloadLength > buf.length)
        throw new WireError("truncated", offset, "gre emit: payload beyond the buffer");
      const c = internetChecksum(buf, offset, hl + payloadLength);
      buf[offset + 4] = c >> 8;
      buf[offset + 5] = c & 0xff;
    }
    return hl;
  },
};
