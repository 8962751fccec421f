/**
 * `vnet vpn export` against the real tools (root only; skipped with one line elsewhere): the
 * config it prints for a topology's gateway goes unchanged into `wg setconf` on wireguard-go, the
 * other gateway's config (with --wg-quick) into `vnet vpn ping`, and the two sites' tunnel
 * addresses ping each other through a handshake. The headquarters learns the branch's endpoint
 * from its first authenticated packet (the branch has none in the file: it is behind NAT).
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, RealLab, realWireguardSkipReason, sh } from "./wireguard-harness.ts";

const skipReason = realWireguardSkipReason();
if (skipReason) process.stderr.write(`vpn export interop test skipped: ${skipReason}\n`);

describe.skipIf(skipReason !== undefined)("vnet vpn export with wg setconf and wireguard-go", () => {
  const lab = skipReason ? undefined : new RealLab();
  afterAll(async () => {
    await lab?.cleanup();
  });

  it("the exported gateways complete a handshake and ping through the tunnel", async () => {
    const file = join(REPO, "examples", "vpn-sites.yaml");
    const exported = (gw: string, extra: string[] = []) => {
      const run = lab!.vnet(undefined, ["vpn", "export", file, gw, ...extra]);
      return run.exited.then((code) => {
        expect(code, run.stderr()).toBe(0);
        return run.stdout();
      });
    };
    const hq = await exported("hq-gw");
    const branch = await exported("branch-gw", ["--wg-quick"]);
    expect(hq).toMatch(/^# Address = 10\.99\.0\.1\/24$/m);
    expect(hq).not.toMatch(/^Address/m);
    expect(branch).toMatch(/^Endpoint = 198\.51\.100\.1:51820$/m);
    // The headquarters' public address is the one the file gives it; the branch is elsewhere.
    const { nsA, nsB } = lab!.pair({ a: "198.51.100.1", b: "198.51.100.2", prefixLen: 30 });
    const ifname = await lab!.wireguardGo(nsA, hq, "10.99.0.1/24");
    const conf = join(lab!.dir, "branch.conf");
    writeFileSync(conf, branch, { mode: 0o600 });
    const ping = lab!.vnet(nsB, ["vpn", "ping", "--config", conf, "10.99.0.1", "-c", "3", "-i", "0.2"]);
    expect(await ping.exited, `${ping.stdout()}${ping.stderr()}`).toBe(0);
    expect(ping.stdout()).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    const endpoints = sh("ip", ["netns", "exec", nsA, "wg", "show", ifname, "endpoints"]);
    expect(endpoints).toContain("198.51.100.2:51820");
    const showconf = sh("ip", ["netns", "exec", nsA, "wg", "showconf", ifname]);
    expect(showconf).toMatch(/AllowedIPs = 10\.99\.0\.2\/32, 10\.2\.0\.0\/16/);
  });
});
