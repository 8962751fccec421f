/**
 * NIC teaming for a virtual switch: which uplink a VM's frame leaves by, and which uplink a VM
 * accepts flooded frames from. A policy is a small object the vswitch consults; it holds no
 * frames and sends nothing. The default is vSphere's "route based on originating virtual port":
 * each VM port is pinned to one active uplink (its port ordinal modulo the number of active
 * uplinks), its broadcasts leave by that uplink only, and it takes broadcast, multicast and
 * unknown-unicast frames only from that uplink, since the physical switch floods a broadcast to
 * every uplink of the team and the VM must not see it twice (vSphere's per-uplink receive filter
 * for this policy). Unicast addressed to the VM is accepted on any uplink.
 *
 * Later policies (source-MAC hash, IP hash, explicit failover order, LACP) implement the same
 * interface; the team keeps the member list and their link state so every policy sees the same
 * facts.
 */

import type { Frame } from "./frame.ts";

/** The uplinks of a vswitch, in configured order, with their state. Ports are device port indexes. */
export class UplinkTeam {
  /** Members that are up, in configured order; rebuilt on every state change. */
  activePorts: number[] = [];
  private readonly isMemberUp: boolean[];

  constructor(readonly memberPorts: readonly number[]) {
    this.isMemberUp = memberPorts.map(() => true);
    this.rebuild();
  }

  /** Marks a member up or down; returns whether anything changed. */
  setMemberUp(port: number, isUp: boolean): boolean {
    const i = this.memberPorts.indexOf(port);
    if (i < 0 || this.isMemberUp[i] === isUp) return false;
    this.isMemberUp[i] = isUp;
    this.rebuild();
    return true;
  }

  isMember(port: number): boolean {
    return this.memberPorts.includes(port);
  }

  private rebuild(): void {
    this.activePorts = this.memberPorts.filter((_, i) => this.isMemberUp[i]);
  }
}

export interface TeamingPolicy {
  /** vSphere's name for the policy, for `show` output. */
  readonly name: string;
  /**
   * The uplink port a frame from VM port `vmOrdinal` (the VM port's position among the vswitch's
   * VM ports, vSphere's virtual port id) leaves by, or -1 when no uplink is active. `frame` is
   * null when the question is asked for display ("which uplink is this VM on?"); a hashing
   * policy then answers -1.
   */
  selectUplink(team: UplinkTeam, vmOrdinal: number, frame: Frame | null): number;
  /** Whether a flooded frame (broadcast, multicast, unknown unicast) from `uplinkPort` goes to that VM port. */
  acceptsFlood(team: UplinkTeam, uplinkPort: number, vmOrdinal: number): boolean;
}

/** vSphere "route based on originating virtual port" (the default teaming policy). */
export class OriginatingPortPolicy implements TeamingPolicy {
  readonly name = "originating-port";

  selectUplink(team: UplinkTeam, vmOrdinal: number): number {
    const active = team.activePorts;
    if (active.length === 0) return -1;
    return active[vmOrdinal % active.length];
  }

  acceptsFlood(team: UplinkTeam, uplinkPort: number, vmOrdinal: number): boolean {
    const active = team.activePorts;
    if (active.length === 0) return false;
    return active[vmOrdinal % active.length] === uplinkPort;
  }
}
