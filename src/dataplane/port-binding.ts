/**
 * A port binding: whatever carries the frames of one device port. A device only ever calls
 * `env.transmit(port, frame)`; the world looks up the port's binding and hands it the frame. In
 * the simulator the binding is one end of a `Link` (a cable or an internal connection, events in
 * virtual time); in the real world it is a TAP device whose other side is a network namespace's
 * kernel (`src/real/tap-port.ts`). Frames coming the other way reach the device's `receive`
 * through the world that owns the binding (the scheduler in both worlds: the real one drives it
 * by the wall clock).
 *
 * The contract every binding keeps (and `port-binding.case.ts` checks against each one):
 * - `send` never throws for anything a frame or the carrier can do: a frame that cannot be
 *   carried (too big for the MTU, carrier down, a full queue) is dropped, counted in `drops`
 *   under a reason code and in `counters.drops`;
 * - bytes arrive at the other side as sent, in order;
 * - `counters` count frames and bytes sent (`tx`) and delivered to the device (`rx`).
 */

import type { DropCounters, PortCounters } from "./counters.ts";
import type { Frame } from "./frame.ts";

export interface PortBinding {
  /** What carries the frames, for people ("tor1:eth1<->server1/nic0:eth0", "tap vnt3a2f0"). */
  readonly name: string;
  /** Takes `frame` away from the port at `nowNs`; the binding owns it now. */
  send(frame: Frame, nowNs: number): void;
  /** Frames and bytes sent from this port and delivered to it. */
  readonly counters: PortCounters;
  /** Frames this binding could not carry, by reason. */
  readonly drops: DropCounters;
  /** False once the binding can carry nothing (a closed TAP); absent for one that always can. */
  readonly isOpen?: boolean;
}
