/**
 * The web page of `vnet ui`, measured in Debian's chromium (headless, software rendering): the
 * time to the first picture of the seed data center after navigation, the generated 16,000-VM
 * data center loaded and built in the browser and traced end to end (its first VM to its last), and the
 * animation's frame rate while a trace plays on the seed. Figures in BENCHMARKS.md; nothing is
 * asserted. Skips with one line when /usr/bin/chromium is absent.
 *
 *   npm run bench -- ui
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { startUiServer } from "../src/cli/ui.ts";
import { generateDatacenter } from "../src/model/generate.ts";
import { hasChromium, openBrowser, waitForPicture } from "../test/ui/browser.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SEED = join(ROOT, "examples/seed-datacenter.yaml");

interface PageTimings {
  firstPictureMs: number;
  loadMs: number;
  traceMs: number | null;
  frames: number;
}
const timingsOf = (page: Page) =>
  page.evaluate(() => (window as unknown as { vnetUi: { timings: PageTimings } }).vnetUi.timings);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function trace(page: Page, from: string, to: string): Promise<number> {
  await page.fill("[data-testid=from]", from);
  await page.fill("[data-testid=to]", to);
  const t0 = Date.now();
  await page.click("[data-testid=trace]");
  await page.waitForSelector("[data-testid=verdict]", { timeout: 120_000 });
  await page.waitForFunction(() => document.querySelector("[data-testid=hop]") !== null);
  return Date.now() - t0;
}

async function run(): Promise<void> {
  if (!hasChromium) {
    process.stdout.write("ui: /usr/bin/chromium not found (apt-get install chromium); skipped\n");
    return;
  }
  const work = mkdtempSync(join(tmpdir(), "vnet-ui-bench-"));
  const dc = join(work, "datacenter-16000.yaml");
  const text = generateDatacenter();
  writeFileSync(dc, text);
  const vmNames = [...text.matchAll(/^ {6}(vm-[a-z0-9-]+):/gm)].map((m) => m[1]);
  const [firstVm, lastVm] = [vmNames[0], vmNames[vmNames.length - 1]];
  const seedServer = await startUiServer({ file: SEED });
  const dcServer = await startUiServer({ file: dc });
  const browser = await openBrowser();
  const { page } = browser;
  try {
    process.stdout.write(`bundle built by esbuild at start-up: ${seedServer.bundleMs.toFixed(0)} ms\n`);

    // 1. Seed: first picture after navigation (a fresh page each time; the first warms the cache).
    const firsts: number[] = [];
    for (let i = 0; i < 4; i++) {
      await page.goto(seedServer.url);
      await waitForPicture(page);
      if (i > 0) firsts.push((await timingsOf(page)).firstPictureMs);
    }
    process.stdout.write(
      `seed data center: first picture ${median(firsts).toFixed(0)} ms after navigation (median of ${firsts.length}: ${firsts.map((x) => x.toFixed(0)).join(", ")})\n`,
    );

    // 2. Animation: frames per second while web1 -> db1 plays (all 95 hops, at 4x speed).
    await trace(page, "web1", "db1");
    await page.selectOption("[data-testid=speed]", "4");
    const fps = await page.evaluate(async () => {
      const ui = (window as unknown as { vnetUi: { timings: { frames: number } } }).vnetUi;
      const start = ui.timings.frames;
      (document.querySelector("[data-testid=play]") as HTMLButtonElement).click();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 5000));
      const frames = ui.timings.frames - start;
      const s = (performance.now() - t0) / 1000;
      (document.querySelector("[data-testid=play]") as HTMLButtonElement).click();
      return frames / s;
    });
    process.stdout.write(
      `seed data center: ${fps.toFixed(0)} frames/s while a trace plays (5 s, 4x speed)\n`,
    );

    // 3. The generated data center: 40 racks x 20 servers x 20 VMs.
    const t0 = Date.now();
    await page.goto(dcServer.url);
    await waitForPicture(page, 120_000);
    const wall = Date.now() - t0;
    const t = await timingsOf(page);
    const traceMs = await trace(page, firstVm, lastVm);
    const t2 = await timingsOf(page);
    const hops = await page.textContent("[data-testid=position]");
    await page.screenshot({ path: join(work, "dc.png") });
    process.stdout.write(
      `16,000-VM data center: built in the browser in ${t.loadMs.toFixed(0)} ms, first picture ${t.firstPictureMs.toFixed(0)} ms after navigation (${wall} ms wall); trace ${firstVm} -> ${lastVm} ${t2.traceMs?.toFixed(0)} ms in the engine, ${traceMs} ms to the drawn answer (${hops})\n`,
    );
  } finally {
    await browser.close();
    await seedServer.close();
    await dcServer.close();
    if (process.env.VNET_UI_BENCH_KEEP === undefined) rmSync(work, { recursive: true, force: true });
    else process.stdout.write(`kept ${work}\n`);
  }
}

await run();
