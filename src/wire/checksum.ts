/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624), used by IPv4, ICMP,
 * UDP and TCP. Sums are accumulated in plain numbers (no allocation) and folded at the end.
 */

/** Adds the 16-bit big-endian words of `buf[offset, offset+length)` to `initial`, unfolded. */
export function sumWords(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  const end = offset + length;
  let i = offset;
  // Unrolled by 8 bytes: a 1500-byte frame is the common case and this is a hot path.
  for (; i + 8 <= end; i += 8) {
    sum +=
      ((buf[i] << 8) | buf[i + 1]) +
      ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) +
      ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i + 2 <= end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8; // odd trailing byte, padded with zero (RFC 1071 4.1)
  return sum;
}

/** Folds carries into 16 bits (one's-complement sum), not inverted. */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value for the given bytes: the inverted folded sum. */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  return ~fold(sumWords(buf, offset, length, initial)) & 0xffff;
}

/** True when the bytes (including their checksum field) sum to 0xffff, i.e. verify. */
export function verifyChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): boolean {
  return fold(sumWords(buf, offset, length, initial)) === 0xffff;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word changing from `oldWord` to
 * `newWord`. Used when a device rewrites a field (TTL decrement) without re-summing the header.
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(sum) & 0xffff;
}

/** RFC 1624 for a 32-bit field (an address): two word updates. */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  const c = updateChecksum16(checksum, oldValue >>> 16, newValue >>> 16);
  return updateChecksum16(c, oldValue & 0xffff, newValue & 0xffff);
}

/** The IPv4 pseudo-header sum (RFC 768, RFC 793) for UDP/TCP, unfolded. */
export function pseudoHeaderSumV4(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * The IPv6 pseudo-header sum (RFC 8200 §8.1) for UDP/TCP/ICMPv6, unfolded: both 16-byte
 * addresses, the 32-bit upper-layer length and the next header. Reads the addresses in place.
 */
export function pseudoHeaderSumV6(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  nextHeader: number,
  length: number,
): number {
  return (
    sumWords(src, srcOffset, 16, sumWords(dst, dstOffset, 16)) +
    Math.floor(length / 0x10000) +
    (length & 0xffff) +
    nextHeader
  );
}

/**
 * The addresses a transport checksum covers: IPv4 addresses as uint32, IPv6 as 16 bytes. The
 * Repr-level parse/emit of UDP, TCP and ICMPv6 take one of these; hot paths use the unfolded sums
 * from `pseudoHeaderSumV4`/`pseudoHeaderSumV6` directly.
 */
export type PseudoHeader =
  | { readonly version: 4; readonly src: number; readonly dst: number }
  | { readonly version: 6; readonly src: Uint8Array; readonly dst: Uint8Array };

/** The unfolded pseudo-header sum for `protocol` and an upper-layer `length`. */
export function pseudoHeaderSum(ph: PseudoHeader, protocol: number, length: number): number {
  return ph.version === 4
    ? pseudoHeaderSumV4(ph.src, ph.dst, protocol, length)
    : pseudoHeaderSumV6(ph.src, 0, ph.dst, 0, protocol, length);
}
