import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { oracleFrames, vxlan } from "../../test/oracle/frames.ts";
import {
  decodeFrame,
  decodePacket,
  describeFrame,
  type Layer,
  LinkType,
  MAX_VXLAN_NESTING,
  summarizeLayers,
} from "./decode.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) =>
    Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16),
  );
}

// A ping from 10.0.0.1 to 10.0.0.2 (id 0x0001, seq 1, 8 data bytes), written out by hand with
// zero checksums that are filled in below.
const PING = hex(
  "020000000002 020000000001 0800" +
    "4500 0024 abcd 4000 4001 0000 0a000001 0a000002" +
    "0800 0000 0001 0001 6162636465666768",
);
// Fill in both checksums by the RFC 1071 sum so the literal stays readable.
function fixChecksums(f: Uint8Array): Uint8Array {
  const sum = (from: number, to: number) => {
    let s = 0;
    for (let i = from; i < to; i += 2) s += (f[i] << 8) | (f[i + 1] ?? 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff;
  };
  const ip = sum(14, 34);
  f[24] = ip >>> 8;
  f[25] = ip & 0xff;
  const icmp = sum(34, f.length);
  f[36] = icmp >>> 8;
  f[37] = icmp & 0xff;
  return f;
}
fixChecksums(PING);

describe("decodeFrame", () => {
  it("decodes an ICMP echo request layer by layer", () => {
    expect(decodeFrame(PING)).toEqual([
      { layer: "ethernet", src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02", etherType: 0x0800 },
      {
        layer: "ipv4",
        src: "10.0.0.1",
        dst: "10.0.0.2",
        ttl: 64,
        protocol: 1,
        dontFragment: true,
        checksumValid: true,
        length: 36,
        headerLength: 20,
        id: 0xabcd,
        dscp: 0,
        ecn: 0,
        moreFragments: false,
        fragmentOffset: 0,
        optionsLength: 0,
      },
      { layer: "icmp", type: 8, code: 0, checksumValid: true, length: 16, id: 1, seq: 1 },
      { layer: "payload", length: 8 },
    ]);
    expect(describeFrame(PING)).toBe(
      "02:00:00:00:00:01 > 02:00:00:00:00:02 IPv4 | IP 10.0.0.1 > 10.0.0.2 ttl 64 id 43981 DF len 36 | ICMP echo request id 1 seq 1 len 16 | payload 8 bytes",
    );
  });

  it("reports a bad IPv4 checksum as a field, not an error", () => {
    const f = PING.slice();
    f[25] ^= 0xff;
    const ip = decodeFrame(f)[1] as Extract<Layer, { layer: "ipv4" }>;
    expect(ip.checksumValid).toBe(false);
    expect(describeFrame(f)).toContain("bad-cksum");
  });

  it("ignores Ethernet padding after the IPv4 datagram", () => {
    const padded = new Uint8Array(64);
    padded.set(PING);
    const layers = decodeFrame(padded);
    expect(layers.at(-1)).toEqual({ layer: "payload", length: 8 });
    expect(layers.some((l) => l.layer === "error")).toBe(false);
  });

  it("keeps the layers before a fault and ends with an error at the frame offset", () => {
    const cut = PING.subarray(0, 30); // inside the IPv4 header
    expect(decodeFrame(cut)).toEqual([
      { layer: "ethernet", src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02", etherType: 0x0800 },
      {
        layer: "error",
        code: "truncated",
        offset: 14,
        message: "ipv4 header: need 20 bytes at offset 14, have 16",
      },
    ]);
    const shortIcmp = PING.slice();
    shortIcmp[17] = 0x1a; // total length 26: 6 bytes of ICMP, fewer than its 8-byte header
    const layers = decodeFrame(shortIcmp);
    expect(layers.map((l) => l.layer)).toEqual(["ethernet", "ipv4", "error"]);
    expect(layers[2]).toMatchObject({ layer: "error", code: "truncated", offset: 34 });
  });

  it("a frame shorter than an Ethernet header is one error layer", () => {
    expect(decodeFrame(new Uint8Array(5))).toEqual([
      {
        layer: "error",
        code: "truncated",
        offset: 0,
        message: "ethernet header: need 14 bytes at offset 0, have 5",
      },
    ]);
  });

  it("names every layer of the frames built for the oracle", () => {
    for (const f of oracleFrames())
      expect(
        decodeFrame(f.bytes).map((l) => l.layer),
        f.name,
      ).toEqual(f.layers);
  });

  it("summarizes ARP, VLAN stacks and ICMP errors like tcpdump would", () => {
    const byName = new Map(oracleFrames().map((f) => [f.name, f.bytes]));
    expect(describeFrame(byName.get("QinQ arp")!)).toBe(
      "02:00:00:00:0a:01 > ff:ff:ff:ff:ff:ff 802.1ad | s-vlan 200 p1 dei | vlan 10 p0 | ARP who-has 10.0.2.2 tell 10.0.1.1",
    );
    expect(describeFrame(byName.get("icmp unreachable, fragmentation needed")!)).toContain(
      "ICMP unreachable frag-needed mtu 1450 | quoted IP 10.0.1.1 > 10.0.2.2 ttl 64 id 4660 DF len 1500 | quoted UDP 49999 > 50001 len 1480",
    );
  });

  it("decodes raw IP captures (link types 101, 228, 229) from the IP header", () => {
    const raw = PING.subarray(14);
    const layers = decodePacket(raw, LinkType.Raw);
    expect(layers.map((l) => l.layer)).toEqual(["ipv4", "icmp", "payload"]);
    expect(decodePacket(raw, LinkType.Ipv4)).toEqual(layers);
    const v6 = oracleFrames()
      .find((f) => f.name === "ipv6 icmpv6 echo request")!
      .bytes.subarray(14);
    expect(decodePacket(v6, LinkType.Ipv6).map((l) => l.layer)).toEqual(["ipv6", "icmpv6", "payload"]);
    expect(decodePacket(new Uint8Array([0x50, 0, 0]), LinkType.Raw)).toEqual([
      { layer: "error", code: "bad-version", offset: 0, message: "raw ip: version 5" },
    ]);
    expect(decodePacket(PING, LinkType.Ethernet)).toEqual(decodeFrame(PING));
  });

  it("follows VXLAN inside VXLAN up to a bound, then says so", () => {
    let frame = oracleFrames().find((f) => f.name === "arp request")!.bytes;
    for (let i = 0; i < MAX_VXLAN_NESTING + 1; i++) frame = vxlan(frame, 100 + i);
    const layers = decodeFrame(frame);
    expect(layers.filter((l) => l.layer === "vxlan").map((l) => (l as { vni: number }).vni)).toEqual(
      Array.from({ length: MAX_VXLAN_NESTING }, (_, i) => 100 + MAX_VXLAN_NESTING - i),
    );
    expect(layers.at(-1)).toMatchObject({ layer: "error", code: "unsupported" });
    const once = decodeFrame(vxlan(vxlan(oracleFrames()[1].bytes, 7), 8)).map((l) => l.layer);
    expect(once).toEqual([
      ...["ethernet", "ipv4", "udp", "vxlan"],
      ...["ethernet", "ipv4", "udp", "vxlan"],
      ...["ethernet", "arp"],
    ]);
  });

  it("refuses more stacked VLAN tags than the codec walks", () => {
    const f = new Uint8Array(14 + 4 * 9 + 30);
    f.set(PING.subarray(0, 12));
    for (let i = 0; i < 9; i++) f.set([0x81, 0x00, 0x00, i + 1], 12 + 4 * i);
    f.set([0x08, 0x06], 12 + 36);
    const layers = decodeFrame(f);
    expect(layers.filter((l) => l.layer === "vlan")).toHaveLength(8);
    expect(layers.at(-1)).toMatchObject({ layer: "error", code: "unsupported", offset: 12 + 32 });
  });

  it("decodes spanning tree BPDUs behind an 802.3 length and LLC 42 42 03", () => {
    const rst = oracleFrames().find((f) => f.name === "rstp proposal designated")!.bytes;
    const layers = decodeFrame(rst);
    expect(layers[0]).toMatchObject({ layer: "ethernet", dst: "01:80:c2:00:00:00", etherType: 39 });
    expect(layers[1]).toMatchObject({
      layer: "stp",
      version: 2,
      type: "rst",
      flagsText: "proposal,designated",
      isProposal: true,
      portRole: "designated",
      rootMac: "02:00:00:00:aa:01",
      rootPriority: 4096,
      bridgeSystemIdExtension: 10,
      portId: 0x8007,
      portNumber: 7,
      maxAgeS: 20,
    });
    expect(summarizeLayers(layers)).toBe(
      "02:00:00:00:0a:01 > 01:80:c2:00:00:00 802.3 len 39 | RSTP [proposal,designated] root 4096.02:00:00:00:aa:01 cost 20000 bridge 32778.02:00:00:00:bb:02 port 0x8007 age 1 max 20 hello 2 fwd 15",
    );
    const tcn = oracleFrames().find((f) => f.name === "stp tcn")!.bytes;
    expect(decodeFrame(tcn)[1]).toEqual({ layer: "stp", protocolId: 0, version: 0, type: "tcn" });
    // a BPDU cut short by its own length field: the error names the offset in the frame
    const cut = rst.slice();
    cut[13] = 30;
    expect(decodeFrame(cut).at(-1)).toMatchObject({ layer: "error", code: "truncated", offset: 17 });
    // another LLC (SNAP, AA AA 03) is left as payload
    const snap = rst.slice();
    snap.set([0xaa, 0xaa, 0x03], 14);
    expect(decodeFrame(snap).map((l) => l.layer)).toEqual(["ethernet", "payload"]);
  });

  it("names a link type it does not decode", () => {
    expect(decodePacket(PING, 147)).toEqual([
      {
        layer: "error",
        code: "unsupported",
        offset: 0,
        message: "link type 147 is not decoded (Ethernet 1, raw IP 101/228/229, Linux cooked 113/276 are)",
      },
    ]);
  });

  test.prop([fc.uint8Array({ maxLength: 200 })])(
    "any bytes decode without throwing; an error ends the list",
    (bytes) => {
      const layers = decodeFrame(bytes);
      expect(layers.length).toBeGreaterThan(0);
      layers.forEach((l, i) => {
        if (l.layer === "error") {
          expect(i).toBe(layers.length - 1);
          expect(l.offset).toBeGreaterThanOrEqual(0);
          expect(l.offset).toBeLessThanOrEqual(bytes.length);
        }
      });
      expect(typeof summarizeLayers(layers)).toBe("string");
    },
  );

  test.prop([fc.constantFrom(1, 101, 228, 229, 113, 276, 147), fc.uint8Array({ maxLength: 120 })])(
    "any bytes of any link type decode without throwing",
    (linkType, bytes) => {
      const layers = decodePacket(bytes, linkType);
      expect(layers.length).toBeGreaterThan(0);
      expect(layers.findIndex((l) => l.layer === "error")).toBeGreaterThanOrEqual(
        layers.some((l) => l.layer === "error") ? layers.length - 1 : -1,
      );
    },
  );

  // Mutations of real frames reach deep layers that random bytes rarely do.
  const seeds = oracleFrames().map((f) => f.bytes);
  test.prop([
    fc.nat(seeds.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.nat(80),
  ])("mutated frames decode without throwing", (which, edits, cut) => {
    const b = seeds[which].slice();
    for (const [i, v] of edits) b[i % b.length] = v;
    const bytes = b.subarray(0, Math.max(0, b.length - cut));
    const layers = decodeFrame(bytes);
    const err = layers.find((l) => l.layer === "error");
    if (err && err.layer === "error") expect(err.offset).toBeLessThanOrEqual(bytes.length);
    expect(JSON.parse(JSON.stringify(layers))).toEqual(layers);
  });
});
