/**
 * LACPDUs, the Link Aggregation Control Protocol's messages (IEEE 802.1AX-2014 §6.4.2). They are
 * Slow Protocols frames (EtherType 0x8809, subtype 1, IEEE 802.3 Annex 57A), sent untagged to the
 * Slow Protocols group address 01:80:c2:00:00:02, and always 110 bytes long after the Ethernet
 * header (the reserved tail pads them to the fixed size). Offsets below are from the subtype byte:
 *
 *     0 subtype = 1          1 version = 1
 *     2 TLV type 1 (Actor)   3 length 20
 *     4 system priority (2)  6 system (6, a MAC)  12 key (2)  14 port priority (2)  16 port (2)
 *    18 state (1)           19 reserved (3)
 *    22 TLV type 2 (Partner) 23 length 20   24..41 the same fields for the partner
 *    42 TLV type 3 (Collector) 43 length 16  44 CollectorMaxDelay (2, tens of µs)  46 reserved (12)
 *    58 TLV type 0 (Terminator) 59 length 0  60 reserved (50)                      110 end
 *
 * The state byte packs eight flags (§6.4.2.3): bit 0 LACP_Activity (1 = active), bit 1
 * LACP_Timeout (1 = short, 1 s), bit 2 Aggregation, bit 3 Synchronization, bit 4 Collecting,
 * bit 5 Distributing, bit 6 Defaulted, bit 7 Expired. `LacpState` names them and
 * `lacpStateFlags`/`lacpStateFromFlags`/`formatLacpState` convert.
 *
 * Marker PDUs (subtype 2, §6.5.3.3) share the EtherType and size: a marker information TLV
 * (type 1) or marker response TLV (type 2) of 16 bytes (requester port, system, transaction id,
 * 2 pad bytes), then the terminator at 20 and 90 reserved bytes. `LacpMarker` reads and writes
 * them, and turns a marker into its response in place, as a Marker Responder does (§6.5.4.2).
 *
 * Version 1 PDUs must end with the terminator at 58. A higher version is accepted with the
 * version 1 fields read at the same offsets (802.1AX-2014 §6.4.2.3 keeps them for
 * compatibility); what follows the collector TLV is then not checked.
 */

import { type Mac, readMac, writeMac } from "./addr.ts";
import { checkLen, WireError } from "./error.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "./ethernet.ts";

/** Size of a LACPDU after the Ethernet header (§6.4.2.3). */
export const LACPDU_LEN = 110;
/** A whole LACP frame without FCS: 14 + 110. */
export const LACP_FRAME_LEN = ETHERNET_HEADER_LEN + LACPDU_LEN;
/** The Slow Protocols multicast address (IEEE 802.3 Annex 57A.3), never forwarded by bridges. */
export const SLOW_PROTOCOLS_MAC: Mac = 0x0180c2000002;
export const LACP_SUBTYPE = 1;
/** Marker protocol (§6.5) shares the EtherType with subtype 2. */
export const MARKER_SUBTYPE = 2;
export const LACP_VERSION = 1;

const ACTOR_AT = 2;
const PARTNER_AT = 22;
const COLLECTOR_AT = 42;
const TERMINATOR_AT = 58;
const INFO_LEN = 20;
const COLLECTOR_LEN = 16;

/** Actor_State / Partner_State bits (§6.4.2.3 item r). */
export const LacpState = {
  Activity: 0x01,
  Timeout: 0x02,
  Aggregation: 0x04,
  Synchronization: 0x08,
  Collecting: 0x10,
  Distributing: 0x20,
  Defaulted: 0x40,
  Expired: 0x80,
} as const;

export interface LacpStateFlags {
  /** Active LACP (sends PDUs unprompted) rather than passive. */
  isActive: boolean;
  /** Short timeout (fast, 1 s periodic) rather than long (30 s). */
  isShortTimeout: boolean;
  /** The link may be aggregated (not an individual link). */
  isAggregatable: boolean;
  /** The link is in sync: attached to the right aggregator. */
  isInSync: boolean;
  isCollecting: boolean;
  isDistributing: boolean;
  /** Using default partner information (none received). */
  isDefaulted: boolean;
  /** The receive machine is in the EXPIRED state. */
  isExpired: boolean;
}

export function lacpStateFlags(state: number): LacpStateFlags {
  return {
    isActive: (state & LacpState.Activity) !== 0,
    isShortTimeout: (state & LacpState.Timeout) !== 0,
    isAggregatable: (state & LacpState.Aggregation) !== 0,
    isInSync: (state & LacpState.Synchronization) !== 0,
    isCollecting: (state & LacpState.Collecting) !== 0,
    isDistributing: (state & LacpState.Distributing) !== 0,
    isDefaulted: (state & LacpState.Defaulted) !== 0,
    isExpired: (state & LacpState.Expired) !== 0,
  };
}

export function lacpStateFromFlags(f: LacpStateFlags): number {
  return (
    (f.isActive ? LacpState.Activity : 0) |
    (f.isShortTimeout ? LacpState.Timeout : 0) |
    (f.isAggregatable ? LacpState.Aggregation : 0) |
    (f.isInSync ? LacpState.Synchronization : 0) |
    (f.isCollecting ? LacpState.Collecting : 0) |
    (f.isDistributing ? LacpState.Distributing : 0) |
    (f.isDefaulted ? LacpState.Defaulted : 0) |
    (f.isExpired ? LacpState.Expired : 0)
  );
}

const STATE_NAMES: [number, string][] = [
  [LacpState.Activity, "activity"],
  [LacpState.Timeout, "short-timeout"],
  [LacpState.Aggregation, "aggregation"],
  [LacpState.Synchronization, "synchronization"],
  [LacpState.Collecting, "collecting"],
  [LacpState.Distributing, "distributing"],
  [LacpState.Defaulted, "defaulted"],
  [LacpState.Expired, "expired"],
];

/** "activity,aggregation,synchronization" style text for traces; "none" when no bit is set. */
export function formatLacpState(state: number): string {
  const names = STATE_NAMES.filter(([bit]) => state & bit).map(([, n]) => n);
  return names.length ? names.join(",") : "none";
}

/** One side's information TLV (actor or partner). */
export interface LacpParticipant {
  systemPriority: number;
  /** The system identifier, a MAC address. */
  system: Mac;
  key: number;
  portPriority: number;
  port: number;
  /** The eight state bits (see LacpState). */
  state: number;
}

export interface LacpRepr {
  version: number;
  actor: LacpParticipant;
  partner: LacpParticipant;
  /** CollectorMaxDelay, in tens of microseconds (§6.4.2.3 item v). */
  collectorMaxDelay: number;
}

function u16(buf: Uint8Array, i: number): number {
  return (buf[i] << 8) | buf[i + 1];
}

function setU16(buf: Uint8Array, i: number, v: number): void {
  buf[i] = (v >>> 8) & 0xff;
  buf[i + 1] = v & 0xff;
}

function readParticipant(buf: Uint8Array, at: number): LacpParticipant {
  return {
    systemPriority: u16(buf, at + 2),
    system: readMac(buf, at + 4),
    key: u16(buf, at + 10),
    portPriority: u16(buf, at + 12),
    port: u16(buf, at + 14),
    state: buf[at + 16],
  };
}

function writeParticipant(buf: Uint8Array, at: number, type: number, p: LacpParticipant): void {
  buf[at] = type;
  buf[at + 1] = INFO_LEN;
  setU16(buf, at + 2, p.systemPriority);
  writeMac(buf, at + 4, p.system);
  setU16(buf, at + 10, p.key);
  setU16(buf, at + 12, p.portPriority);
  setU16(buf, at + 14, p.port);
  buf[at + 16] = p.state & 0xff;
  buf[at + 17] = 0;
  buf[at + 18] = 0;
  buf[at + 19] = 0;
}

/** Zero-copy accessors over a LACPDU whose subtype byte is at `offset` of `buf`. */
export const Lacp = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, LACPDU_LEN, "lacpdu");
  },
  subtype(buf: Uint8Array, offset = 0): number {
    return buf[offset];
  },
  version(buf: Uint8Array, offset = 0): number {
    return buf[offset + 1];
  },
  actorSystemPriority(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + ACTOR_AT + 2);
  },
  actorSystem(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset + ACTOR_AT + 4);
  },
  actorKey(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + ACTOR_AT + 10);
  },
  actorPortPriority(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + ACTOR_AT + 12);
  },
  actorPort(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + ACTOR_AT + 14);
  },
  actorState(buf: Uint8Array, offset = 0): number {
    return buf[offset + ACTOR_AT + 16];
  },
  partnerSystemPriority(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + PARTNER_AT + 2);
  },
  partnerSystem(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset + PARTNER_AT + 4);
  },
  partnerKey(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + PARTNER_AT + 10);
  },
  partnerPortPriority(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + PARTNER_AT + 12);
  },
  partnerPort(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + PARTNER_AT + 14);
  },
  partnerState(buf: Uint8Array, offset = 0): number {
    return buf[offset + PARTNER_AT + 16];
  },
  collectorMaxDelay(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + COLLECTOR_AT + 2);
  },
  setActorState(buf: Uint8Array, offset: number, state: number): void {
    buf[offset + ACTOR_AT + 16] = state & 0xff;
  },
  setPartnerState(buf: Uint8Array, offset: number, state: number): void {
    buf[offset + PARTNER_AT + 16] = state & 0xff;
  },

  /** Checks subtype, version and the TLV headers; allocates nothing. Throws like `parse`. */
  validate(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, 2, "lacpdu");
    const subtype = buf[offset];
    if (subtype !== LACP_SUBTYPE) {
      const what = subtype === MARKER_SUBTYPE ? "a marker PDU" : `slow protocol subtype ${subtype}`;
      throw new WireError("unsupported", offset, `lacp: ${what}, not a LACPDU`);
    }
    const version = buf[offset + 1];
    if (version < LACP_VERSION) throw new WireError("bad-version", offset + 1, `lacp: version ${version}`);
    Lacp.check(buf, offset);
    const tlv = (at: number, type: number, length: number, name: string) => {
      if (buf[offset + at] !== type || buf[offset + at + 1] !== length) {
        throw new WireError(
          "bad-value",
          offset + at,
          `lacp: expected the ${name} TLV (type ${type}, length ${length}), found type ${buf[offset + at]} length ${buf[offset + at + 1]}`,
        );
      }
    };
    tlv(ACTOR_AT, 1, INFO_LEN, "actor information");
    tlv(PARTNER_AT, 2, INFO_LEN, "partner information");
    tlv(COLLECTOR_AT, 3, COLLECTOR_LEN, "collector information");
    if (version === LACP_VERSION) tlv(TERMINATOR_AT, 0, 0, "terminator");
  },
  parse(buf: Uint8Array, offset = 0): LacpRepr {
    Lacp.validate(buf, offset);
    return {
      version: buf[offset + 1],
      actor: readParticipant(buf, offset + ACTOR_AT),
      partner: readParticipant(buf, offset + PARTNER_AT),
      collectorMaxDelay: Lacp.collectorMaxDelay(buf, offset),
    };
  },
  /** Writes the 110-byte LACPDU (version 1 layout, reserved bytes zero); returns 110. */
  emit(repr: LacpRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, LACPDU_LEN, "lacpdu emit");
    if (!(repr.version >= LACP_VERSION && repr.version <= 0xff)) {
      throw new WireError("bad-version", offset + 1, `lacp emit: version ${repr.version}`);
    }
    buf.fill(0, offset, offset + LACPDU_LEN);
    buf[offset] = LACP_SUBTYPE;
    buf[offset + 1] = repr.version;
    writeParticipant(buf, offset + ACTOR_AT, 1, repr.actor);
    writeParticipant(buf, offset + PARTNER_AT, 2, repr.partner);
    buf[offset + COLLECTOR_AT] = 3;
    buf[offset + COLLECTOR_AT + 1] = COLLECTOR_LEN;
    setU16(buf, offset + COLLECTOR_AT + 2, repr.collectorMaxDelay);
    // terminator (type 0, length 0) and the 50 reserved bytes are the zeros already written
    return LACPDU_LEN;
  },

  /** True when the Ethernet frame at `frameOffset` is an untagged Slow Protocols LACPDU. */
  isLacpFrame(buf: Uint8Array, frameOffset = 0): boolean {
    return (
      frameOffset >= 0 &&
      frameOffset + ETHERNET_HEADER_LEN + 1 <= buf.length &&
      ((buf[frameOffset + 12] << 8) | buf[frameOffset + 13]) === EtherType.SlowProtocols &&
      buf[frameOffset + ETHERNET_HEADER_LEN] === LACP_SUBTYPE
    );
  },
  /** Writes a whole 124-byte LACP frame from `srcMac` (the sending port's MAC); returns 124. */
  emitFrame(repr: LacpRepr, buf: Uint8Array, offset: number, srcMac: Mac): number {
    checkLen(buf, offset, LACP_FRAME_LEN, "lacp frame emit");
    writeMac(buf, offset, SLOW_PROTOCOLS_MAC);
    writeMac(buf, offset + 6, srcMac);
    buf[offset + 12] = EtherType.SlowProtocols >>> 8;
    buf[offset + 13] = EtherType.SlowProtocols & 0xff;
    Lacp.emit(repr, buf, offset + ETHERNET_HEADER_LEN);
    return LACP_FRAME_LEN;
  },
};

/** Marker Information (from the Marker Generator) or Marker Response Information TLV types. */
export const MarkerTlv = {
  Information: 1,
  Response: 2,
} as const;

const MARKER_INFO_AT = 2;
const MARKER_INFO_LEN = 16;
const MARKER_TERMINATOR_AT = 18;

export interface LacpMarkerRepr {
  version: number;
  /** A response (TLV type 2) rather than a marker (TLV type 1). */
  isResponse: boolean;
  requesterPort: number;
  requesterSystem: Mac;
  /** Chosen by the requester; a response echoes it (uint32). */
  transactionId: number;
}

/** Zero-copy accessors over a marker PDU whose subtype byte is at `offset` of `buf`. */
export const LacpMarker = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, LACPDU_LEN, "marker pdu");
  },
  isResponse(buf: Uint8Array, offset = 0): boolean {
    return buf[offset + MARKER_INFO_AT] === MarkerTlv.Response;
  },
  requesterPort(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + MARKER_INFO_AT + 2);
  },
  requesterSystem(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset + MARKER_INFO_AT + 4);
  },
  transactionId(buf: Uint8Array, offset = 0): number {
    const at = offset + MARKER_INFO_AT + 10;
    return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
  },
  /** Turns a validated marker into its response in place (§6.5.4.2: same fields, TLV type 2). */
  toResponse(buf: Uint8Array, offset = 0): void {
    buf[offset + MARKER_INFO_AT] = MarkerTlv.Response;
  },

  validate(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, 2, "marker pdu");
    if (buf[offset] !== MARKER_SUBTYPE) {
      throw new WireError(
        "unsupported",
        offset,
        `marker: slow protocol subtype ${buf[offset]}, not a marker PDU`,
      );
    }
    const version = buf[offset + 1];
    if (version < 1) throw new WireError("bad-version", offset + 1, `marker: version ${version}`);
    LacpMarker.check(buf, offset);
    const type = buf[offset + MARKER_INFO_AT];
    if (
      (type !== MarkerTlv.Information && type !== MarkerTlv.Response) ||
      buf[offset + 3] !== MARKER_INFO_LEN
    ) {
      throw new WireError(
        "bad-value",
        offset + MARKER_INFO_AT,
        `marker: expected a marker (1) or response (2) TLV of length 16, found type ${type} length ${buf[offset + 3]}`,
      );
    }
    if (
      version === 1 &&
      (buf[offset + MARKER_TERMINATOR_AT] !== 0 || buf[offset + MARKER_TERMINATOR_AT + 1] !== 0)
    ) {
      throw new WireError("bad-value", offset + MARKER_TERMINATOR_AT, "marker: terminator TLV missing");
    }
  },
  parse(buf: Uint8Array, offset = 0): LacpMarkerRepr {
    LacpMarker.validate(buf, offset);
    return {
      version: buf[offset + 1],
      isResponse: LacpMarker.isResponse(buf, offset),
      requesterPort: LacpMarker.requesterPort(buf, offset),
      requesterSystem: LacpMarker.requesterSystem(buf, offset),
      transactionId: LacpMarker.transactionId(buf, offset),
    };
  },
  /** Writes the 110-byte marker PDU (reserved and pad bytes zero); returns 110. */
  emit(repr: LacpMarkerRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, LACPDU_LEN, "marker pdu emit");
    if (!(repr.version >= 1 && repr.version <= 0xff)) {
      throw new WireError("bad-version", offset + 1, `marker emit: version ${repr.version}`);
    }
    buf.fill(0, offset, offset + LACPDU_LEN);
    buf[offset] = MARKER_SUBTYPE;
    buf[offset + 1] = repr.version;
    const at = offset + MARKER_INFO_AT;
    buf[at] = repr.isResponse ? MarkerTlv.Response : MarkerTlv.Information;
    buf[at + 1] = MARKER_INFO_LEN;
    setU16(buf, at + 2, repr.requesterPort);
    writeMac(buf, at + 4, repr.requesterSystem);
    const t = repr.transactionId >>> 0;
    buf[at + 10] = t >>> 24;
    buf[at + 11] = (t >>> 16) & 0xff;
    buf[at + 12] = (t >>> 8) & 0xff;
    buf[at + 13] = t & 0xff;
    return LACPDU_LEN;
  },
};
