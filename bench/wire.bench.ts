/**
 * Wire codec micro-benchmarks (run by `npm run bench`; figures in BENCHMARKS.md):
 * - the Ethernet/IPv4/UDP header chain an L3 forwarder reads per frame: both MACs, the EtherType
 *   behind any VLAN tags, IPv4 version/IHL/total length checked against the frame, the header
 *   checksum verified, TTL, protocol, both addresses, both UDP ports;
 * - the Internet checksum of 1500 bytes.
 * Each iteration works through a batch of distinct frames (so nothing folds into a constant) and
 * throughput is reported per frame.
 */

import { bench, do_not_optimize } from "mitata";
import { internetChecksum } from "../src/wire/checksum.ts";
import { Ethernet, EtherType } from "../src/wire/ethernet.ts";
import { IpProtocol, Ipv4Header } from "../src/wire/ipv4.ts";
import { Vlan } from "../src/wire/vlan.ts";
import { runAndReport } from "./report.ts";

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
    // UDP ports and length, written by hand until the UDP codec is used here.
    f[34] = 0xc0;
    f[35] = i & 0xff;
    f[36] = 0x12;
    f[37] = 0xb5;
    f[38] = 0;
    f[39] = 128 - 34;
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
    ports = ((buf[u] << 8) | buf[u + 1]) ^ ((buf[u + 2] << 8) | buf[u + 3]);
  }
  return (dstMac % 65536) ^ (srcMac % 256) ^ ttl ^ proto ^ src ^ dst ^ ports;
}

bench("eth/ipv4/udp header chain (256 frames)", () => {
  let acc = 0;
  for (let i = 0; i < BATCH; i++) acc ^= parseChain(frames[i]);
  do_not_optimize(acc);
});

const mtu = new Uint8Array(1500);
for (let i = 0; i < mtu.length; i++) mtu[i] = (i * 31 + 7) & 0xff;
bench("internet checksum, 1500 bytes", () => {
  do_not_optimize(internetChecksum(mtu, 0, mtu.length));
});

await runAndReport({ "eth/ipv4/udp header chain (256 frames)": BATCH });
