/**
 * The one error every parser in `src/wire/` may raise. A parser given any byte string either
 * returns a value or throws a `WireError`; it never lets a RangeError or a TypeError escape.
 * `offset` is the byte offset (from the start of the buffer handed to the parser) where the
 * problem was found, so a decoder can say exactly where a frame went wrong.
 */

export type WireErrorCode =
  | "truncated" // fewer bytes than the header or a length field requires
  | "bad-length" // a length field that contradicts itself or the buffer
  | "bad-version" // a version field we do not speak
  | "bad-checksum" // checksum verified and wrong (only where a caller asks to enforce it)
  | "bad-value" // a field holds a value the protocol forbids
  | "unsupported"; // well-formed but outside what this codec handles

export class WireError extends Error {
  override readonly name = "WireError";
  constructor(
    readonly code: WireErrorCode,
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** Throws `truncated` unless `buf` holds at least `need` bytes from `offset`. */
export function checkLen(buf: Uint8Array, offset: number, need: number, what: string): void {
  if (offset < 0 || offset + need > buf.length) {
    throw new WireError(
      "truncated",
      Math.min(Math.max(offset, 0), buf.length),
      `${what}: need ${need} bytes at offset ${offset}, have ${Math.max(buf.length - offset, 0)}`,
    );
  }
}
