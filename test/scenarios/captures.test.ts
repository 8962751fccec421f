/**
 * Captures and determinism, through the CLI as a user runs it:
 * - `--pcap DIR` writes one pcapng, `DIR/vnet.pcapng`: an interface per link end that carried
 *   traffic, named `device:port` with the connection as its description, every frame with its
 *   direction, simulated time 0 at the Unix epoch; `--pcap-per-link` writes one classic pcap per
 *   link end instead;
 * - port names with `/` (`te1/1`, `xe-0/0/1`) and names that come out alike as file names give
 *   valid, distinct files, with the real names inside; a failure leaves none of the run's files;
 * - frames on cables are padded to 60 bytes, a VM's own frames are as the guest sent them, and
 *   ARP and ping work across cables with padding;
 * - tshark reads the files without a malformed packet or an expert warning and sees the same
 *   interface names and directions; two runs with the same seed give byte-identical files.
 * (The tshark parts skip with one line when tshark is absent.)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { decodeFrame } from "../../src/wire/decode.ts";
import type { CaptureRecord } from "../../src/wire/pcap.ts";
import { readPcap } from "../../src/wire/pcap.ts";
import { pcapngInterfaces, readPcapng } from "../../src/wire/pcapng.ts";
import { hasTshark } from "../oracle/tshark.ts";
import { checkWithTshark } from "./tshark-check.ts";

const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));
const SLASHED = fileURLToPath(new URL("./topologies/slashed-ports.yaml", import.meta.url));
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "vnet-scn-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function readDir(dir: string): Map<string, Uint8Array> {
  return new Map(
    readdirSync(dir)
      .sort()
      .map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]),
  );
}

/** The one pcapng of a run: its interfaces' names and descriptions, and its records. */
function readRun(dir: string): {
  names: string[];
  descriptions: (string | undefined)[];
  records: CaptureRecord[];
} {
  expect(readdirSync(dir)).toEqual(["vnet.pcapng"]);
  const bytes = new Uint8Array(readFileSync(join(dir, "vnet.pcapng")));
  const ifs = pcapngInterfaces(bytes);
  return {
    names: ifs.map((i) => i.name ?? ""),
    descriptions: ifs.map((i) => i.description),
    records: readPcapng(bytes),
  };
}

/** What a frame is, from its bytes: "arp request", "arp reply", "echo request", ... */
function what(data: Uint8Array): string {
  const layers = decodeFrame(data);
  for (const l of layers) {
    if (l.layer === "arp") return l.op === 1 ? "arp request" : "arp reply";
    if (l.layer === "icmp") return l.type === 8 ? "echo request" : l.type === 0 ? "echo reply" : "icmp";
  }
  return layers.map((l) => l.layer).join("/");
}

describe("captures", () => {
  it("trace --pcap writes one pcapng: an interface per link end named device:port, directions, simulated time", async () => {
    const dir = tempDir();
    const r = await run(["trace", SEED, "web1", "web3", "--json", "--pcap", dir]);
    expect(r.code).toBe(0);
    const { names, descriptions, records } = readRun(dir);
    // Cable ends on both sides, the two VMs' vNICs, in name order; db1 saw neither the echo nor
    // the ARP.
    for (const n of ["server1:eth0", "tor1:eth1", "tor1:eth2", "server2:eth0", "web1:eth0", "web3:eth0"]) {
      expect(names).toContain(n);
    }
    expect(names).not.toContain("db1:eth0");
    expect([...names].sort()).toEqual(names);
    expect(descriptions[names.indexOf("server1:eth0")]).toBe("server1:eth0 <-> tor1:eth1 (cable, 10 Gb/s)");
    expect(descriptions[names.indexOf("tor1:eth1")]).toBe("tor1:eth1 <-> server1:eth0 (cable, 10 Gb/s)");
    expect(descriptions[names.indexOf("web1:eth0")]).toBe("web1:eth0 <-> server1/vs0:web1 (vNIC)");
    // The JSON names the file, its frames and its interfaces in id order.
    expect(JSON.parse(r.out).captures).toEqual([
      { path: join(dir, "vnet.pcapng"), frames: records.length, interfaces: names },
    ]);

    // web1's vNIC: its ARP request as the guest sent it (42 bytes), the reply that came over the
    // trunks (padded to 60 with its VLAN tag, 56 once the vswitch has popped the tag, as a NIC
    // with a real switch would hand it over), its echo request and the reply; outbound,
    // inbound, outbound, inbound.
    const web1 = records.filter((x) => names[x.interfaceId] === "web1:eth0");
    expect(web1.map((x) => what(x.data))).toEqual(["arp request", "arp reply", "echo request", "echo reply"]);
    expect(web1.map((x) => x.direction)).toEqual(["outbound", "inbound", "outbound", "inbound"]);
    expect(web1.map((x) => x.data.length)).toEqual([42, 56, 98, 98]);
    // Every frame on a cable end is at least 60 bytes; the ARP padding is zeros.
    const cableEnds = new Set(["server1:eth0", "tor1:eth1", "tor1:eth2", "server2:eth0"]);
    const onCables = records.filter((x) => cableEnds.has(names[x.interfaceId]));
    expect(onCables.length).toBeGreaterThan(0);
    expect(onCables.every((x) => x.data.length >= 60 && x.originalLength === x.data.length)).toBe(true);
    const arpOnCable = onCables.find((x) => what(x.data) === "arp request")!;
    expect([...arpOnCable.data.subarray(arpOnCable.data.length - 14)].every((b) => b === 0)).toBe(true);
    // Each frame leaves one end of a cable and arrives at the other.
    const s1 = records.filter((x) => names[x.interfaceId] === "server1:eth0").map((x) => x.direction);
    const t1 = records.filter((x) => names[x.interfaceId] === "tor1:eth1").map((x) => x.direction);
    expect(s1.filter((d) => d === "outbound").length).toBe(t1.filter((d) => d === "inbound").length);

    // Simulated time, 0 at the Unix epoch: the trace starts after 1 ms of start-up and lasts
    // microseconds; the whole file is in time order.
    const times = records.map((x) => x.timeNs);
    expect([...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(times);
    expect(web1[0].timeNs).toBe(1_000_000n);
    expect(web1[3].timeNs - web1[0].timeNs).toBeLessThan(200_000n);
    if (hasTshark()) checkWithTshark(dir);
  });

  it("--pcap-per-link writes one classic pcap per link end, named after it", async () => {
    const dir = tempDir();
    const r = await run(["trace", SEED, "web1", "web3", "--pcap", dir, "--pcap-per-link"]);
    expect(r.code).toBe(0);
    const files = [...readDir(dir).keys()];
    for (const f of [
      "server1-eth0.pcap",
      "tor1-eth1.pcap",
      "tor1-eth2.pcap",
      "server2-eth0.pcap",
      "web1-eth0.pcap",
      "web3-eth0.pcap",
    ]) {
      expect(files).toContain(f);
    }
    expect(files).not.toContain("db1-eth0.pcap");
    expect(files).not.toContain("vnet.pcapng");
    expect(r.out).toContain(`  ${join(dir, "web1-eth0.pcap")} (web1:eth0, 4 frames)\n`);
    const web1 = readPcap(readDir(dir).get("web1-eth0.pcap")!);
    expect(web1.header.isNanosecond).toBe(true);
    expect(web1.records.map((x) => x.data.length)).toEqual([42, 56, 98, 98]);
    expect(web1.records[0].timeNs).toBe(1_000_000n);
    if (hasTshark()) checkWithTshark(dir);
    // Without --pcap there is nowhere to write: a usage error, before anything runs.
    const bare = await run(["ping", SEED, "web1", "web3", "-c", "1", "--pcap-per-link"]);
    expect(bare.code).toBe(2);
    expect(bare.err).toBe("vnet: --pcap-per-link goes with --pcap DIR (where to write the files)\n");
  });

  it("port names with '/' and names alike as file names: valid files, real names inside", async () => {
    // leaf-1:te1/1 and leaf-1:te1_1 both make leaf-1-te1_1; leaf-1:xe-0/0/1 and
    // leaf:1-xe-0/0/1 both make leaf-1-xe-0_0_1.
    const one = tempDir();
    const r1 = await run(["pingall", SLASHED, "--pcap", one]);
    expect(r1.code).toBe(0);
    expect(r1.out).toContain(`capture: ${join(one, "vnet.pcapng")} (`);
    const { names, descriptions, records } = readRun(one);
    expect(names).toEqual([
      "a1:eth0",
      "a2:eth0",
      "a3:eth0",
      "leaf-1:te1/1",
      "leaf-1:te1_1",
      "leaf-1:xe-0/0/1",
      "leaf:1-xe-0/0/1",
      "leaf:et-0/0/0",
      "s1:eth0",
      "s2:eth0",
      "s3:eth0",
    ]);
    expect(descriptions[names.indexOf("leaf-1:xe-0/0/1")]).toBe(
      "leaf-1:xe-0/0/1 <-> leaf:1-xe-0/0/1 (cable, 10 Gb/s)",
    );
    expect(new Set(records.map((x) => x.interfaceId)).size).toBe(names.length);

    const per = tempDir();
    const r2 = await run(["pingall", SLASHED, "--pcap", per, "--pcap-per-link", "--json"]);
    expect(r2.code).toBe(0);
    const files = JSON.parse(r2.out).captures as { path: string; frames: number; interfaces: string[] }[];
    const byPoint = new Map(files.map((f) => [f.interfaces[0], f.path.slice(per.length + 1)]));
    expect(Object.fromEntries(byPoint)).toEqual({
      "a1:eth0": "a1-eth0.pcap",
      "a2:eth0": "a2-eth0.pcap",
      "a3:eth0": "a3-eth0.pcap",
      "leaf-1:te1_1": "leaf-1-te1_1.pcap",
      "leaf-1:te1/1": "leaf-1-te1_1-2.pcap",
      "leaf-1:xe-0/0/1": "leaf-1-xe-0_0_1.pcap",
      "leaf:1-xe-0/0/1": "leaf-1-xe-0_0_1-2.pcap",
      "leaf:et-0/0/0": "leaf-et-0_0_0.pcap",
      "s1:eth0": "s1-eth0.pcap",
      "s2:eth0": "s2-eth0.pcap",
      "s3:eth0": "s3-eth0.pcap",
    });
    // Exactly those files, and no temporary folder left behind.
    expect(readdirSync(per).sort()).toEqual([...byPoint.values()].sort());
    for (const f of files)
      expect(readPcap(new Uint8Array(readFileSync(f.path))).records.length).toBe(f.frames);
    if (hasTshark()) checkWithTshark(one, per);
  });

  it("a failure leaves none of the run's files: the user gets one line and exit 2", async () => {
    // vnet.pcapng is taken by a folder: the file cannot be moved into place.
    const dir = tempDir();
    mkdirSync(join(dir, "vnet.pcapng"));
    writeFileSync(join(dir, "vnet.pcapng", "keep"), "");
    const r = await run(["trace", SEED, "web1", "web3", "--pcap", dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^vnet: --pcap ${dir}: E[A-Z]+: .*\\n$`));
    expect(readdirSync(dir)).toEqual(["vnet.pcapng"]);
    // Per link: the set is written in full or not at all, even when the clash comes late.
    const per = tempDir();
    mkdirSync(join(per, "web3-eth0.pcap"));
    writeFileSync(join(per, "web3-eth0.pcap", "keep"), "");
    const r2 = await run(["trace", SEED, "web1", "web3", "--pcap", per, "--pcap-per-link"]);
    expect(r2.code).toBe(2);
    expect(readdirSync(per)).toEqual(["web3-eth0.pcap"]);
    // A DIR that cannot be made.
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "");
    const r3 = await run(["trace", SEED, "web1", "web3", "--pcap", join(file, "sub")]);
    expect(r3.code).toBe(2);
    expect(r3.err).toContain("ENOTDIR");
  });

  it.skipIf(!hasTshark())(
    "tshark reads the one file of a pingall (SR-IOV, routed, tagged): names, directions, nothing malformed",
    async () => {
      const dir = tempDir();
      const r = await run(["pingall", SEED, "--pcap", dir]);
      expect(r.code).toBe(0);
      const { names, descriptions, records } = readRun(dir);
      expect(names.length).toBeGreaterThan(8);
      const file = join(dir, "vnet.pcapng");
      const rows = execFileSync(
        "tshark",
        [
          "-r",
          file,
          "-T",
          "fields",
          "-E",
          "separator=|",
          "-e",
          "frame.interface_name",
          "-e",
          "frame.packet_flags_direction",
          "-e",
          "frame.len",
          "-e",
          "eth.padding",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
      )
        .trimEnd()
        .split("\n")
        .map((l) => l.split("|"));
      expect(rows.length).toBe(records.length);
      rows.forEach(([name, dir, len], i) => {
        expect(name).toBe(names[records[i].interfaceId]);
        expect(Number(dir)).toBe(records[i].direction === "inbound" ? 1 : 2);
        expect(Number(len)).toBe(records[i].data.length);
      });
      // On cables nothing is shorter than 60 bytes, and tshark sees the ARP frames' padding; a
      // VM's own ARP leaves its vNIC as the guest sent it, 42 bytes with no padding.
      const cables = new Set(names.filter((_, i) => descriptions[i]?.includes("(cable")));
      expect(cables.size).toBeGreaterThan(4);
      const onCables = rows.filter(([name]) => cables.has(name));
      expect(onCables.every(([, , len]) => Number(len) >= 60)).toBe(true);
      expect(onCables.some(([, , len, padding]) => len === "60" && padding !== "")).toBe(true);
      expect(
        rows.some(
          ([name, d, len, padding]) =>
            name === "web1:eth0" && d === "0x00000002" && len === "42" && padding === "",
        ),
      ).toBe(true);
      checkWithTshark(dir);
    },
  );
  if (!hasTshark()) console.log("captures.test: tshark not installed; the tshark checks are skipped");
});

describe("determinism", () => {
  it("two runs with the same seed give byte-identical captures (both forms) and JSON", async () => {
    for (const form of [[], ["--pcap-per-link"]]) {
      const a = tempDir();
      const b = tempDir();
      const ra = await run(["pingall", SEED, "--json", "--pcap", a, ...form]);
      const rb = await run(["pingall", SEED, "--json", "--pcap", b, ...form]);
      const strip = (s: string) => s.replaceAll(a, "DIR").replaceAll(b, "DIR");
      expect(strip(ra.out)).toBe(strip(rb.out));
      const fa = readDir(a);
      const fb = readDir(b);
      expect([...fa.keys()]).toEqual([...fb.keys()]);
      expect(fa.size).toBeGreaterThan(0);
      for (const [name, bytes] of fa) expect(Buffer.compare(bytes, fb.get(name)!), name).toBe(0);
    }
    const ta = await run(["trace", SEED, "web1", "db2", "--json"]);
    const tb = await run(["trace", SEED, "web1", "db2", "--json"]);
    expect(ta.out).toBe(tb.out);
  });
});

describe("--pcap into a place that cannot hold a folder", () => {
  it("a path under /proc, or through a file, is one line and exit 2 (never a hang)", async () => {
    const { memoryIo } = await import("../../src/cli/io.ts");
    const { main } = await import("../../src/cli/main.ts");
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const dir = mkdtempSync("/tmp/vnet-pcap-");
    try {
      writeFileSync(`${dir}/afile`, "x");
      for (const [target, expected] of [
        ["/proc/vnet-nope", /^vnet: --pcap \/proc\/vnet-nope: ENOENT/],
        [`${dir}/afile`, /is a file, not a directory\n$/],
        [`${dir}/afile/sub`, /afile is a file, not a directory\n$/],
      ] as const) {
        const io = memoryIo();
        const seed = new URL("../../examples/seed-datacenter.yaml", import.meta.url).pathname;
        expect(await main(["trace", seed, "web1", "web3", "--pcap", target], io)).toBe(2);
        expect(io.stderr()).toMatch(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("decode of a fragmented ping", () => {
  it("does not judge the ICMP checksum of a first fragment (it covers the whole datagram)", async () => {
    const { loadNetwork } = await import("../../src/node.ts");
    const { captureRecords } = await import("../../src/wire/capture.ts");
    const { decodeFrame } = await import("../../src/wire/decode.ts");
    const net = await loadNetwork(new URL("../../examples/seed-datacenter.yaml", import.meta.url).pathname);
    net.startCaptures();
    expect(net.ping("web1", "web3", { count: 1, sizeBytes: 4000 }).received).toBe(1);
    const [file] = net.captures();
    let firstFragments = 0;
    for (const r of captureRecords(file.bytes)) {
      const layers = decodeFrame(r.data);
      const ip = layers.find((l) => l.layer === "ipv4") as { moreFragments?: boolean } | undefined;
      const icmp = layers.find((l) => l.layer === "icmp") as { checksumValid?: boolean } | undefined;
      if (ip?.moreFragments === true && icmp !== undefined) {
        firstFragments++;
        expect(icmp.checksumValid).toBeUndefined();
      }
      expect(layers.some((l) => l.layer === "error")).toBe(false);
    }
    expect(firstFragments).toBeGreaterThan(0);
  });
});

describe("port counters: the two ends of a cable agree", () => {
  // A short frame is padded to 60 bytes by the port that puts it on a cable; the sending port's
  // counters must count what went on the wire, as the receiving port's do (they once counted
  // 46 bytes sent against 60 received for every tagged ARP).
  const files = [
    SEED,
    fileURLToPath(new URL("../../examples/vxlan-fabric.yaml", import.meta.url)),
    fileURLToPath(new URL("../../examples/mlag.yaml", import.meta.url)),
  ];
  for (const file of files) {
    it(`every cable's tx bytes at one end are the rx bytes at the other (${file.split("/").pop()})`, async () => {
      const r = await run(["show", "--json", file, "ports"]);
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.out) as {
        device: string;
        port: string;
        peer: string | null;
        rxFrames: number;
        rxBytes: number;
        txFrames: number;
        txBytes: number;
      }[];
      // A port is named by its cable end: "tor1:eth1", or "server1:eth0" for a server's NIC.
      const endName = (row: (typeof rows)[number]) => `${row.device.split("/")[0]}:${row.port}`;
      const byEnd = new Map(rows.filter((x) => x.peer !== null).map((x) => [endName(x), x]));
      let cables = 0;
      for (const row of byEnd.values()) {
        const far = byEnd.get(row.peer as string);
        if (far === undefined || far.peer !== endName(row)) continue;
        cables++;
        expect(
          { end: endName(row), frames: row.txFrames, bytes: row.txBytes },
          `${endName(row)} -> ${far.peer}`,
        ).toEqual({ end: endName(row), frames: far.rxFrames, bytes: far.rxBytes });
      }
      expect(cables).toBeGreaterThan(3);
    });
  }
});

describe("a router's loopback", () => {
  it("announces nothing, so no router counts a loopback-output drop (every router once did, at start)", async () => {
    const file = fileURLToPath(new URL("../../examples/vxlan-fabric.yaml", import.meta.url));
    const r = await run(["show", "--json", file, "counters"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { device: string; reason: string }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((x) => x.reason === "loopback-output")).toEqual([]);
  });
});
