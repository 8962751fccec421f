/**
 * `vnet ui`'s server (the browser tests in test/ui/ drive the page itself): the page, its
 * bundled script and the topology's text on loopback, nothing else; requests naming another host
 * refused (DNS rebinding); a policy that lets the page load nothing from elsewhere; and every
 * mistake of the user's a one-line error with exit 2.
 */

import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";
import { startUiServer, type UiServer } from "./ui.ts";

const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));

function get(
  url: string,
  host?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host === undefined ? {} : { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function run(...args: string[]) {
  const io = memoryIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("vnet ui", () => {
  let server: UiServer;
  beforeAll(async () => {
    server = await startUiServer({ file: SEED });
  });
  afterAll(() => server?.close());

  it("serves the page, its script and the topology on loopback, with a policy that forbids the rest", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(server.url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="/app.js">');
    expect(page.body).toContain("<title>seed-datacenter.yaml - vnet</title>");
    expect(String(page.headers["content-security-policy"])).toContain("default-src 'none'");
    expect(String(page.headers["content-security-policy"])).toContain("connect-src 'self'");
    const js = await get(`${server.url}app.js`);
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.body.length).toBeGreaterThan(100_000);
    const topo = JSON.parse((await get(`${server.url}topology.json`)).body) as { name: string; text: string };
    expect(topo.name).toBe("seed-datacenter.yaml");
    expect(topo.text).toContain("name: seed-datacenter");
    expect((await get(`${server.url}../../etc/passwd`)).status).toBe(404);
    expect((await get(`${server.url}src/cli/ui.ts`)).status).toBe(404);
  });

  it("refuses requests that name another host (DNS rebinding)", async () => {
    expect((await get(server.url, `evil.example:${server.port}`)).status).toBe(403);
    expect((await get(server.url, `localhost:${server.port}`)).status).toBe(200);
  });

  it("a user's mistake is one line and exit 2", async () => {
    const missing = await run("ui", "no-such-file.yaml", "--no-open");
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^vnet: no-such-file\.yaml: ENOENT[^\n]*\n$/);
    const port = await run("ui", SEED, "--port", "http", "--no-open");
    expect(port.code).toBe(2);
    expect(port.err).toBe('vnet: --port: "http" is not a port (0-65535)\n');
    const busy = await run("ui", SEED, "--port", String(server.port), "--no-open");
    expect(busy.code).toBe(2);
    expect(busy.err).toBe(`vnet: --port ${server.port}: already in use (leave --port out for a free one)\n`);
    await expect(startUiServer({ file: SEED, host: "192.0.2.1" })).rejects.toThrow(
      "--host 192.0.2.1: not an address of this machine",
    );
  });
});
