/**
 * A frame as the web page's side panel shows it: vnet's dissector (`src/wire/decode.ts`) reads
 * the bytes into layers, each layer gets a title (the dissector's own one-line summary), its
 * fields as name and value, and the range of bytes it covers, so that pointing at a layer
 * highlights its bytes in the hex dump. Pure and browser-safe.
 */

import { decodeFrame, etherTypeName, type Layer, summarizeLayer } from "../wire/decode.ts";

export interface LayerView {
  name: string;
  title: string;
  fields: [string, string][];
  /** Byte range [start, end) in the frame; the last layers run to the end of their packet. */
  start: number;
  end: number;
}

const NAMES: Record<string, string> = {
  ethernet: "Ethernet II",
  vlan: "802.1Q VLAN tag",
  arp: "ARP",
  ipv4: "IPv4",
  ipv6: "IPv6",
  icmp: "ICMP",
  icmpv6: "ICMPv6",
  udp: "UDP",
  tcp: "TCP",
  vxlan: "VXLAN",
  gre: "GRE",
  wireguard: "WireGuard",
  lacp: "LACP",
  stp: "Spanning tree (BPDU)",
  sll: "Linux cooked header",
  payload: "Payload",
  error: "Not decoded",
};

const HEX_FIELDS = new Set(["etherType", "tpid", "protocol", "id", "checksum"]);

function fieldText(key: string, value: unknown): string {
  if (typeof value === "number") {
    if (key === "etherType" || key === "tpid")
      return `0x${value.toString(16).padStart(4, "0")} (${etherTypeName(value)})`;
    if (HEX_FIELDS.has(key)) return `${value} (0x${value.toString(16)})`;
    return String(value);
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value) || (typeof value === "object" && value !== null)) return JSON.stringify(value);
  return String(value);
}

/** Header bytes each layer takes, where fixed or given by the layer itself. */
function headerBytes(l: Layer): number | null {
  switch (l.layer) {
    case "ethernet":
      return 14;
    case "vlan":
      return 4;
    case "arp":
      return 28;
    case "ipv4":
      return l.headerLength;
    case "ipv6":
      return 40;
    case "udp":
      return 8;
    case "vxlan":
      return 8;
    default:
      return null;
  }
}

export function layerViews(bytes: Uint8Array): LayerView[] {
  const layers = decodeFrame(bytes);
  const out: LayerView[] = [];
  let at = 0;
  // Where the current IP packet ends (padding after it is not the last layer's).
  let packetEnd = bytes.length;
  for (const l of layers) {
    const size = headerBytes(l);
    if (l.layer === "ipv4" && !l.isQuoted) packetEnd = Math.min(bytes.length, at + l.length);
    const end = size === null ? packetEnd : Math.min(bytes.length, at + size);
    out.push({
      name: NAMES[l.layer] ?? l.layer,
      title: summarizeLayer(l),
      fields: Object.entries(l)
        .filter(([k]) => k !== "layer")
        .map(([k, v]) => [k, fieldText(k, v)]),
      start: Math.min(at, end),
      end,
    });
    at = end;
    // Layers after a variable one (ICMP's quoted packet, WireGuard) share its range.
  }
  return out;
}

/** The bytes as lines of 16: offset, then hex pairs. */
export function hexLines(bytes: Uint8Array): { offset: string; cells: string[] }[] {
  const out: { offset: string; cells: string[] }[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const cells: string[] = [];
    for (let j = i; j < Math.min(bytes.length, i + 16); j++)
      cells.push(bytes[j].toString(16).padStart(2, "0"));
    out.push({ offset: i.toString(16).padStart(4, "0"), cells });
  }
  return out;
}

/** The bytes as one hex string, for copying into other tools. */
export function hexString(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
