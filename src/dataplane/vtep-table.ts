/**
 * The overlay forwarding state both kinds of VTEP keep (the hypervisor's, `vtep.ts`, and a
 * switch's hardware VTEP, `switch.ts`): the remote VTEPs this one knows, and per VNI the flood
 * list and the table inner MAC -> remote VTEP (RFC 7348 §4.1: learned from the outer source of
 * decapsulated frames, or given statically).
 *
 * The table is a `MacTable` per VNI whose "port" is the remote VTEP's index here, so a lookup
 * from the frame's bytes answers with the remote (and its outer header template) directly, and
 * learned entries age as a MAC table's do: idle for the VNI's ageing time (Linux's vxlan
 * `ageing`, default 300 s) they expire, lazily at the next lookup or learn, and the next frame
 * to that MAC is flooded again (head-end replication). Static entries never age and never move.
 * Nothing here allocates per frame: the entry keeps a last-seen time, no timer is armed.
 */

import type { Ipv4, Mac } from "../wire/addr.ts";
import type { VxlanOuter } from "../wire/vxlan.ts";
import { DeviceConfigError } from "./config-error.ts";
import { MacTable, macHiAt, macLoAt } from "./mac-table.ts";

/** Linux vxlan's default `ageing` (300 s), as a MAC table's. */
export const DEFAULT_VTEP_AGEING_NS = 300e9;
/** Most MAC -> VTEP entries per VNI (Linux's `maxaddress` is unlimited by default). */
export const VTEP_TABLE_SIZE = 65536;

/** A remote VTEP: its underlay address and the outer header template of the tunnel to it. */
export interface RemoteVtep {
  /** Its place in `RemoteVteps.all` (the "port" of the VNI tables). */
  readonly index: number;
  readonly ip: Ipv4;
  /** `ip | 0`: compared and used as a key without boxing. */
  readonly ipInt: number;
  /**
   * Created at the first frame sent there (its IPv4 ID counter is seeded then): one per remote,
   * so it is also that tunnel's ID counter (RFC 6864).
   */
  outer: VxlanOuter | null;
  /** The underlay next hop toward it, valid while the stack's `routeGeneration` is `routeGeneration`. */
  nextHop: Ipv4;
  routeGeneration: number;
}

/** Every remote VTEP one VTEP knows (from flood lists, static entries and received frames). */
export class RemoteVteps {
  readonly all: RemoteVtep[] = [];
  private readonly byIp = new Map<number, RemoteVtep>();

  /** The remote with address `ip`, created at first sight. */
  of(ip: Ipv4): RemoteVtep {
    const k = ip | 0;
    let r = this.byIp.get(k);
    if (r === undefined) {
      r = { index: this.all.length, ip: ip >>> 0, ipInt: k, outer: null, nextHop: 0, routeGeneration: -1 };
      this.all.push(r);
      this.byIp.set(k, r);
    }
    return r;
  }
}

/** One VNI as a VTEP carries it (the model's `overlay.vnis.<vni>`). */
export interface VniTableConfig {
  vni: number;
  /** Remote VTEPs that get a copy of every broadcast, multicast and unknown unicast frame. */
  flood: readonly Ipv4[];
  /** Learn MAC -> VTEP from decapsulated frames' outer source (flood and learn). */
  isLearning: boolean;
  /** Static entries MAC -> remote VTEP (they never age or move). */
  static?: readonly { mac: Mac; vtep: Ipv4 }[];
  /** How long a learned entry lives without a frame from its MAC (default 300 s). */
  ageingNs?: number;
}

/** One entry, for listings and tests. */
export interface VniTableEntry {
  mac: Mac;
  vtep: Ipv4;
  isStatic: boolean;
  /** ns since a frame from the MAC was last decapsulated (0 for static entries). */
  ageNs: number;
}

export class VniTable {
  readonly vni: number;
  /** The flood list without the VTEP's own address. */
  readonly flood: readonly RemoteVtep[];
  readonly isLearning: boolean;
  readonly ageingNs: number;
  private readonly macs: MacTable;

  constructor(
    c: VniTableConfig,
    private readonly remotes: RemoteVteps,
    ownIp: Ipv4,
    where: string,
  ) {
    this.vni = c.vni;
    this.isLearning = c.isLearning;
    this.ageingNs = c.ageingNs ?? DEFAULT_VTEP_AGEING_NS;
    if (!(this.ageingNs > 0) || !Number.isFinite(this.ageingNs))
      throw new DeviceConfigError(
        "bad-value",
        `${where}: VNI ${c.vni} ageing must be a positive time, got ${this.ageingNs} ns`,
      );
    this.flood = c.flood.filter((ip) => ip >>> 0 !== ownIp >>> 0).map((ip) => remotes.of(ip));
    this.macs = new MacTable({ maxEntries: VTEP_TABLE_SIZE, agingNs: this.ageingNs });
    for (const s of c.static ?? []) this.macs.addStatic(0, s.mac, remotes.of(s.vtep).index);
  }

  /** The remote VTEP (its index) for the unicast MAC at `offset` of `buf`, or -1 (expired: -1). */
  lookupAt(buf: Uint8Array, offset: number, nowNs: number): number {
    return this.macs.lookupHiLo(0, macHiAt(buf, offset), macLoAt(buf, offset), nowNs);
  }

  /**
   * A frame from the MAC at `offset` of `buf` came out of the tunnel from `remote`: on a learning
   * VNI the entry is created, refreshed or moved there; a static entry stays where it is.
   */
  learnAt(buf: Uint8Array, offset: number, remote: RemoteVtep, nowNs: number): void {
    if (this.isLearning)
      this.macs.learnHiLo(0, macHiAt(buf, offset), macLoAt(buf, offset), remote.index, nowNs);
  }

  /** The remote VTEP for `mac`, or null (control paths and tests). */
  remoteOf(mac: Mac, nowNs: number): Ipv4 | null {
    const i = this.macs.lookup(0, mac, nowNs);
    return i < 0 ? null : this.remotes.all[i].ip;
  }

  /** Live entries at `nowNs`, sorted by MAC. */
  entries(nowNs: number): VniTableEntry[] {
    return this.macs.entries(nowNs).map((e) => ({
      mac: e.mac,
      vtep: this.remotes.all[e.port].ip,
      isStatic: e.isStatic,
      ageNs: e.ageNs,
    }));
  }

  /** Learned entries expired so far (lazily, at a lookup or learn of their MAC). */
  get expiredCount(): number {
    return this.macs.stats.expired;
  }
}
