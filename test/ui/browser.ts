/**
 * Debian's chromium under playwright-core, for the browser tests of `vnet ui` and the UI
 * benchmark: a fresh profile each time, no sandbox (CI runs as root), nothing that phones home,
 * and every request that is not to loopback refused and recorded, so a page that works here
 * works offline. Never downloads a browser: without /usr/bin/chromium the callers skip.
 */

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions of the page. */
  errors: string[];
  /** Requests refused because they were not to loopback. */
  blocked: string[];
  close(): Promise<void>;
}

const isLoopback = (url: string) => {
  const u = new URL(url);
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  return ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
};

export async function openBrowser(viewport = { width: 1400, height: 860 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "vnet-ui-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    offline: false,
  });
  const errors: string[] = [];
  const blocked: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    blocked.push(url);
    return route.abort("internetdisconnected");
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return {
    context,
    page,
    errors,
    blocked,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the page has drawn the topology once. */
export async function waitForPicture(page: Page, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    () =>
      (window as unknown as { vnetUi?: { timings: { firstPictureMs: number | null } } }).vnetUi?.timings
        .firstPictureMs != null,
    null,
    { timeout: timeoutMs },
  );
}
