/**
 * Wire codec micro-benchmarks (run by `npm run bench`; figures in BENCHMARKS.md):
 * - the Ethernet/IPv4/UDP header chain an L3 forwarder reads per frame: both MACs, the EtherType
 *   behind any VLAN tags, IPv4 version/IHL/total length checked against the frame, the header
 *   checksum verified, TTL, protocol, both addresses, both UDP ports;
 * - VXLAN encapsulation then decapsulation of a 128-byte inner frame with the VTEP's in-place
 *   helpers (outer Ethernet/IPv4/UDP/VXLAN written into headroom, IPv4 checksum computed, flow
 *   hash for the source port; then every outer header checked, checksum verified);
 * - the Internet checksum of 1500 bytes;
 * - captures: appending frames to a pcap writer (what a simulated port pays per captured frame)
 *   and reading them back; the dissector on a VXLAN-carried ping (edges only: it allocates).
 * Each iteration works through a batch of distinct frames (so nothing folds into a constant) and
 * throughput is reported per frame.
 */

import { do_not_optimize } from "mitata";
import { internetChecksum } from "../src/wire/checksum.ts";
import { decodeFrame } from "../src/wire/decode.ts";
import { Ethernet, EtherType } from "../src/wire/ethernet.ts";
import { IpProtocol, Ipv4Header } from "../src/wire/ipv4.ts";
import { PcapWriter, pcapRecords } from "../src/wire/pcap.ts";
import { Udp } from "../src/wire/udp.ts";
import { Vlan } from "../src/wire/vlan.ts";
import {
  newVxlanDecapInfo,
  VXLAN_OVERHEAD,
  VXLAN_UDP_PORT,
  type VxlanOuter,
  vxlanDecapsulate,
  vxlanEncapsulate,
} from "../src/wire/vxlan.ts";
import { benchOps, runAndReport } from "./report.ts";

const BATCH = 256;

/** BATCH Ethernet/IPv4/UDP frames of 128 bytes with distinct addresses and ports. */
function buildFrames(): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < BATCH; i++) {
    const f = new Uint8Array(128);
    Ethernet.emit({ dst: 0x020000000002 + i, src: 0x020000000001, etherType: EtherType.IPv4 }, f, 0);
    Ipv4Header.emit(
      {
        dscp: 0,
        ecn: 0,
        ident: i,
        dontFragment: true,
        moreFragments: false,
        fragmentOffsetBytes: 0,
        ttl: 64,
        protocol: IpProtocol.UDP,
        src: 0x0a000001,
        dst: 0x0a000100 + i,
        options: new Uint8Array(0),
        payloadLength: 128 - 34,
        checksumValid: true,
      },
      f,
      14,
    );
    Udp.emit({ srcPort: 40000 + i, dstPort: 5000, payloadLength: 128 - 42, checksumStatus: "valid" }, f, 34, {
      version: 4,
      src: 0x0a000001,
      dst: 0x0a000100 + i,
    });
    frames.push(f);
  }
  return frames;
}

const frames = buildFrames();

/**
 * What an L3 forwarder reads from one frame; returns a number mixing every field so the JIT
 * cannot drop any read. -1 when the frame would be refused.
 */
function parseChain(buf: Uint8Array): number {
  const typeAt = Vlan.walk(buf, 0);
  const type = (buf[typeAt] << 8) | buf[typeAt + 1];
  const dstMac = Ethernet.dst(buf, 0);
  const srcMac = Ethernet.src(buf, 0);
  if (type !== EtherType.IPv4) return -1;
  const ip = typeAt + 2;
  const hl = Ipv4Header.validate(buf, ip);
  if (!Ipv4Header.isChecksumValid(buf, ip)) return -1;
  const ttl = Ipv4Header.ttl(buf, ip);
  const proto = Ipv4Header.protocol(buf, ip);
  const src = Ipv4Header.src(buf, ip);
  const dst = Ipv4Header.dst(buf, ip);
  let ports = 0;
  if (proto === IpProtocol.UDP) {
    const u = ip + hl;
    Udp.check(buf, u);
    ports = Udp.srcPort(buf, u) ^ Udp.dstPort(buf, u);
  }
  // A forwarder compares MACs (its own, broadcast) rather than doing arithmetic on them.
  return (dstMac === srcMac ? 1 : 0) ^ ttl ^ proto ^ src ^ dst ^ ports;
}

benchOps(
  "eth/ipv4/udp header chain",
  () => {
    let acc = 0;
    for (let i = 0; i < BATCH; i++) acc ^= parseChain(frames[i]);
    do_not_optimize(acc);
  },
  BATCH,
);

// One buffer per inner frame, with exactly the headroom encapsulation needs.
const tunnelBufs = frames.map((f) => {
  const b = new Uint8Array(VXLAN_OVERHEAD + f.length);
  b.set(f, VXLAN_OVERHEAD);
  return b;
});
const outer: VxlanOuter = {
  srcMac: 0x02000000f001,
  dstMac: 0x02000000f002,
  srcIp: 0xc0a80001,
  dstIp: 0xc0a80002,
  vni: 5001,
  ttl: 64,
  dscp: 0,
  dontFragment: true,
  ipId: 0,
  dstPort: VXLAN_UDP_PORT,
};
const info = newVxlanDecapInfo();

benchOps(
  "vxlan encap+decap, 128-byte inner frame",
  () => {
    let acc = 0;
    for (let i = 0; i < BATCH; i++) {
      const b = tunnelBufs[i];
      const start = vxlanEncapsulate(b, VXLAN_OVERHEAD, b.length - VXLAN_OVERHEAD, outer);
      acc ^= vxlanDecapsulate(b, start, b.length, info) ^ info.vni ^ info.srcPort;
    }
    do_not_optimize(acc);
  },
  BATCH,
);

const mtu = new Uint8Array(1500);
for (let i = 0; i < mtu.length; i++) mtu[i] = (i * 31 + 7) & 0xff;
benchOps("internet checksum, 1500 bytes", () => {
  do_not_optimize(internetChecksum(mtu, 0, mtu.length));
});

// Captures: 256 frames of 128 bytes per iteration, written then read.
// A long-lived writer, drained after each batch as a capture streamed to disk would be.
const streaming = new PcapWriter();
let captureClockNs = 0;
benchOps(
  "pcap append + drain, 128-byte frame",
  () => {
    for (let i = 0; i < BATCH; i++) {
      captureClockNs += 1000;
      streaming.append(captureClockNs, frames[i]);
    }
    do_not_optimize(streaming.drain());
  },
  BATCH,
);
const file = (() => {
  const w = new PcapWriter();
  for (let i = 0; i < BATCH; i++) w.append(i * 1000, frames[i]);
  return w.bytes();
})();
benchOps(
  "pcap read, 128-byte frame",
  () => {
    let n = 0;
    for (const r of pcapRecords(file)) n += r.data.length;
    do_not_optimize(n);
  },
  BATCH,
);
const kernelFrame = (() => {
  const b = tunnelBufs[0];
  const start = vxlanEncapsulate(b, VXLAN_OVERHEAD, b.length - VXLAN_OVERHEAD, outer);
  return b.slice(start);
})();
benchOps("decodeFrame, VXLAN-carried UDP (8 layers)", () => {
  do_not_optimize(decodeFrame(kernelFrame));
});

await runAndReport();
