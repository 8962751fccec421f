/**
 * `vnet ui FILE [--port N] [--host H] [--no-open]`: serves the web page on 127.0.0.1 and prints
 * its URL. The page runs the engine itself (`Network.fromText` in the browser); this server only
 * hands out three things: the page (`src/ui/html.ts`), the script (`src/ui/app.tsx` bundled by
 * esbuild into memory when the command starts) and the topology file's text (read again on each
 * request, so a reload shows an edited file). Nothing is fetched from anywhere else, and the
 * Content Security Policy forbids the page to try. Requests naming another host are refused, so
 * a web site cannot reach the server through DNS rebinding.
 */

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { abortOnSignals } from "../real/signals.ts";
import { pageHtml } from "../ui/html.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";

/** The page's script entry; the same relative place from `src/cli/` and from `dist/cli/`. */
const ENTRY = fileURLToPath(new URL("../../src/ui/app.tsx", import.meta.url));

export interface UiBundle {
  js: Uint8Array;
  ms: number;
}

let cached: Promise<UiBundle> | null = null;

/**
 * The page's script: `src/ui/app.tsx` and what it imports (the browser-safe engine, preact,
 * cytoscape) as one minified ES module, built in memory with esbuild (tsx's own dependency, so
 * present wherever vnet runs). Built once per process.
 */
export function bundleUi(): Promise<UiBundle> {
  cached ??= (async () => {
    const t0 = performance.now();
    let esbuild: typeof import("esbuild");
    try {
      esbuild = await import("esbuild");
    } catch {
      throw new UserError("vnet ui needs esbuild to build its page (it comes with tsx: run npm ci)");
    }
    const out = await esbuild.build({
      entryPoints: [ENTRY],
      bundle: true,
      write: false,
      platform: "browser",
      format: "esm",
      target: "es2022",
      minify: true,
      jsx: "automatic",
      jsxImportSource: "preact",
      legalComments: "none",
      logLevel: "silent",
    });
    return { js: out.outputFiles[0].contents, ms: performance.now() - t0 };
  })();
  cached.catch(() => {
    cached = null;
  });
  return cached;
}

export interface UiServerOptions {
  file: string;
  port?: number;
  host?: string;
}

export interface UiServer {
  url: string;
  port: number;
  bundleMs: number;
  close(): Promise<void>;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function readTopology(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(
      `${file}: ${e instanceof Error ? e.message : String(e)}`,
      ExitCode.usage,
      "unreadable-file",
    );
  }
}

/** Starts the server (the command, and the browser tests, call this). */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const { file } = options;
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  readTopology(file);
  const bundle = await bundleUi();
  const name = basename(file);
  const page = pageHtml(name);

  let allowedHosts = new Set<string>();
  const isLoopback = ["127.0.0.1", "localhost", "::1"].includes(host);
  // By name only our own; from other machines (a non-loopback --host) any address literal.
  const isAllowedHost = (h: string) =>
    allowedHosts.has(h) ||
    (!isLoopback && new RegExp(`^(\\d+\\.\\d+\\.\\d+\\.\\d+|\\[[0-9a-f:.]+\\]):${actualPort}$`).test(h));
  let actualPort = port;
  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array) => {
    res.writeHead(status, {
      "content-type": type,
      "cache-control": "no-store",
      "content-security-policy": CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
    res.end(body);
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!isAllowedHost((req.headers.host ?? "").toLowerCase())) {
      send(res, 403, "text/plain; charset=utf-8", "vnet ui: this server answers only to its own address\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "text/plain; charset=utf-8", "GET only\n");
      return;
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/" || path === "/index.html") send(res, 200, "text/html; charset=utf-8", page);
    else if (path === "/app.js") send(res, 200, "text/javascript; charset=utf-8", bundle.js);
    else if (path === "/topology.json") {
      let text: string;
      try {
        text = readTopology(file);
      } catch (e) {
        send(res, 404, "text/plain; charset=utf-8", `${e instanceof Error ? e.message : String(e)}\n`);
        return;
      }
      send(res, 200, "application/json; charset=utf-8", JSON.stringify({ name, text }));
    } else send(res, 404, "text/plain; charset=utf-8", "not found\n");
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE")
        reject(new UserError(`--port ${port}: already in use (leave --port out for a free one)`));
      else if (e.code === "EACCES")
        reject(new UserError(`--port ${port}: not allowed (ports below 1024 need root)`));
      else if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND")
        reject(new UserError(`--host ${host}: not an address of this machine`));
      else reject(new UserError(`cannot listen on ${host}:${port}: ${e.message}`));
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actual = typeof address === "object" && address !== null ? address.port : port;
  actualPort = actual;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  allowedHosts = new Set([
    `${urlHost}:${actual}`,
    `localhost:${actual}`,
    `127.0.0.1:${actual}`,
    `[::1]:${actual}`,
  ]);
  return {
    url: `http://${urlHost}:${actual}/`,
    port: actual,
    bundleMs: bundle.ms,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Opens the URL in the desktop's browser; says nothing when there is none (a server, CI). */
function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(cmd, args, { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
  } catch {
    // No opener: the URL is printed anyway.
  }
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new UserError(`--port: "${text}" is not a port (0-65535)`);
  return n;
}

export function register(program: Command, io: Io): void {
  program
    .command("ui")
    .description("open the topology in a web page: the engine runs in the browser; trace and watch each hop")
    .argument("<file>", "topology file (YAML)")
    .option("--port <n>", "port to listen on (default: a free one)")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--no-open", "do not open a browser, only print the URL")
    .option("--json", 'print { "url": ... } as JSON once listening')
    .addHelpText(
      "after",
      "\nExamples:\n  vnet ui examples/seed-datacenter.yaml\n  vnet ui examples/seed-datacenter.yaml --port 8080 --no-open\n\nThe page needs nothing from the internet: the engine, preact and cytoscape are bundled\ninto it when the command starts. Stop with Ctrl-C.",
    )
    .action(async (file: string, opts: { port?: string; host: string; open: boolean; json?: boolean }) => {
      const port = opts.port === undefined ? 0 : parsePort(opts.port);
      const server = await startUiServer({ file, port, host: opts.host });
      if (opts.json === true) io.out(`${JSON.stringify({ url: server.url })}\n`);
      else io.out(`vnet ui: ${file} at ${server.url} (Ctrl-C to stop)\n`);
      if (!["127.0.0.1", "localhost", "::1"].includes(opts.host))
        io.err(`vnet ui: listening on ${opts.host}: other machines can open the page\n`);
      if (opts.open) openBrowser(server.url);
      const scope = abortOnSignals();
      try {
        await new Promise<void>((resolve) =>
          scope.signal.addEventListener("abort", () => resolve(), { once: true }),
        );
      } finally {
        scope.dispose();
        await server.close();
      }
    });
}
