/**
 * The `faults:` key (`vnet run`'s schedule): times in every accepted form become nanoseconds,
 * cables are found by either end, devices by name with their kind, and the file's order is
 * kept. The refusals (bad time, unknown port or device, two actions) are in the broken corpus
 * (`test/topologies/broken/fault-*.yaml`).
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadTopologyText } from "./load-text.ts";
import { parseTime } from "./units.ts";

const FAILOVER = readFileSync(
  fileURLToPath(new URL("../../test/scenarios/topologies/failover.yaml", import.meta.url)),
  "utf8",
);

describe("parseTime", () => {
  it("takes units and plain seconds", () => {
    expect(parseTime("2s", 1e12)).toEqual({ ok: true, value: 2e9 });
    expect(parseTime("150ms", 1e12)).toEqual({ ok: true, value: 150e6 });
    expect(parseTime("10us", 1e12)).toEqual({ ok: true, value: 10e3 });
    expect(parseTime("500ns", 1e12)).toEqual({ ok: true, value: 500 });
    expect(parseTime(1.5, 1e12)).toEqual({ ok: true, value: 1.5e9 });
    expect(parseTime(0, 1e12)).toEqual({ ok: true, value: 0 });
  });
  it("refuses what is not a time, before 0 or too late", () => {
    expect(parseTime("2 sec", 1e12)).toMatchObject({ ok: false });
    expect(parseTime(-1, 1e12)).toEqual({
      ok: false,
      message: "-1 is before the start of the run: a time is 0 or later",
    });
    expect(parseTime("2h", 1e12)).toMatchObject({ ok: false });
    expect(parseTime("20s", 10e9)).toEqual({ ok: false, message: "20s is too late: at most 10 s" });
  });
});

describe("faults in a topology", () => {
  it("are normalized in file order: cables by either end, devices with their kind", () => {
    const text = `${FAILOVER}faults:
  - { at: 2s, down: "server1:eth0" }
  - { at: 4, up: "tor1:eth1" }
  - { at: 3s, fail: tor1 }
  - { at: 150ms, fail: web2 }
  - { at: 6s, recover: server2 }
`;
    const { topology } = loadTopologyText(text, "f.yaml");
    expect(topology.faults).toEqual([
      { atNs: 2e9, action: "down", end: { node: "server1", port: "eth0" }, link: 0 },
      { atNs: 4e9, action: "up", end: { node: "tor1", port: "eth1" }, link: 0 },
      { atNs: 3e9, action: "fail", device: "tor1", deviceKind: "switch" },
      { atNs: 150e6, action: "fail", device: "web2", deviceKind: "vm" },
      { atNs: 6e9, action: "recover", device: "server2", deviceKind: "server" },
    ]);
  });
  it("are absent when the file has none", () => {
    expect(loadTopologyText(FAILOVER, "f.yaml").topology.faults).toBeUndefined();
  });
  it("an up of a cable never pulled is fine", () => {
    const { topology } = loadTopologyText(
      `${FAILOVER}faults:\n  - { at: 1s, up: "server2:eth0" }\n`,
      "f.yaml",
    );
    expect(topology.faults).toHaveLength(1);
  });
});
