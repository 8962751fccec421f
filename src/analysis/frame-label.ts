/**
 * Names what a frame is in a trace ("ARP request who-has 192.168.10.12", "ICMP echo request
 * 192.168.10.11 > 192.168.20.12"), so a trace can tell the ARP resolution from the echo
 * exchange and say in words which frame a hop carried. Reads only the few fields it needs
 * (EtherType behind up to two VLAN tags, ARP opcode and addresses, IPv4 protocol, ICMP type),
 * bounds-checked; anything else is "other". Browser-safe; used only when tracing.
 */

import { formatIpv4, readIpv4 } from "../wire/addr.ts";

export type FrameKind =
  | "arp-request"
  | "arp-reply"
  | "echo-request"
  | "echo-reply"
  | "icmp-error"
  | "udp"
  /** A WireGuard message (whitepaper §5.4): what an eavesdropper on a VPN's path sees. */
  | "wireguard"
  /**
   * A link-local control frame (an IEEE 802.1 reserved group address, 01:80:c2:00:00:0x: STP
   * BPDUs, LACPDUs, LLDP; slow protocols 0x8809; the MLAG peers' 0x88b5): the devices' own
   * protocols, never part of a probe's exchange.
   */
  | "control"
  | "other";

export interface FrameLabel {
  kind: FrameKind;
  text: string;
}

export function labelFrame(buf: Uint8Array, start: number, end: number): FrameLabel {
  let off = start + 12;
  if (end - start < 14) return { kind: "other", text: `runt frame (${end - start} bytes)` };
  let type = (buf[off] << 8) | buf[off + 1];
  for (let i = 0; i < 2 && (type === 0x8100 || type === 0x88a8); i++) {
    off += 4;
    if (off + 2 > end) return { kind: "other", text: "truncated VLAN tag" };
    type = (buf[off] << 8) | buf[off + 1];
  }
  const l3 = off + 2;
  if (type === 0x0806 && l3 + 28 <= end) {
    const op = (buf[l3 + 6] << 8) | buf[l3 + 7];
    const spa = formatIpv4(readIpv4(buf, l3 + 14));
    const tpa = formatIpv4(readIpv4(buf, l3 + 24));
    if (op === 1) return { kind: "arp-request", text: `ARP request who-has ${tpa} tell ${spa}` };
    if (op === 2) return { kind: "arp-reply", text: `ARP reply ${spa} is-at ${macText(buf, l3 + 8)}` };
    return { kind: "other", text: `ARP opcode ${op}` };
  }
  if (type === 0x0800 && l3 + 20 <= end) {
    const ihl = (buf[l3] & 0x0f) * 4;
    const proto = buf[l3 + 9];
    const src = formatIpv4(readIpv4(buf, l3 + 12));
    const dst = formatIpv4(readIpv4(buf, l3 + 16));
    const l4 = l3 + ihl;
    if (proto === 1 && l4 + 1 <= end) {
      const t = buf[l4];
      if (t === 8) return { kind: "echo-request", text: `ICMP echo request ${src} > ${dst}` };
      if (t === 0) return { kind: "echo-reply", text: `ICMP echo reply ${src} > ${dst}` };
      return { kind: "icmp-error", text: `ICMP type ${t} ${src} > ${dst}` };
    }
    if (proto === 17) {
      const wg = l4 + 8 <= end ? wireguardMessage(buf, l4 + 8, end) : null;
      if (wg !== null) {
        const sport = (buf[l4] << 8) | buf[l4 + 1];
        const dport = (buf[l4 + 2] << 8) | buf[l4 + 3];
        return { kind: "wireguard", text: `WireGuard ${wg} ${src}:${sport} > ${dst}:${dport}` };
      }
      return { kind: "udp", text: `UDP ${src} > ${dst}` };
    }
    return { kind: "other", text: `IPv4 protocol ${proto} ${src} > ${dst}` };
  }
  const isLinkLocal =
    buf[start] === 0x01 &&
    buf[start + 1] === 0x80 &&
    buf[start + 2] === 0xc2 &&
    buf[start + 3] === 0 &&
    buf[start + 4] === 0 &&
    buf[start + 5] < 0x10;
  const kind = isLinkLocal || type === 0x8809 || type === 0x88b5 ? "control" : "other";
  return { kind, text: `EtherType 0x${type.toString(16).padStart(4, "0")}` };
}

function macText(buf: Uint8Array, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(buf[off + i].toString(16).padStart(2, "0"));
  return parts.join(":");
}

/**
 * The WireGuard message a UDP payload is, by its shape (type byte, three zero bytes, the
 * type's length: 148, 92, 64, or 32 + a multiple of 16 for transport data), or null.
 */
function wireguardMessage(buf: Uint8Array, at: number, end: number): string | null {
  const len = end - at;
  if (len < 32 || buf[at + 1] !== 0 || buf[at + 2] !== 0 || buf[at + 3] !== 0) return null;
  switch (buf[at]) {
    case 1:
      return len === 148 ? "handshake initiation" : null;
    case 2:
      return len === 92 ? "handshake response" : null;
    case 3:
      return len === 64 ? "cookie reply" : null;
    case 4:
      return (len - 32) % 16 === 0 ? (len === 32 ? "keepalive" : "transport data") : null;
    default:
      return null;
  }
}
