/**
 * `vnet ui` in a real browser (Debian's chromium, driven by playwright-core): the page loads the
 * seed data center with the engine running in the browser, traces web1 -> db1, and is stepped
 * hop by hop: the side panel and the highlighted element must match `vnet trace --json` at every
 * hop. Then a cable is pulled and the re-trace must match the engine's own answer; a broken file
 * dropped on the page shows its errors at line and column; on the teaming example, pulling the
 * cable the echo used moves the path to the other uplink. Every request that is not to loopback
 * is refused (the page must work offline), and the page must log no console error. Screenshots
 * go to test/ui/artifacts/ (git-ignored). Skips with one line when /usr/bin/chromium is absent.
 */

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TraceHop, TraceResult } from "../../src/browser.ts";
import { Network } from "../../src/browser.ts";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { startUiServer, type UiServer } from "../../src/cli/ui.ts";
import { type Browser, hasChromium, openBrowser, waitForPicture } from "./browser.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SEED = join(ROOT, "examples/seed-datacenter.yaml");
const ARTIFACTS = join(ROOT, "test/ui/artifacts");

if (!hasChromium)
  console.log("test/ui: /usr/bin/chromium not found (apt-get install chromium); browser tests skipped");

async function cliTrace(file: string, from: string, to: string): Promise<TraceResult> {
  const io = memoryIo();
  await main(["trace", "--json", file, from, to], io);
  return JSON.parse(io.stdout()) as TraceResult;
}

const linkName = (device: string) => {
  const [a, b] = device.split("<->");
  return a < b ? `${a}<->${b}` : `${b}<->${a}`;
};

interface PanelNow {
  position: string;
  device: string;
  action: string;
  reason: string;
  frame: string;
  /** The trace names of the elements marked current on the picture. */
  current: string[];
  layers: number;
}

/** Steps forward (or reads the panel as it is) and returns what the panel and picture show. */
async function step(page: Page, click: "step-forward" | "step-back" | null): Promise<PanelNow> {
  return (await steps(page, click, 1))[0];
}

/**
 * Clicks `click` `count` times in the page (one round trip: stepping a long trace through the
 * driver one click at a time is slow), reading the panel and the picture after each click.
 */
async function steps(
  page: Page,
  click: "step-forward" | "step-back" | null,
  count: number,
): Promise<PanelNow[]> {
  return page.evaluate(
    async ([which, n]) => {
      const out: PanelNow[] = [];
      for (let k = 0; k < n; k++) out.push(await once(which));
      return out;
      type PanelNow = {
        position: string;
        device: string;
        action: string;
        reason: string;
        frame: string;
        current: string[];
        layers: number;
      };
      async function once(which: string | null): Promise<PanelNow> {
        const q = (id: string) => document.querySelector(`[data-testid=${id}]`)?.textContent ?? "";
        const before = q("position");
        if (which !== null) {
          (document.querySelector(`[data-testid=${which}]`) as HTMLButtonElement).click();
          for (let i = 0; i < 400 && q("position") === before; i++)
            await new Promise((r) => setTimeout(r, 0));
        }
        type El = { data: (k: string) => unknown };
        const cy = (
          window as unknown as {
            vnetUi: { cy: { $: (s: string) => { forEach: (f: (e: El) => void) => void } } };
          }
        ).vnetUi.cy;
        const names = (sel: string) => {
          const out: string[] = [];
          cy.$(sel).forEach((e) => {
            out.push(...(e.data("traceNames") as string[]));
          });
          return out;
        };
        return {
          position: q("position"),
          device: q("hop-device"),
          action: q("hop-action"),
          reason: q("hop-reason"),
          frame: q("hop-frame"),
          current: names(".current"),
          layers: document.querySelectorAll("[data-testid=layer]").length,
        };
      }
    },
    [click, count] as const,
  );
}

/** The picture's current element answers to the hop's device or link. */
function expectCurrent(now: PanelNow, hop: TraceHop, i: number) {
  const names = new Set(now.current);
  if (hop.device.includes("<->")) {
    const [a, b] = hop.device.split("<->");
    const isShown = names.has(linkName(hop.device)) || names.has(`vnic:${a}`) || names.has(`vnic:${b}`);
    expect(isShown, `hop ${i + 1} ${hop.device}: current is ${[...names].join(", ")}`).toBe(true);
  } else {
    expect(names.has(hop.device), `hop ${i + 1} ${hop.device}: current is ${[...names].join(", ")}`).toBe(
      true,
    );
  }
}

/** The trace names of the picture's elements that `selector` matches (cytoscape's selector). */
function traceNamesOf(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => {
    type El = { data: (k: string) => unknown };
    const cy = (
      window as unknown as { vnetUi: { cy: { $: (s: string) => { forEach: (f: (e: El) => void) => void } } } }
    ).vnetUi.cy;
    const out: string[] = [];
    cy.$(sel).forEach((e) => {
      out.push(...(e.data("traceNames") as string[]));
    });
    return out;
  }, selector);
}

async function traceOnPage(page: Page, from: string, to: string): Promise<void> {
  await page.fill("[data-testid=from]", from);
  await page.fill("[data-testid=to]", to);
  await page.click("[data-testid=trace]");
  await page.waitForSelector("[data-testid=verdict]");
}

/** The rows of the hop list: "N. device action". */
async function hopRows(page: Page): Promise<string[]> {
  return page.$$eval("[data-testid=hop-list] .hoprow", (rows) =>
    rows.map((r) => (r.textContent ?? "").replace(/^●\s*/, "").trim()),
  );
}

async function dropFile(page: Page, name: string, text: string): Promise<void> {
  await page.evaluate(
    ([n, t]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([t], n, { type: "text/yaml" }));
      window.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, cancelable: true }));
      window.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, cancelable: true }));
    },
    [name, text],
  );
}

describe.skipIf(!hasChromium)("vnet ui in chromium", () => {
  let server: UiServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startUiServer({ file: SEED });
    browser = await openBrowser();
    page = browser.page;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("draws the seed data center, and a trace matches vnet trace --json hop by hop", async () => {
    await page.goto(server.url);
    await waitForPicture(page);
    await page.screenshot({ path: join(ARTIFACTS, "seed.png") });
    const expected = await cliTrace(SEED, "web1", "db1");
    await traceOnPage(page, "web1", "db1");
    expect(await page.textContent("[data-testid=verdict-text]")).toBe(expected.verdict);
    // Every hop is a step (the seed's trace is short enough to show ARP and flooding too).
    expect(await page.textContent("[data-testid=position]")).toBe(`hop 1 of ${expected.hops.length}`);
    const seen: PanelNow[] = [
      await step(page, null),
      ...(await steps(page, "step-forward", expected.hops.length - 1)),
    ];
    expected.hops.forEach((hop, i) => {
      const now = seen[i];
      expect(now.position, `hop ${i + 1}`).toBe(`hop ${i + 1} of ${expected.hops.length}`);
      expect(now.device).toBe(hop.device);
      expect(now.action).toBe(hop.action);
      expect(now.reason).toBe(hop.reason);
      expect(now.frame).toBe(hop.frame);
      expectCurrent(now, hop, i);
      // Every hop shows its frame's layers (a decision shows the frame it was about).
      expect(now.layers, `hop ${i + 1} layers`).toBeGreaterThanOrEqual(2);
    });
    await page.screenshot({ path: join(ARTIFACTS, "seed-trace-end.png") });
    // Step back twice and the panel follows.
    await step(page, "step-back");
    const back = await step(page, "step-back");
    const h = expected.hops[expected.hops.length - 3];
    expect([back.device, back.action, back.reason]).toEqual([h.device, h.action, h.reason]);
    // The echo request crossing tor1's trunk: its layers, VLAN 10 tag included, and its bytes.
    const onTrunk = expected.hops.findIndex(
      (x) => x.device === "server1:eth0<->tor1:eth1" && x.frame.startsWith("ICMP echo request"),
    );
    await page.click(`[data-testid=hop-list] .hoprow >> nth=${onTrunk}`);
    const layers = await page.$$eval("[data-testid=layer] summary", (s) => s.map((x) => x.textContent ?? ""));
    expect(layers.map((l) => l.split(" ")[0]).slice(0, 4)).toEqual(["Ethernet", "802.1Q", "IPv4", "ICMP"]);
    expect(layers[1]).toContain("vlan 10");
    expect(await page.textContent("[data-testid=hex]")).toMatch(/^0000/);
    await page.screenshot({ path: join(ARTIFACTS, "seed-trace-trunk.png") });
    expect(browser.errors).toEqual([]);
    expect(browser.blocked).toEqual([]);
  });

  it("pulls a cable: the re-trace is the engine's, drawn in red; plugging it back restores it", async () => {
    await page.goto(server.url);
    await waitForPicture(page);
    await traceOnPage(page, "web1", "db1");
    await page.click("[data-testid=inspect-tab]");
    const cable = "server1:eth0<->tor1:eth1";
    await page.click(`[data-testid="cable-${cable}"]`);
    await page.waitForFunction(() =>
      document.querySelector("[data-testid=verdict]")?.classList.contains("bad"),
    );
    // The same as the engine's own answer after the same steps.
    const net = Network.fromText(readFileSync(SEED, "utf8"), "seed-datacenter.yaml");
    net.trace("web1", "db1");
    net.setLinkUp(cable, false);
    const after = net.trace("web1", "db1");
    expect(after.delivered).toBe(false);
    expect(await page.textContent("[data-testid=verdict-text]")).toBe(after.verdict);
    expect(await hopRows(page)).toEqual(after.hops.map((h, i) => `${i + 1}. ${h.device} ${h.action}`));
    expect(await traceNamesOf(page, "edge.down")).toContain(cable);
    await page.selectOption("[data-testid=speed]", "4");
    await page.click("[data-testid=play]");
    await page.waitForFunction(
      () => !(document.querySelector("[data-testid=play]")?.textContent ?? "").includes("Pause"),
      null,
      {
        timeout: 20_000,
      },
    );
    await page.screenshot({ path: join(ARTIFACTS, "seed-cable-pulled.png") });
    await page.click("[data-testid=inspect-tab]");
    await page.click(`[data-testid="cable-${cable}"]`);
    await page.waitForFunction(() =>
      document.querySelector("[data-testid=verdict]")?.classList.contains("ok"),
    );
    expect(browser.errors).toEqual([]);
    expect(browser.blocked).toEqual([]);
  });

  it("a dropped broken file shows its errors at line and column", async () => {
    await page.goto(server.url);
    await waitForPicture(page);
    const broken =
      "name: broken\nservers:\n  s1:\n    nics: [eth0]\n    vms:\n      vm1:\n        nics:\n          - { portGroup: nowhere, ip: 10.0.0.1/24 }\n";
    await dropFile(page, "broken.yaml", broken);
    await page.waitForSelector("[data-testid=problem]");
    let expected = "";
    try {
      Network.fromText(broken, "broken.yaml");
    } catch (e) {
      expected = (e as Error).message.split("\n")[0];
    }
    expect(expected).toMatch(/^broken\.yaml:\d+:\d+: /);
    const first = await page.textContent("[data-testid=diagnostic] code");
    expect(first).toBe(expected);
    await page.screenshot({ path: join(ARTIFACTS, "dropped-broken-file.png") });
    expect(browser.errors).toEqual([]);
  });

  it("teaming: pulling the uplink the echo used moves the path to the other one", async () => {
    await page.goto(server.url);
    await waitForPicture(page);
    const text = readFileSync(join(ROOT, "examples/teaming.yaml"), "utf8");
    await dropFile(page, "teaming.yaml", text);
    await page.waitForFunction(() => document.querySelector("h1")?.textContent === "teaming.yaml");
    await traceOnPage(page, "web1", "app2");
    const pathCables = () => traceNamesOf(page, "edge.path.cable");
    const before = await pathCables();
    expect(before).toContain("esx1:eth0<->tor1:eth1");
    await page.click("[data-testid=inspect-tab]");
    await page.click('[data-testid="cable-esx1:eth0<->tor1:eth1"]');
    await page.waitForFunction(() =>
      (document.querySelector("[data-testid=trace-note]")?.textContent ?? "").includes("re-traced"),
    );
    const after = await pathCables();
    expect(after).not.toContain("esx1:eth0<->tor1:eth1");
    expect(after).toContain("esx1:eth1<->tor1:eth2");
    expect(await page.getAttribute("[data-testid=verdict]", "class")).toContain("ok");
    await page.screenshot({ path: join(ARTIFACTS, "teaming-failover.png") });
    // The MAC table of the vswitch, as vnet show prints it.
    await page.evaluate(() =>
      (window as unknown as { vnetUi: { select: (id: string) => void } }).vnetUi.select("vs:esx1/vs0"),
    );
    await page.click("[data-testid=show-fdb]");
    const rows = await page.$$eval("[data-testid=table] tbody tr", (r) => r.length);
    expect(rows).toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, "teaming-mac-table.png") });
    expect(browser.errors).toEqual([]);
    expect(browser.blocked).toEqual([]);
  });

  it("measures the first picture and the animation's frame rate (reported, not asserted)", async () => {
    await page.goto(server.url);
    await waitForPicture(page);
    const firstPictureMs = await page.evaluate(
      () =>
        (window as unknown as { vnetUi: { timings: { firstPictureMs: number } } }).vnetUi.timings
          .firstPictureMs,
    );
    await traceOnPage(page, "web1", "db1");
    const fps = await page.evaluate(async () => {
      const ui = (window as unknown as { vnetUi: { timings: { frames: number } } }).vnetUi;
      const start = ui.timings.frames;
      (document.querySelector("[data-testid=play]") as HTMLButtonElement).click();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      const frames = ui.timings.frames - start;
      (document.querySelector("[data-testid=play]") as HTMLButtonElement).click();
      return frames / ((performance.now() - t0) / 1000);
    });
    const report = { firstPictureMs: Math.round(firstPictureMs), framesPerSecond: Math.round(fps) };
    writeFileSync(join(ARTIFACTS, "measurements.json"), `${JSON.stringify(report, null, 2)}\n`);
    console.log(
      `test/ui: seed first picture ${report.firstPictureMs} ms after navigation, ${report.framesPerSecond} frames/s while playing`,
    );
    expect(fps).toBeGreaterThan(0);
  });
});
