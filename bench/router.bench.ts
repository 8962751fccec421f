/**
 * Layer-3 cost per packet (run by `npm run bench`; figures in BENCHMARKS.md):
 * - the SVI router forwarding vlan 20 -> vlan 10 to resolved neighbours: header validation and
 *   checksum check, connected-route lookup, TTL decrement with the RFC 1624 update, Ethernet
 *   rewrite from the ARP cache. Each iteration routes a batch to distinct destinations, so the
 *   neighbour lookup is not one cached entry. The sink restores the TTL (one more incremental
 *   checksum update) and the Ethernet addresses, so the same frames can be routed again without allocation;
 * - a VM answering an echo request (allocates the reply frame, as a guest stack does);
 * - a VM sending a 1000-byte UDP datagram to a resolved neighbour (allocates the frame, fills the
 *   payload, UDP checksum over 1008 bytes).
 *
 * After mitata, an allocation check routes a million packets with a `gc` PerformanceObserver
 * attached: forwarding must cause no garbage collection.
 */

import { PerformanceObserver } from "node:perf_hooks";
import type { Frame } from "../src/dataplane/frame.ts";
import { arpFrame, echoRequestFrame } from "../src/dataplane/ip-testing.ts";
import { SviRouter } from "../src/dataplane/router.ts";
import { Vm } from "../src/dataplane/vm.ts";
import { MAC_BROADCAST } from "../src/wire/addr.ts";
import { ArpOp } from "../src/wire/arp.ts";
import { updateChecksum16 } from "../src/wire/checksum.ts";
import { ETHERNET_HEADER_LEN, Ethernet } from "../src/wire/ethernet.ts";
import { sinkEnv } from "./harness.ts";
import { benchOps, runAndReport } from "./report.ts";

const BATCH = 64;
const SW_MAC = 0x02000000fe01;
const GW10 = 0xc0a80a01; // 192.168.10.1
const GW20 = 0xc0a81401; // 192.168.20.1
const SRC_IP = 0xc0a8140c; // 192.168.20.12
const SRC_MAC = 0x020000002012;
const dstIp = (i: number) => 0xc0a80a10 + i; // 192.168.10.16 + i
const dstMac = (i: number) => 0x020000001000 + i;

// --- router: two SVIs, BATCH resolved neighbours on vlan 10 ---
let restoreTtl = false;
const host = {
  name: "tor1",
  mac: SW_MAC,
  sendFromSvi(_vid: number, f: Frame): void {
    if (!restoreTtl) return;
    const b = f.buf;
    const o = f.start + ETHERNET_HEADER_LEN;
    const old = (b[o + 8] << 8) | b[o + 9];
    b[o + 8]++;
    const c = updateChecksum16((b[o + 10] << 8) | b[o + 11], old, (b[o + 8] << 8) | b[o + 9]);
    b[o + 10] = c >>> 8;
    b[o + 11] = c & 0xff;
    Ethernet.setDst(b, f.start, SW_MAC);
    Ethernet.setSrc(b, f.start, SRC_MAC);
  },
  sendFromRoutedPort() {},
};
const router = new SviRouter(host, [
  { vid: 10, ip: GW10, prefixLen: 24 },
  { vid: 20, ip: GW20, prefixLen: 24 },
]);
router.bind(sinkEnv(() => {}));
for (let i = 0; i < BATCH; i++) {
  // A request to us creates the entry (stale, RFC 826 merge); a reply to us makes it reachable.
  router.receiveOnSvi(
    10,
    arpFrame({
      op: ArpOp.Request,
      dst: MAC_BROADCAST,
      senderMac: dstMac(i),
      senderIp: dstIp(i),
      targetIp: GW10,
    }),
    0,
  );
  router.receiveOnSvi(
    10,
    arpFrame({
      op: ArpOp.Reply,
      dst: SW_MAC,
      senderMac: dstMac(i),
      senderIp: dstIp(i),
      targetMac: SW_MAC,
      targetIp: GW10,
    }),
    0,
  );
}
if (router.neighborTable(0).filter((n) => n.state === "reachable").length !== BATCH) {
  throw new Error("bench setup: neighbours not learned");
}
const packets = Array.from({ length: BATCH }, (_, i) =>
  echoRequestFrame({
    srcMac: SRC_MAC,
    dstMac: SW_MAC,
    src: SRC_IP,
    dst: dstIp(i),
    id: 1,
    seq: i,
    dataLen: 56,
  }),
);

function routeBatch(): void {
  restoreTtl = true;
  for (let i = 0; i < BATCH; i++) router.receiveOnSvi(20, packets[i], 0);
}

// --- VM: answers echo requests, sends UDP ---
const vm = new Vm({ name: "vm1", nics: [{ mac: dstMac(0), ip: dstIp(0), prefixLen: 24 }] });
vm.bind(sinkEnv(() => {}));
vm.receive(
  0,
  arpFrame({
    op: ArpOp.Request,
    dst: MAC_BROADCAST,
    senderMac: dstMac(1),
    senderIp: dstIp(1),
    targetIp: dstIp(0),
  }),
  0,
);
const echoIn = echoRequestFrame({
  srcMac: dstMac(1),
  dstMac: dstMac(0),
  src: dstIp(1),
  dst: dstIp(0),
  id: 1,
  seq: 1,
});
const echoBytes = echoIn.bytes().slice();

benchOps("router: route vlan 20 -> vlan 10 (+ sink TTL restore)", routeBatch, BATCH);
benchOps("vm: answer an echo request (56 bytes)", () => {
  echoIn.buf.set(echoBytes, echoIn.start);
  vm.receive(0, echoIn, 0);
});
benchOps("vm: send a 1000-byte UDP datagram", () => {
  vm.sendUdp(dstIp(1), 40000, 5001, 1000, 0);
});

await runAndReport();

let gcs = 0;
const observer = new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
});
observer.observe({ entryTypes: ["gc"] });
await new Promise((r) => setTimeout(r, 20));
gcs = 0;
for (let r = 0; r < Math.ceil(1e6 / BATCH); r++) routeBatch();
await new Promise((r) => setTimeout(r, 20));
process.stdout.write(`\nallocation check: router, ~1M packets routed, garbage collections: ${gcs}\n`);
observer.disconnect();
if (router.stats.ipForwarded < 1e6 || router.drops.total > 0)
  throw new Error(`bench: only ${router.stats.ipForwarded} packets routed`);
