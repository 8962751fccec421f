/**
 * The receive side's sliding replay window for transport counters (whitepaper section 5.4.6,
 * using the bitmap algorithm of RFC 6479 "IPsec Anti-Replay Algorithm without Bit Shifting").
 * The bitmap is a ring of 32-bit blocks; moving the window forward clears whole blocks instead of
 * shifting bits, so an update costs O(1) amortised and nothing is allocated per packet.
 *
 * With 256 blocks the window covers 255 * 32 = 8160 counters behind the highest one seen: a
 * counter that far back or more is refused as too old, a counter seen before is refused as a
 * duplicate, anything else (including reordering inside the window) is accepted. Callers update
 * the window only after the packet has authenticated, so forged packets cannot move it.
 */

const BLOCK_BITS = 32;
const RING_BLOCKS = 256; // a power of two: ring index = block & (RING_BLOCKS - 1)
/** How far behind the highest counter a packet may be and still be accepted. */
export const REPLAY_WINDOW_SIZE = (RING_BLOCKS - 1) * BLOCK_BITS;

export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_BLOCKS);
  /** Highest counter accepted so far (-1: none yet). */
  private greatest = -1;

  constructor(
    /** Counters at or above this are refused (REJECT_AFTER_MESSAGES, capped at 2^53). */
    private readonly limit: number = Number.MAX_SAFE_INTEGER,
  ) {}

  /**
   * True when `counter` could be accepted, without recording it: lets the engine skip
   * decrypting an obvious replay. `accept` repeats the test.
   */
  isFresh(counter: number): boolean {
    if (!(counter >= 0 && counter < this.limit && Number.isSafeInteger(counter))) return false;
    if (counter > this.greatest) return true;
    if (this.greatest - counter >= REPLAY_WINDOW_SIZE) return false;
    const block = Math.floor(counter / BLOCK_BITS) % RING_BLOCKS;
    return (this.ring[block] & (1 << (counter % BLOCK_BITS))) === 0;
  }

  /** Records `counter` if it is fresh; returns false for a duplicate, too old, or over the limit. */
  accept(counter: number): boolean {
    if (!(counter >= 0 && counter < this.limit && Number.isSafeInteger(counter))) return false;
    const block = Math.floor(counter / BLOCK_BITS);
    if (counter > this.greatest) {
      const current = this.greatest < 0 ? -1 : Math.floor(this.greatest / BLOCK_BITS);
      // Clear the blocks the window slides over (at most the whole ring).
      const steps = Math.min(block - current, RING_BLOCKS);
      for (let i = 1; i <= steps; i++) this.ring[(current + i) % RING_BLOCKS] = 0;
      this.greatest = counter;
    } else if (this.greatest - counter >= REPLAY_WINDOW_SIZE) {
      return false;
    }
    const idx = block % RING_BLOCKS;
    const bit = 1 << (counter % BLOCK_BITS);
    if ((this.ring[idx] & bit) !== 0) return false;
    this.ring[idx] |= bit;
    return true;
  }

  /** The highest counter accepted, or -1. */
  get highest(): number {
    return this.greatest;
  }
}
