import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseIpv4, parseMac } from "../wire/addr.ts";
import { Arp, ArpOp } from "../wire/arp.ts";
import { Ethernet, EtherType } from "../wire/ethernet.ts";
import { PcapWriter } from "../wire/pcap.ts";
import { PcapngWriter } from "../wire/pcapng.ts";
import { VXLAN_OVERHEAD, vxlanEncapsulate } from "../wire/vxlan.ts";
import { decodeCaptureStream } from "./decode.ts";
import { UserError } from "./errors.ts";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";

const dir = mkdtempSync(join(tmpdir(), "vnet-decode-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** An ARP request from 10.0.0.1 for 10.0.0.2, padded to the Ethernet minimum of 60 bytes. */
function arpRequest(): Uint8Array {
  const f = new Uint8Array(60);
  Ethernet.emit({ dst: 0xffffffffffff, src: parseMac("02:00:00:00:00:01"), etherType: EtherType.ARP }, f, 0);
  Arp.emit(
    {
      op: ArpOp.Request,
      senderMac: parseMac("02:00:00:00:00:01"),
      senderIp: parseIpv4("10.0.0.1"),
      targetMac: 0,
      targetIp: parseIpv4("10.0.0.2"),
    },
    f,
    14,
  );
  return f;
}

async function run(...argv: string[]) {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("vnet decode", () => {
  const w = new PcapWriter();
  w.append(1_000_000_001, arpRequest());
  w.append(2_500_000_000, arpRequest().subarray(0, 20)); // an ARP cut after 6 bytes
  const good = file("two.pcap", w.bytes());

  it("prints one line per frame, every layer, and a malformed frame as output (exit 0)", async () => {
    const r = await run("decode", good);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual([
      "1 1.000000001 60 bytes: 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP | ARP who-has 10.0.0.2 tell 10.0.0.1",
      "2 2.500000000 20 bytes: 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP | [malformed: truncated at 14: arp packet: need 28 bytes at offset 14, have 6]",
      "",
    ]);
  });

  it("--json prints JSON Lines with frame, timeNs, length and layers", async () => {
    const r = await run("decode", "--json", good);
    expect(r.code).toBe(0);
    const lines = r.out
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({
      frame: 1,
      timeNs: 1_000_000_001,
      length: 60,
      interface: 0,
      layers: [
        { layer: "ethernet", src: "02:00:00:00:00:01", dst: "ff:ff:ff:ff:ff:ff", etherType: 0x0806 },
        {
          layer: "arp",
          op: 1,
          senderMac: "02:00:00:00:00:01",
          senderIp: "10.0.0.1",
          targetMac: "00:00:00:00:00:00",
          targetIp: "10.0.0.2",
        },
      ],
    });
    expect(lines[1].frame).toBe(2);
    expect(lines[1].layers.at(-1)).toEqual({
      layer: "error",
      code: "truncated",
      offset: 14,
      message: "arp packet: need 28 bytes at offset 14, have 6",
    });
  });

  it("writes epoch nanoseconds exactly in JSON", async () => {
    const w2 = new PcapWriter();
    w2.append(1_795_462_225_940_363_123n, arpRequest());
    const r = await run("decode", "--json", file("epoch.pcap", w2.bytes()));
    expect(r.out).toContain('"timeNs":1795462225940363123,');
  });

  it("reads pcapng by its magic, and marks frames the capture cut short", async () => {
    const ng = new PcapngWriter();
    const a = ng.addInterface({ name: "a", snapLen: 30 });
    ng.append(a, 7, arpRequest(), 60, { direction: "inbound" });
    const r = await run("decode", file("one.pcapng", ng.bytes()));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^1 0\.000000007 in 60 bytes \(30 captured\): .* ARP \| \[malformed: truncated at 14/,
    );
    const j = JSON.parse((await run("decode", "--json", join(dir, "one.pcapng"))).out);
    expect(j.capturedLength).toBe(30);
    expect(j.direction).toBe("inbound");
    expect(j.length).toBe(60);
  });

  it("names each frame's interface: always in JSON (index and IDB name, interface 0 too), in text when there are several", async () => {
    const ng = new PcapngWriter();
    const a = ng.addInterface({ name: "server1:eth0", description: "cable server1:eth0 - tor1:eth1" });
    const b = ng.addInterface({ name: "tor1:eth1" });
    ng.append(a, 1, arpRequest(), 60, { direction: "outbound" });
    ng.append(b, 2, arpRequest(), 60, { direction: "inbound" });
    const two = file("two-ifaces.pcapng", ng.bytes());
    const lines = (await run("decode", "--json", two)).out
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.interface, l.interfaceName])).toEqual([
      [0, "server1:eth0"],
      [1, "tor1:eth1"],
    ]);
    const text = (await run("decode", two)).out.split("\n");
    expect(text[0]).toMatch(/^1 0\.000000001 server1:eth0 out 60 bytes: /);
    expect(text[1]).toMatch(/^2 0\.000000002 tor1:eth1 in 60 bytes: /);
    // The same from standard input.
    const io = memoryIo();
    await decodeCaptureStream(
      "-",
      (async function* () {
        yield ng.bytes();
      })(),
      io,
      false,
    );
    expect(io.stdout().split("\n").slice(0, 2)).toEqual(text.slice(0, 2));
    // One interface: the text line stays as it was.
    const one = new PcapngWriter();
    one.append(one.addInterface({ name: "only" }), 1, arpRequest(), 60);
    expect((await run("decode", file("one-iface.pcapng", one.bytes()))).out).toMatch(
      /^1 0\.000000001 60 bytes: /,
    );
  });

  it("a file that is not a capture: exit 2, one line, no stack", async () => {
    const p = file("notes.txt", "these are not packets\n");
    const r = await run("decode", p);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toBe(`vnet: ${p}: not a capture file: no pcap or pcapng magic\n`);
  });

  it("a missing file: exit 2, one line", async () => {
    const r = await run("decode", join(dir, "absent.pcap"));
    expect(r.code).toBe(2);
    expect(r.err).toBe(`vnet: ${join(dir, "absent.pcap")}: no such file\n`);
  });

  it("a truncated capture: prints the frames read, then the offset, exit 2", async () => {
    const bytes = new PcapWriter();
    bytes.append(1, arpRequest());
    bytes.append(2, arpRequest());
    const all = bytes.bytes();
    const p = file("cut.pcap", all.subarray(0, all.length - 10));
    const r = await run("decode", p);
    expect(r.code).toBe(2);
    expect(r.out.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toBe(
      `vnet: ${p}: pcap record at offset 100: stores 60 bytes, file has 50, after 1 frame\n`,
    );
  });

  it("decodes raw IP captures and names link types it cannot decode", async () => {
    const ping = new Uint8Array(28);
    ping.set([
      0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 8, 0, 0xf7, 0xfe, 0, 1, 0, 0,
    ]);
    const raw = new PcapWriter({ linkType: 101 });
    raw.append(0, ping);
    const r = await run("decode", file("raw.pcap", raw.bytes()));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^1 0\.000000000 28 bytes: IP 10\.0\.0\.1 > 10\.0\.0\.2 ttl 64 id 1 len 28 bad-cksum \| ICMP echo request id 1 seq 0 len 8\n$/,
    );
    const sll = new PcapWriter({ linkType: 147 });
    sll.append(0, new Uint8Array(20));
    const r2 = await run("decode", "--json", file("sll.pcap", sll.bytes()));
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.out).layers).toEqual([
      {
        layer: "error",
        code: "unsupported",
        offset: 0,
        message: "link type 147 is not decoded (Ethernet 1, raw IP 101/228/229, Linux cooked 113/276 are)",
      },
    ]);
  });

  it("--vxlan-port adds ports whose payload is VXLAN (Linux's old 8472)", async () => {
    const inner = arpRequest();
    const buf = new Uint8Array(VXLAN_OVERHEAD + inner.length);
    buf.set(inner, VXLAN_OVERHEAD);
    const outer = {
      srcMac: parseMac("02:00:00:00:f0:01"),
      dstMac: parseMac("02:00:00:00:f0:02"),
      srcIp: parseIpv4("192.168.0.1"),
      dstIp: parseIpv4("192.168.0.2"),
      vni: 42,
      ttl: 64,
      dscp: 0,
      dontFragment: false,
      ipId: 1,
      dstPort: 8472,
    };
    const start = vxlanEncapsulate(buf, VXLAN_OVERHEAD, inner.length, outer);
    const w = new PcapWriter();
    w.append(0, buf.subarray(start));
    const p = file("8472.pcap", w.bytes());
    expect((await run("decode", p)).out).toMatch(/UDP \d+ > 8472 len 76 \| payload 68 bytes\n$/);
    expect((await run("decode", "--vxlan-port", "8472", p)).out).toMatch(
      /UDP \d+ > 8472 len 76 \| VXLAN vni 42 \| 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP \| ARP who-has 10\.0\.0\.2 tell 10\.0\.0\.1\n$/,
    );
    const bad = await run("decode", "--vxlan-port", "70000", p);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('vnet: --vxlan-port: "70000" is not a UDP port (1-65535)\n');
  });

  it("-c stops after n frames, even before a truncation further on", async () => {
    const w2 = new PcapWriter();
    w2.append(1, arpRequest());
    w2.append(2, arpRequest());
    w2.append(3, arpRequest());
    const all = w2.bytes();
    const p = file("three-cut.pcap", all.subarray(0, all.length - 1));
    const r = await run("decode", "-c", "2", p);
    expect(r.code).toBe(0);
    expect(
      r.out
        .trimEnd()
        .split("\n")
        .map((l) => l.split(" ")[0]),
    ).toEqual(["1", "2"]);
    expect((await run("decode", "--count", "x", p)).err).toBe(
      'vnet: --count: "x" is not a number of frames\n',
    );
  });

  it("reads the capture from standard input with -", () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const fixture = readFileSync(join(here, "../../test/fixtures/kernel-vxlan.pcap"));
    const r = spawnSync(process.execPath, [join(here, "../../bin/vnet.js"), "decode", "-c", "1", "-"], {
      input: fixture,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /^1 1795462225\.940363000 92 bytes: .* VXLAN vni 42 \| .* ARP who-has 10\.42\.0\.2 tell 10\.42\.0\.1\n$/,
    );
  });

  it("decodes a capture arriving in pieces as each record completes, and reports a cut end", async () => {
    const w2 = new PcapngWriter();
    const a = w2.addInterface({ name: "a" });
    w2.append(a, 1, arpRequest());
    w2.append(a, 2, arpRequest());
    const bytes = w2.bytes();
    const io = memoryIo();
    const seen: number[] = [];
    async function* pieces() {
      for (let i = 0; i < bytes.length - 5; i += 7) {
        yield bytes.subarray(i, Math.min(i + 7, bytes.length - 5));
        seen.push(io.stdout().split("\n").length - 1);
      }
    }
    const e = await decodeCaptureStream("-", pieces(), io, false).catch((x) => x);
    expect(io.stdout().split("\n").filter(Boolean)).toHaveLength(1);
    expect(seen.indexOf(1)).toBeLessThan(seen.length - 1); // printed before the input ended
    expect(e).toBeInstanceOf(UserError);
    // What the file reader says of the same bytes.
    const asFile = await run("decode", file("cut.pcapng", bytes.subarray(0, bytes.length - 5)));
    expect(`vnet: ${e.message}\n`).toBe(asFile.err.replace(join(dir, "cut.pcapng"), "-"));
    expect(e.message).toMatch(
      /^-: pcapng block at offset \d+: length \d+, file has \d+ bytes left, after 1 frame$/,
    );
  });

  /** 500 ARP requests, then a record whose time fraction is not below one second. */
  function fiveHundredThenBroken(): Uint8Array {
    const w2 = new PcapWriter();
    for (let i = 0; i < 500; i++) w2.append(i * 1_000_000, arpRequest());
    const good = w2.bytes();
    const bytes = new Uint8Array(good.length + 16 + 60);
    bytes.set(good);
    const v = new DataView(bytes.buffer);
    v.setUint32(good.length + 4, 2_000_000_000, true);
    v.setUint32(good.length + 8, 60, true);
    v.setUint32(good.length + 12, 60, true);
    return bytes;
  }

  it("prints from standard input exactly what it prints for the file: 500 frames, then the broken record", async () => {
    const bytes = fiveHundredThenBroken();
    const asFile = await run("decode", file("500-then-broken.pcap", bytes));
    expect(asFile.code).toBe(2);
    expect(asFile.out.split("\n").filter(Boolean)).toHaveLength(500);
    const here = dirname(fileURLToPath(import.meta.url));
    const r = spawnSync(process.execPath, [join(here, "../../bin/vnet.js"), "decode", "-"], {
      input: bytes,
      encoding: "utf8",
    });
    expect(r.stdout).toBe(asFile.out);
    expect(r.stderr).toBe(asFile.err.replace(join(dir, "500-then-broken.pcap"), "-"));
    expect(r.stderr).toBe(
      "vnet: -: pcap record at offset 38024: fraction 2000000000 is not below one second (1000000000), after 500 frames\n",
    );
    expect(r.status).toBe(2);
  });

  it("escapes control characters of a file name it quotes", async () => {
    const r = await run("decode", "/nonexistent/a\u001b[2Jb.pcap");
    expect(r.code).toBe(2);
    expect(r.err).toBe("vnet: /nonexistent/a\\x1b[2Jb.pcap: no such file\n");
  });

  it("refuses empty standard input as it refuses an empty file (exit 2)", async () => {
    const asFile = await run("decode", file("empty.pcap", new Uint8Array(0)));
    expect(asFile.code).toBe(2);
    expect(asFile.err).toBe(`vnet: ${join(dir, "empty.pcap")}: not a capture file: it is empty\n`);
    const io = memoryIo();
    async function* nothing() {}
    const e = await decodeCaptureStream("-", nothing(), io, false).catch((x) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe("-: not a capture file: it is empty");
  });

  it("fails at once on standard input when a record claims 4 GiB", async () => {
    const w2 = new PcapWriter();
    w2.append(1, arpRequest());
    const head = new Uint8Array(16);
    new DataView(head.buffer).setUint32(8, 0xffffffff, true);
    const io = memoryIo();
    let isAskedForMore = false;
    async function* pieces() {
      yield w2.bytes();
      yield head;
      isAskedForMore = true; // a reader waiting for the 4 GiB would ask for more input here
      yield new Uint8Array(1 << 20);
    }
    const e = await decodeCaptureStream("-", pieces(), io, false).catch((x) => x);
    expect(isAskedForMore).toBe(false);
    expect(e.message).toBe(
      "-: pcap record at offset 100: claims 4294967295 stored bytes, more than the 262144 a record may hold (snapshot length 262144), after 1 frame",
    );
    expect(io.stdout().split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("reads the whole of standard input", () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const fixture = readFileSync(join(here, "../../test/fixtures/kernel-vxlan.pcap"));
    const r = spawnSync(process.execPath, [join(here, "../../bin/vnet.js"), "decode", "--json", "-"], {
      input: fixture,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(
      r.stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).frame),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("has --help", async () => {
    const r = await run("decode", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain("--json");
  });
});
