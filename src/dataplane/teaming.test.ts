/**
 * vSphere's teaming policies over a bundle of uplinks: how each spreads VMs and frames, which
 * uplink takes a flood, failover to standby uplinks in order, and failback on and off.
 */

import { describe, expect, it } from "vitest";
import { Bundle } from "./bundle.ts";
import { ipHash, Teaming } from "./teaming.ts";
import { ethFrame, mac } from "./testing.ts";

const vm = (ordinal: number, m: string) => ({ ordinal, honoredMac: mac(m) });
const V0 = vm(0, "02:00:00:00:00:10");
const V1 = vm(1, "02:00:00:00:00:11");
const V2 = vm(2, "02:00:00:00:00:12");

function ipv4(srcLast: number, dstLast: number) {
  const p = new Uint8Array(46);
  p[0] = 0x45;
  p[15] = srcLast;
  p[19] = dstLast;
  return ethFrame({ dst: "02:00:00:00:00:99", src: V0.honoredMac, payload: p });
}

describe("teaming policies", () => {
  it("originating-port: VM port k on usable uplink k mod n; floods only from its own uplink", () => {
    const t = new Teaming(new Bundle("u", [0, 1]), { policy: "originating-port" });
    expect([V0, V1, V2].map((v) => t.selectUplink(v, null))).toEqual([0, 1, 0]);
    expect(t.acceptsFlood(1, V1)).toBe(true);
    expect(t.acceptsFlood(0, V1)).toBe(false);
  });

  it("source-mac: the MAC's last byte mod n, whatever the port order", () => {
    const t = new Teaming(new Bundle("u", [0, 1, 2]), { policy: "source-mac" });
    expect([V0, V1, V2].map((v) => t.selectUplink(v, null))).toEqual([0x10 % 3, 0x11 % 3, 0x12 % 3]);
    expect(t.describe("uplink:eth1", "vm1")).toBe(`source-mac hash 0x12 -> uplink:eth1`);
  });

  it("ip-hash: XOR of the addresses' last bytes per frame; floods taken from any usable uplink", () => {
    const b = new Bundle("u", [0, 1]);
    const t = new Teaming(b, { policy: "ip-hash" });
    expect(t.selectUplink(V0, ipv4(1, 2))).toBe((1 ^ 2) % 2);
    expect(t.selectUplink(V0, ipv4(1, 3))).toBe((1 ^ 3) % 2);
    const f = ipv4(7, 9);
    expect(ipHash(f.buf, f.start, f.length)).toBe(7 ^ 9);
    expect(t.acceptsFlood(0, V0) && t.acceptsFlood(1, V0)).toBe(true);
    b.setMemberUp(1, false);
    expect(t.acceptsFlood(1, V0)).toBe(false);
    expect(t.selectUplink(V0, ipv4(1, 2))).toBe(0);
  });

  it("explicit-failover: first active; standbys take over in order; failback returns", () => {
    const b = new Bundle("u", [0, 1, 2]);
    const t = new Teaming(b, { policy: "explicit-failover", active: [1], standby: [2, 0] });
    expect(t.selectUplink(V0, null)).toBe(1);
    b.setMemberUp(1, false);
    expect(t.selectUplink(V0, null)).toBe(2);
    b.setMemberUp(2, false);
    expect(t.selectUplink(V0, null)).toBe(0);
    b.setMemberUp(2, true);
    b.setMemberUp(1, true);
    expect(t.selectUplink(V0, null)).toBe(1);
  });

  it("failback off: a recovered active uplink waits until the standby that replaced it fails", () => {
    const b = new Bundle("u", [0, 1]);
    const t = new Teaming(b, { policy: "explicit-failover", active: [0], standby: [1], failback: false });
    expect(t.selectUplink(V0, null)).toBe(0);
    b.setMemberUp(0, false);
    expect(t.selectUplink(V0, null)).toBe(1);
    b.setMemberUp(0, true);
    expect(t.selectUplink(V0, null)).toBe(1);
    b.setMemberUp(1, false);
    expect(t.selectUplink(V0, null)).toBe(0);
  });

  it("an uplink in neither list is never used; none usable gives -1", () => {
    const b = new Bundle("u", [0, 1]);
    const t = new Teaming(b, { policy: "originating-port", active: [0], standby: [] });
    expect([V0, V1].map((v) => t.selectUplink(v, null))).toEqual([0, 0]);
    b.setMemberUp(0, false);
    expect(t.selectUplink(V0, null)).toBe(-1);
    expect(t.usableUplinks()).toEqual([]);
  });

  it("with active-standby, the hash policies spread over the active slots only", () => {
    const b = new Bundle("u", [0, 1, 2]);
    const t = new Teaming(b, { policy: "originating-port", active: [0, 1], standby: [2] });
    expect([V0, V1, V2].map((v) => t.selectUplink(v, null))).toEqual([0, 1, 0]);
    b.setMemberUp(0, false);
    expect([V0, V1, V2].map((v) => t.selectUplink(v, null))).toEqual([2, 1, 2]);
  });
});
