/**
 * wireguard-go as a remote site of a vnet VPN gateway (root). `examples/external-wireguard.yaml`
 * runs as a lab: headquarters (a VM behind hq-gw, vnet's WireGuard gateway) and an internet
 * router whose external port is the TAP `vnet-wgsite`. This test gives that TAP to a namespace,
 * starts wireguard-go there with the configuration `vnet vpn export` prints for the external
 * peer, unchanged, and pings across the tunnel both ways: the remote site's network to the hq VM
 * (a namespace with the kernel's stack) and back. Both sides report the handshake. Skips with one
 * line without root, the native addon, wireguard-go or wg.
 */

import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNative } from "../../src/real/native.ts";
import { eventually, ROOT, vnetCli } from "./lab-harness.ts";
import { RealLab, realWireguardSkipReason, sh } from "./wireguard-harness.ts";

const FILE = join(ROOT, "examples/external-wireguard.yaml");
const LAB = `wgx${process.pid % 100000}`;
const NS = `vnet-wgsite-${process.pid}`;
const cli = vnetCli();
const vnet = cli.run;
const stateDir = cli.dir;

const skipReason =
  realWireguardSkipReason() ?? (loadNative() === null ? "the native addon is not built" : undefined);

describe.skipIf(skipReason !== undefined)(
  "wireguard-go as a remote site of a vnet VPN",
  { timeout: 120_000 },
  () => {
    const wg = new RealLab();
    let ifname = "";

    beforeAll(async () => {
      const up = vnet("up", FILE, "--name", LAB, "--detach");
      expect(up.stderr).toBe("");
      expect(up.status).toBe(0);
      // The remote site's internet side: the internet router's external port.
      sh("ip", ["netns", "add", NS]);
      sh("ip", ["link", "set", "vnet-wgsite", "netns", NS]);
      const lines = [
        "link set lo up",
        "addr add 203.0.113.2/24 dev vnet-wgsite",
        "link set vnet-wgsite up",
        "route add default via 203.0.113.1",
        // The remote site's network, on the gateway itself.
        "addr add 10.2.0.1/24 dev lo",
      ];
      sh("ip", ["-n", NS, "-batch", "-"], `${lines.join("\n")}\n`);
      const exported = vnet("vpn", "export", FILE, "remote");
      expect(exported.status).toBe(0);
      // The configuration as vnet prints it, unchanged (wg setconf format; Address and MTU are
      // comments there, applied here as wg-quick would).
      ifname = await wg.wireguardGo(NS, exported.stdout, "10.99.0.2/24", { mtu: 1420 });
      sh("ip", ["-n", NS, "route", "add", "10.1.0.0/24", "dev", ifname]);
    });

    afterAll(async () => {
      await wg.cleanup();
      vnet("down", LAB);
      spawnSync("ip", ["netns", "del", NS]);
      rmSync(stateDir, { recursive: true, force: true });
    });

    it("the remote site reaches the hq VM through the tunnel, and the VM reaches it back", async () => {
      const ping = (args: string[]) => spawnSync("ip", ["netns", "exec", ...args]).status === 0;
      expect(
        await eventually(
          () => ping([NS, "ping", "-n", "-c", "1", "-W", "1", "-I", "10.2.0.1", "10.1.0.11"]),
          15_000,
        ),
      ).toBe(true);
      expect(ping([NS, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", "-I", "10.2.0.1", "10.1.0.11"])).toBe(
        true,
      );
      const back = vnet(
        "exec",
        LAB,
        "hq1",
        "--",
        "ping",
        "-n",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "1",
        "10.2.0.1",
      );
      expect(back.status).toBe(0);
    });

    it("both sides report the handshake: wg show and vnet status LAB vpn", () => {
      const handshakes = sh("ip", ["netns", "exec", NS, "wg", "show", ifname, "latest-handshakes"]);
      const epoch = Number(handshakes.trim().split(/\s+/)[1]);
      expect(epoch).toBeGreaterThan(0);
      const rows = JSON.parse(vnet("status", LAB, "vpn", "--json").stdout) as {
        device: string;
        peer: string;
        endpoint: string;
        latestHandshake: string;
        rxBytes: number;
      }[];
      const hq = rows.find((r) => r.device === "hq-gw" && r.peer === "remote");
      expect(hq).toBeDefined();
      expect(hq?.latestHandshake).not.toBe("-");
      // The endpoint was learned from wireguard-go's first authenticated packet (roaming).
      expect(hq?.endpoint).toBe("203.0.113.2:51820");
      expect(hq?.rxBytes).toBeGreaterThan(0);
    });
  },
);

if (skipReason !== undefined) process.stderr.write(`wireguard-go remote site: skipped (${skipReason})\n`);
