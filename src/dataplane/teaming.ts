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

import type { Mac } from "../wire/addr.ts";
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

/**
 * What a policy may know of the VM port a frame comes from or goes to (the vswitch passes its
 * own port object, so asking allocates nothing): its position among the VM ports (vSphere's
 * virtual port id) and the MAC the switch honours for it (for a source-MAC hash).
 */
export interface TeamedPort {
  readonly ordinal: number;
  readonly honoredMac: Mac;
}

export interface TeamingPolicy {
  /** vSphere's name for the policy, for `show` output. */
  readonly name: string;
  /**
   * The uplink port a frame from `vm` leaves by, or -1 when no uplink is active. `frame` is
   * null when the question is asked for display or for "notify switches" ("which uplink is
   * this VM on?"); a policy hashing on packet headers then answers for the VM's usual traffic
   * or -1.
   */
  selectUplink(team: UplinkTeam, vm: TeamedPort, frame: Frame | null): number;
  /**
   * Whether a flooded frame (broadcast, multicast, unknown unicast) that came in on
   * `uplinkPort` goes to `vm`: a policy that spreads VMs over independent uplinks takes floods
   * only from the VM's own uplink (the physical switch sends one copy down each); one whose
   * uplinks form a port channel takes them from any member.
   */
  acceptsFlood(team: UplinkTeam, uplinkPort: number, vm: TeamedPort): boolean;
}

/** vSphere "route based on originating virtual port" (the default teaming policy). */
export class OriginatingPortPolicy implements TeamingPolicy {
  readonly name = "originating-port";

  selectUplink(team: UplinkTeam, vm: TeamedPort): number {
    const active = team.activePorts;
    if (active.length === 0) return -1;
    return active[vm.ordinal % active.length];
  }

  acceptsFlood(team: UplinkTeam, uplinkPort: number, vm: TeamedPort): boolean {
    const active = team.activePorts;
    if (active.length === 0) return false;
    return active[vm.ordinal % active.length] === uplinkPort;
  }
}

/**
 * vSphere "use explicit failover order": every VM uses the first active uplink in the
 * configured order; the others are standby and take over, in order, when it fails.
 */
export class ExplicitFailoverPolicy implements TeamingPolicy {
  readonly name = "explicit-failover";

  selectUplink(team: UplinkTeam): number {
    return team.activePorts.length === 0 ? -1 : team.activePorts[0];
  }

  acceptsFlood(team: UplinkTeam, uplinkPort: number): boolean {
    return team.activePorts.length > 0 && team.activePorts[0] === uplinkPort;
  }
}
