/**
 * The tshark side of the wire oracle: runs `tshark -T pdml` on a capture file and reads the
 * result into, per packet, the protocols in the order tshark dissected them (document order,
 * so the frame inside a VXLAN packet and the datagram an ICMP error quotes come after their
 * carrier, as in our decoder), each with its fields' `show` values, plus whether tshark found
 * the packet malformed or raised an expert warning or error about it.
 *
 * PDML is line-oriented XML (one element per line); a small line scanner is enough and keeps
 * the tests free of an XML dependency.
 */

import { execFileSync, spawnSync } from "node:child_process";

export interface TsharkProto {
  name: string;
  /** Field name -> `show` values in document order (a field can repeat inside a proto). */
  fields: Map<string, string[]>;
}

export interface TsharkPacket {
  protos: TsharkProto[];
  isMalformed: boolean;
  /** Expert infos at warning level or above: "severity: message". */
  expertProblems: string[];
}

/** True when tshark can be run here. */
export function hasTshark(): boolean {
  const r = spawnSync("tshark", ["--version"], { stdio: "ignore" });
  return r.status === 0;
}

/** Wireshark's expert severities (epan/proto.h): PI_WARN and PI_ERROR. */
const PI_WARN = 0x00600000;

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
    .replace(/&amp;/g, "&");
}

const ATTR = /(\w+)="([^"]*)"/g;

function attrs(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.matchAll(ATTR)) out[m[1]] = unescapeXml(m[2]);
  return out;
}

/** Parses tshark's PDML output. */
export function parsePdml(xml: string): TsharkPacket[] {
  const packets: TsharkPacket[] = [];
  let packet: TsharkPacket | undefined;
  const stack: TsharkProto[] = [];
  // PDML gives an expert info's message before its severity.
  let pendingExpertMessage = "";
  for (const raw of xml.split("\n")) {
    const line = raw.trim();
    if (line === "<packet>") {
      packet = { protos: [], isMalformed: false, expertProblems: [] };
      packets.push(packet);
      stack.length = 0;
    } else if (line.startsWith("<proto ")) {
      const a = attrs(line);
      const proto: TsharkProto = { name: a.name, fields: new Map() };
      if (a.name === "_ws.malformed") packet!.isMalformed = true;
      packet!.protos.push(proto);
      if (!line.endsWith("/>")) stack.push(proto);
    } else if (line === "</proto>") {
      stack.pop();
    } else if (line.startsWith("<field ")) {
      const a = attrs(line);
      if (a.name === "_ws.malformed") packet!.isMalformed = true;
      if (a.name === "_ws.expert.message") pendingExpertMessage = a.show ?? "";
      if (a.name === "_ws.expert.severity" && Number(a.show) >= PI_WARN) {
        packet!.expertProblems.push(`severity 0x${Number(a.show).toString(16)}: ${pendingExpertMessage}`);
      }
      const proto = stack.at(-1);
      if (proto && a.name && a.show !== undefined) {
        const list = proto.fields.get(a.name);
        if (list) list.push(a.show);
        else proto.fields.set(a.name, [a.show]);
      }
    }
  }
  return packets;
}

/**
 * Runs tshark on `file` with checksum verification switched on for every protocol that has
 * one, so its verdict can be compared with ours.
 */
export function tsharkPdml(file: string): TsharkPacket[] {
  const xml = execFileSync(
    "tshark",
    [
      "-n", // no name resolution: addresses as numbers
      "-o",
      "ip.check_checksum:TRUE",
      "-o",
      "udp.check_checksum:TRUE",
      "-o",
      "tcp.check_checksum:TRUE",
      "-o",
      "tcp.relative_sequence_numbers:FALSE",
      "-r",
      file,
      "-T",
      "pdml",
    ],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] },
  );
  return parsePdml(xml);
}

/** The one `show` value of `field` in `proto` (the first when it repeats). */
export function show(proto: TsharkProto, field: string): string | undefined {
  return proto.fields.get(field)?.[0];
}
