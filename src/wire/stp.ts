/**
 * Bridge PDUs of the Spanning Tree protocols (IEEE 802.1D-2004 §9.3): configuration and
 * topology change notification BPDUs of STP (version 0) and RST BPDUs of RSTP (version 2). They
 * travel in IEEE 802.3 frames, not Ethernet II: the type/length field holds a length (< 0x600),
 * followed by an LLC header DSAP 0x42, SSAP 0x42, control 0x03 (UI), sent untagged to the
 * Bridge Group Address 01:80:c2:00:00:00, which bridges never forward. Offsets below are from
 * the first byte of the BPDU (after the LLC header):
 *
 *     0 protocol identifier (2) = 0     2 version (1)     3 BPDU type (1)
 *     4 flags (1)                      5 root identifier (8: priority|ext (2), MAC (6))
 *    13 root path cost (4)            17 bridge identifier (8)
 *    25 port identifier (2: priority 4 bits, number 12 bits)
 *    27 message age (2)   29 max age (2)   31 hello time (2)   33 forward delay (2)
 *    35 version 1 length (1) = 0, RST BPDUs only                              36 end (RST)
 *
 * Config BPDUs are 35 bytes, TCN BPDUs 4 (no fields after the type), RST BPDUs 36. Times are in
 * units of 1/256 s on the wire (§9.2.8); the Repr holds seconds (exact, as multiples of 1/256).
 * A bridge identifier's first two bytes are a 4-bit priority (steps of 4096) and a 12-bit
 * system id extension (the VLAN or MST instance; 0 for a plain bridge) (§9.2.5).
 *
 * Flags (§9.3.3): bit 0 Topology Change, bit 1 Proposal, bits 2-3 Port Role (0 unknown,
 * 1 alternate or backup, 2 root, 3 designated), bit 4 Learning, bit 5 Forwarding, bit 6
 * Agreement, bit 7 Topology Change Acknowledgment. In a config BPDU only bits 0 and 7 mean
 * something.
 *
 * Validation follows §9.3.4: a protocol identifier other than 0 or an unknown type is refused;
 * a BPDU shorter than its type requires is truncated. Version 3 (MSTP) BPDUs of type 2 are read
 * as RST BPDUs, the way an RSTP bridge treats them (IEEE 802.1Q §13.29); what follows the
 * version 1 length (the MST part) is not read.
 */

import { type Mac, readMac, writeMac } from "./addr.ts";
import { checkLen, WireError } from "./error.ts";
import { ETHERNET_HEADER_LEN } from "./ethernet.ts";

/** The Bridge Group Address (§7.12.3, Table 7-10): reserved, never forwarded by a bridge. */
export const BRIDGE_GROUP_MAC: Mac = 0x0180c2000000;
/** The LLC service access point of the Spanning Tree protocols (§7.12.3). */
export const STP_LLC_SAP = 0x42;
/** LLC control field: Unnumbered Information. */
export const LLC_UI = 0x03;
export const LLC_HEADER_LEN = 3;

export const STP_CONFIG_LEN = 35;
export const STP_TCN_LEN = 4;
export const STP_RST_LEN = 36;
/** Every BPDU frame is padded to the 60-byte Ethernet minimum (without FCS). */
export const STP_FRAME_LEN = 60;

/** BPDU type byte (§9.3.1-9.3.3). */
export const BpduType = {
  Config: 0x00,
  Tcn: 0x80,
  Rst: 0x02,
} as const;

export type BpduKind = "config" | "tcn" | "rst";

/** Flag bits (§9.3.3, Figure 9-3). */
export const StpFlag = {
  TopologyChange: 0x01,
  Proposal: 0x02,
  PortRoleMask: 0x0c,
  Learning: 0x10,
  Forwarding: 0x20,
  Agreement: 0x40,
  TopologyChangeAck: 0x80,
} as const;

/** The role a port announces in the two Port Role bits (§9.3.3). */
export type BpduPortRole = "unknown" | "alternate-or-backup" | "root" | "designated";
const ROLE_NAMES: BpduPortRole[] = ["unknown", "alternate-or-backup", "root", "designated"];

export function bpduPortRole(flags: number): BpduPortRole {
  return ROLE_NAMES[(flags & StpFlag.PortRoleMask) >>> 2];
}

export function bpduPortRoleBits(role: BpduPortRole): number {
  return ROLE_NAMES.indexOf(role) << 2;
}

export interface StpFlagWords {
  isTopologyChange: boolean;
  isProposal: boolean;
  portRole: BpduPortRole;
  isLearning: boolean;
  isForwarding: boolean;
  isAgreement: boolean;
  isTopologyChangeAck: boolean;
}

export function stpFlagWords(flags: number): StpFlagWords {
  return {
    isTopologyChange: (flags & StpFlag.TopologyChange) !== 0,
    isProposal: (flags & StpFlag.Proposal) !== 0,
    portRole: bpduPortRole(flags),
    isLearning: (flags & StpFlag.Learning) !== 0,
    isForwarding: (flags & StpFlag.Forwarding) !== 0,
    isAgreement: (flags & StpFlag.Agreement) !== 0,
    isTopologyChangeAck: (flags & StpFlag.TopologyChangeAck) !== 0,
  };
}

export function stpFlagsFromWords(w: StpFlagWords): number {
  return (
    (w.isTopologyChange ? StpFlag.TopologyChange : 0) |
    (w.isProposal ? StpFlag.Proposal : 0) |
    bpduPortRoleBits(w.portRole) |
    (w.isLearning ? StpFlag.Learning : 0) |
    (w.isForwarding ? StpFlag.Forwarding : 0) |
    (w.isAgreement ? StpFlag.Agreement : 0) |
    (w.isTopologyChangeAck ? StpFlag.TopologyChangeAck : 0)
  );
}

/**
 * "tc,proposal,designated,learning,forwarding,agreement,tca" style text; the role only when
 * known; "none" when nothing is set. A config BPDU shows only tc and tca (`isRst` false).
 */
export function formatStpFlags(flags: number, isRst = true): string {
  const w = stpFlagWords(flags);
  const words: string[] = [];
  if (w.isTopologyChange) words.push("tc");
  if (isRst) {
    if (w.isProposal) words.push("proposal");
    if (w.portRole !== "unknown") words.push(w.portRole);
    if (w.isLearning) words.push("learning");
    if (w.isForwarding) words.push("forwarding");
    if (w.isAgreement) words.push("agreement");
  }
  if (w.isTopologyChangeAck) words.push("tca");
  return words.length ? words.join(",") : "none";
}

/** A bridge identifier (§9.2.5): priority (0..61440, steps of 4096), system id extension, MAC. */
export interface BridgeId {
  priority: number;
  /** 12 bits: the VLAN or MST instance the identifier is for; 0 for a plain bridge. */
  systemIdExtension: number;
  mac: Mac;
}

/** A port identifier (§9.2.7): priority (0..240, steps of 16) and port number (1..4095). */
export interface PortId {
  priority: number;
  number: number;
}

/** A topology change notification BPDU: nothing but its version and type. */
export interface StpTcnRepr {
  type: "tcn";
  version: number;
}

/** A configuration (STP) or RST BPDU: the priority vector, the times and the flags. */
export interface StpConfigRepr {
  type: "config" | "rst";
  /** 0 for config BPDUs; 2 (RSTP) or 3 (MSTP, read as RST) for RST BPDUs. */
  version: number;
  /** The flags byte (see StpFlag; `stpFlagWords` in words). */
  flags: number;
  rootId: BridgeId;
  rootPathCost: number;
  bridgeId: BridgeId;
  portId: PortId;
  messageAgeS: number;
  maxAgeS: number;
  helloTimeS: number;
  forwardDelayS: number;
}

export type StpRepr = StpTcnRepr | StpConfigRepr;

function u16(buf: Uint8Array, i: number): number {
  return (buf[i] << 8) | buf[i + 1];
}

function setU16(buf: Uint8Array, i: number, v: number): void {
  buf[i] = (v >>> 8) & 0xff;
  buf[i + 1] = v & 0xff;
}

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

function readBridgeId(buf: Uint8Array, at: number): BridgeId {
  const v = u16(buf, at);
  return { priority: v & 0xf000, systemIdExtension: v & 0x0fff, mac: readMac(buf, at + 2) };
}

/** Seconds to the wire's 1/256 s units, refusing what does not fit 16 bits. */
function toUnits(seconds: number, at: number, name: string): number {
  const units = Math.round(seconds * 256);
  if (!(units >= 0 && units <= 0xffff)) {
    throw new WireError("bad-value", at, `stp emit: ${name} ${seconds} s is not 0..255.99 s`);
  }
  return units;
}

function checkField(ok: boolean, at: number, message: string): void {
  if (!ok) throw new WireError("bad-value", at, `stp emit: ${message}`);
}

/** Zero-copy accessors over a BPDU whose protocol identifier starts at `offset` of `buf`. */
export const Stp = {
  /** Guarantees the fields of a config BPDU (35 bytes) are there. */
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, STP_CONFIG_LEN, "bpdu");
  },
  protocolId(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset);
  },
  version(buf: Uint8Array, offset = 0): number {
    return buf[offset + 2];
  },
  bpduType(buf: Uint8Array, offset = 0): number {
    return buf[offset + 3];
  },
  flags(buf: Uint8Array, offset = 0): number {
    return buf[offset + 4];
  },
  /** The root identifier's first two bytes: priority plus system id extension. */
  rootPriority(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + 5);
  },
  rootMac(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset + 7);
  },
  rootPathCost(buf: Uint8Array, offset = 0): number {
    return u32(buf, offset + 13);
  },
  bridgePriority(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + 17);
  },
  bridgeMac(buf: Uint8Array, offset = 0): Mac {
    return readMac(buf, offset + 19);
  },
  /** The port identifier as one 16-bit number (priority in the top 4 bits). */
  portId(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + 25);
  },
  messageAgeS(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + 27) / 256;
  },
  maxAgeS(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + 29) / 256;
  },
  helloTimeS(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + 31) / 256;
  },
  forwardDelayS(buf: Uint8Array, offset = 0): number {
    return u16(buf, offset + 33) / 256;
  },
  setFlags(buf: Uint8Array, offset: number, flags: number): void {
    buf[offset + 4] = flags & 0xff;
  },
  /** A relaying STP bridge ages the information it passes on (§17.19.22). */
  setMessageAgeS(buf: Uint8Array, offset: number, seconds: number): void {
    setU16(buf, offset + 27, toUnits(seconds, offset + 27, "message age"));
  },

  /**
   * Checks protocol identifier, type and length (§9.3.4) without allocating; returns the kind.
   * `length` bounds the BPDU (the 802.3 length minus the LLC header) when known.
   */
  validate(buf: Uint8Array, offset = 0, length = buf.length - offset): BpduKind {
    const limit = Math.min(buf.length, offset + Math.max(length, 0));
    const view = limit === buf.length ? buf : buf.subarray(0, limit);
    checkLen(view, offset, STP_TCN_LEN, "bpdu");
    const protocol = u16(buf, offset);
    if (protocol !== 0) {
      throw new WireError("bad-value", offset, `stp: protocol identifier ${protocol}, not 0 (spanning tree)`);
    }
    const version = buf[offset + 2];
    const type = buf[offset + 3];
    switch (type) {
      case BpduType.Tcn:
        return "tcn";
      case BpduType.Config:
        checkLen(view, offset, STP_CONFIG_LEN, "config bpdu");
        return "config";
      case BpduType.Rst:
        if (version < 2) {
          throw new WireError(
            "bad-version",
            offset + 2,
            `stp: an RST BPDU of version ${version}, not 2 or more`,
          );
        }
        checkLen(view, offset, STP_RST_LEN, "rst bpdu");
        return "rst";
      default:
        throw new WireError("bad-value", offset + 3, `stp: unknown BPDU type 0x${type.toString(16)}`);
    }
  },
  parse(buf: Uint8Array, offset = 0, length = buf.length - offset): StpRepr {
    const kind = Stp.validate(buf, offset, length);
    const version = buf[offset + 2];
    if (kind === "tcn") return { type: "tcn", version };
    const port = Stp.portId(buf, offset);
    return {
      type: kind,
      version,
      flags: buf[offset + 4],
      rootId: readBridgeId(buf, offset + 5),
      rootPathCost: Stp.rootPathCost(buf, offset),
      bridgeId: readBridgeId(buf, offset + 17),
      portId: { priority: (port >>> 8) & 0xf0, number: port & 0x0fff },
      messageAgeS: Stp.messageAgeS(buf, offset),
      maxAgeS: Stp.maxAgeS(buf, offset),
      helloTimeS: Stp.helloTimeS(buf, offset),
      forwardDelayS: Stp.forwardDelayS(buf, offset),
    };
  },
  /** The BPDU's length on the wire: 4 (TCN), 35 (config) or 36 (RST). */
  length(repr: StpRepr): number {
    return repr.type === "tcn" ? STP_TCN_LEN : repr.type === "config" ? STP_CONFIG_LEN : STP_RST_LEN;
  },
  /** Writes the BPDU; returns its length. Refuses fields that do not fit with `bad-value`. */
  emit(repr: StpRepr, buf: Uint8Array, offset = 0): number {
    const len = Stp.length(repr);
    checkLen(buf, offset, len, "bpdu emit");
    const isRst = repr.type === "rst";
    if (!(Number.isInteger(repr.version) && repr.version >= (isRst ? 2 : 0) && repr.version <= 0xff)) {
      throw new WireError("bad-version", offset + 2, `stp emit: version ${repr.version} for ${repr.type}`);
    }
    buf[offset] = 0;
    buf[offset + 1] = 0;
    buf[offset + 2] = repr.version;
    buf[offset + 3] = repr.type === "tcn" ? BpduType.Tcn : isRst ? BpduType.Rst : BpduType.Config;
    if (repr.type === "tcn") return len;
    const id = (at: number, b: BridgeId, name: string) => {
      checkField(
        Number.isInteger(b.priority) && b.priority >= 0 && b.priority <= 0xf000 && b.priority % 4096 === 0,
        at,
        `${name} priority ${b.priority} is not a multiple of 4096 in 0..61440`,
      );
      checkField(
        Number.isInteger(b.systemIdExtension) && b.systemIdExtension >= 0 && b.systemIdExtension <= 0xfff,
        at,
        `${name} system id extension ${b.systemIdExtension} is not 0..4095`,
      );
      setU16(buf, at, b.priority | b.systemIdExtension);
      writeMac(buf, at + 2, b.mac);
    };
    buf[offset + 4] = repr.flags & 0xff;
    id(offset + 5, repr.rootId, "root");
    const cost = repr.rootPathCost;
    checkField(
      Number.isInteger(cost) && cost >= 0 && cost <= 0xffffffff,
      offset + 13,
      `root path cost ${cost}`,
    );
    buf[offset + 13] = cost >>> 24;
    buf[offset + 14] = (cost >>> 16) & 0xff;
    buf[offset + 15] = (cost >>> 8) & 0xff;
    buf[offset + 16] = cost & 0xff;
    id(offset + 17, repr.bridgeId, "bridge");
    const p = repr.portId;
    checkField(
      Number.isInteger(p.priority) && p.priority >= 0 && p.priority <= 240 && p.priority % 16 === 0,
      offset + 25,
      `port priority ${p.priority} is not a multiple of 16 in 0..240`,
    );
    checkField(
      Number.isInteger(p.number) && p.number >= 0 && p.number <= 0xfff,
      offset + 25,
      `port number ${p.number} is not 0..4095`,
    );
    setU16(buf, offset + 25, (p.priority << 8) | p.number);
    setU16(buf, offset + 27, toUnits(repr.messageAgeS, offset + 27, "message age"));
    setU16(buf, offset + 29, toUnits(repr.maxAgeS, offset + 29, "max age"));
    setU16(buf, offset + 31, toUnits(repr.helloTimeS, offset + 31, "hello time"));
    setU16(buf, offset + 33, toUnits(repr.forwardDelayS, offset + 33, "forward delay"));
    if (isRst) buf[offset + 35] = 0; // version 1 length: no version 1 protocol information
    return len;
  },

  /**
   * True when the frame at `frameOffset` is an untagged 802.3 frame (length, not EtherType)
   * carrying an LLC header 42 42 03: a BPDU follows at frameOffset + 17.
   */
  isStpFrame(buf: Uint8Array, frameOffset = 0): boolean {
    const at = frameOffset + 12;
    if (frameOffset < 0 || at + 2 + LLC_HEADER_LEN > buf.length) return false;
    const length = u16(buf, at);
    return (
      length < 0x600 && buf[at + 2] === STP_LLC_SAP && buf[at + 3] === STP_LLC_SAP && buf[at + 4] === LLC_UI
    );
  },
  /**
   * Parses the BPDU of an 802.3/LLC frame (the Ethernet header at `frameOffset`): checks the
   * length field against the frame and the LLC header, then the BPDU within that length (the
   * rest is padding).
   */
  parseFrame(buf: Uint8Array, frameOffset = 0): StpRepr {
    checkLen(buf, frameOffset, ETHERNET_HEADER_LEN + LLC_HEADER_LEN, "stp frame");
    const at = frameOffset + 12;
    const length = u16(buf, at);
    if (length >= 0x600) {
      throw new WireError(
        "bad-value",
        at,
        `stp: type 0x${length.toString(16)} is an EtherType, not a length`,
      );
    }
    if (length < LLC_HEADER_LEN || at + 2 + length > buf.length) {
      throw new WireError(
        "bad-length",
        at,
        `stp: 802.3 length ${length} does not fit the frame (${buf.length - at - 2} bytes)`,
      );
    }
    if (buf[at + 2] !== STP_LLC_SAP || buf[at + 3] !== STP_LLC_SAP || buf[at + 4] !== LLC_UI) {
      throw new WireError("unsupported", at + 2, "stp: LLC header is not 42 42 03 (spanning tree)");
    }
    return Stp.parse(buf, at + 5, length - LLC_HEADER_LEN);
  },
  /** Writes a whole BPDU frame from `srcMac` (the port's MAC), padded to 60 bytes; returns 60. */
  emitFrame(repr: StpRepr, buf: Uint8Array, offset: number, srcMac: Mac): number {
    checkLen(buf, offset, STP_FRAME_LEN, "stp frame emit");
    buf.fill(0, offset, offset + STP_FRAME_LEN);
    writeMac(buf, offset, BRIDGE_GROUP_MAC);
    writeMac(buf, offset + 6, srcMac);
    const at = offset + ETHERNET_HEADER_LEN;
    buf[at] = STP_LLC_SAP;
    buf[at + 1] = STP_LLC_SAP;
    buf[at + 2] = LLC_UI;
    const len = Stp.emit(repr, buf, at + LLC_HEADER_LEN);
    setU16(buf, offset + 12, LLC_HEADER_LEN + len);
    return STP_FRAME_LEN;
  },
};
