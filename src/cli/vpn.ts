/**
 * `vnet vpn ...`: the WireGuard side of vnet on the command line. Thin: parse arguments, call
 * `src/vpn/` (keys, configuration) and `src/real/` (the UDP endpoint, the ICMP host), print.
 *
 *   vnet vpn genkey                         a private key, as `wg genkey`
 *   vnet vpn pubkey < private.key           its public key, as `wg pubkey`
 *   vnet vpn check --config wg0.conf        read and check a configuration file
 *   vnet vpn ping --config F TARGET         ping through the tunnel (no root, no tun device)
 *   vnet vpn listen --config F              keep an endpoint up that answers pings
 *
 * Exit status: 0 ok (ping: some reply), 1 the network said no (ping: no reply), 2 a usage, file
 * or configuration error. Private and preshared keys never appear in output or errors.
 */

import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { Option } from "commander";
import { loadTopologyFile } from "../model/load.ts";
import type { Topology } from "../model/types.ts";
import { planVpnGateways } from "../model/vpn-plan.ts";
import { abortOnSignals } from "../real/signals.ts";
import { formatCidr, parseCidr } from "../vpn/allowed-ips.ts";
import { ConfigError, formatEndpoint, formatWgConfig, parseWgConfig, type WgConfig } from "../vpn/config.ts";
import { generatePrivateKey, KeyError, keyFromBase64, keyToBase64, publicKeyOf } from "../vpn/keys.ts";
import { formatIpv4, tryParseIpv4, tryParseIpv6 } from "../wire/addr.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { isNodeFsError, parseIntOption } from "./net-common.ts";

/** Reads all of stdin (replaceable in tests). */
export let readStdin: () => Promise<string> = async () => {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};

/** For tests: feed `pubkey` from a string instead of the process's stdin. */
export function setStdinForTests(read: () => Promise<string>): void {
  readStdin = read;
}

/** Loads and checks a configuration file; every mistake becomes a one-line UserError. */
export function loadConfig(path: string): WgConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read the configuration file (${code ?? "error"})`);
  }
  try {
    return parseWgConfig(text, path);
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError(e.message);
    throw e;
  }
}

function summary(cfg: WgConfig) {
  return {
    file: cfg.file,
    interface: {
      publicKey: keyToBase64(cfg.interface.publicKey),
      addresses: cfg.interface.addresses.map(formatCidr),
      listenPort: cfg.interface.listenPort ?? null,
      mtu: cfg.interface.mtu ?? null,
    },
    peers: cfg.peers.map((p) => ({
      line: p.line,
      publicKey: keyToBase64(p.publicKey),
      hasPresharedKey: p.presharedKey !== undefined,
      allowedIps: p.allowedIps.map(formatCidr),
      endpoint: p.endpoint ? formatEndpoint(p.endpoint) : null,
      persistentKeepaliveSec: p.persistentKeepaliveSec,
    })),
    notes: cfg.notes,
  };
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  const vpn = program
    .command("vpn")
    .description(
      "WireGuard: keys, configuration files, and a userspace endpoint that interoperates with wireguard-go",
    );

  vpn
    .command("genkey")
    .description("print a new private key (32 random bytes from the OS, clamped, base64), as `wg genkey`")
    .option("--json", 'print {"privateKey": ...}')
    .action((opts: { json?: boolean }) => {
      const k = keyToBase64(generatePrivateKey());
      io.out(opts.json ? `${JSON.stringify({ privateKey: k })}\n` : `${k}\n`);
    });

  vpn
    .command("pubkey")
    .description("read a private key on stdin and print its public key, as `wg pubkey`")
    .option("--json", 'print {"publicKey": ...}')
    .action(async (opts: { json?: boolean }) => {
      const text = (await readStdin()).trim();
      let priv: Uint8Array;
      try {
        priv = keyFromBase64(text);
      } catch (e) {
        if (e instanceof KeyError)
          throw new UserError(`pubkey: stdin does not hold a private key: ${e.message}`);
        throw e;
      }
      const pub = keyToBase64(publicKeyOf(priv));
      io.out(opts.json ? `${JSON.stringify({ publicKey: pub })}\n` : `${pub}\n`);
    });

  vpn
    .command("check")
    .description(
      "read a WireGuard configuration file, report mistakes as file:line, summarize it (no secrets)",
    )
    .requiredOption("--config <file>", "a wg/wg-quick configuration file")
    .option("--json", "machine-readable summary")
    .action((opts: { config: string; json?: boolean }) => {
      const cfg = loadConfig(opts.config);
      const s = summary(cfg);
      if (opts.json) {
        io.out(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      const lines = [
        `interface: public key ${s.interface.publicKey}`,
        `  addresses: ${s.interface.addresses.join(", ") || "(none)"}`,
        `  listening port: ${s.interface.listenPort ?? "any"}`,
      ];
      for (const p of s.peers) {
        lines.push(`peer ${p.publicKey} (line ${p.line})`);
        if (p.hasPresharedKey) lines.push("  preshared key: (hidden)");
        lines.push(`  allowed ips: ${p.allowedIps.join(", ") || "(none)"}`);
        if (p.endpoint) lines.push(`  endpoint: ${p.endpoint}`);
        if (p.persistentKeepaliveSec > 0)
          lines.push(`  persistent keepalive: every ${p.persistentKeepaliveSec} s`);
      }
      for (const n of s.notes) lines.push(`note: ${cfg.file}:${n.line}: ${n.message}`);
      io.out(`${lines.join("\n")}\n`);
    });

  vpn
    .command("export")
    .description(
      "print a topology's VPN gateway as a WireGuard config (as `wg showconf`), so a real peer can take its place",
    )
    .argument("<file>", "topology file (YAML)")
    .argument("<gateway>", "a router that is a peer of a VPN in the file")
    .option("--vpn <name>", "which VPN, when the gateway is in several")
    .option("--wg-quick", "also Address and MTU as keys (for wg-quick; `wg setconf` refuses them)")
    .option("--seed <n>", "simulation seed the derived keys come from", "1")
    .action((file: string, gateway: string, opts: { vpn?: string; wgQuick?: boolean; seed: string }) => {
      io.out(exportGateway(file, gateway, opts));
    });

  vpn
    .command("ping")
    .description(
      "bring up a userspace endpoint from the config and ping TARGET through the tunnel (ICMP or ICMPv6 echo)",
    )
    .argument("<target>", "an IPv4 or IPv6 address inside a peer's AllowedIPs")
    .requiredOption(
      "--config <file>",
      "a wg/wg-quick configuration file (needs an Address of TARGET's family)",
    )
    .addOption(new Option("-c, --count <n>", "stop after N replies or timeouts").default("4"))
    .addOption(new Option("-i, --interval <sec>", "seconds between requests").default("1"))
    .addOption(new Option("-W, --timeout <sec>", "seconds to wait for the last reply").default("2"))
    .addOption(new Option("-s, --size <bytes>", "ICMP payload bytes").default("56"))
    .option("--handshake-timeout <sec>", "give up when no handshake completes within this time", "10")
    .option("--json", "one JSON object with every reply and the summary")
    .action(async (target: string, opts: PingOptions) => {
      setExit(await runPing(target, opts, io));
    });

  vpn
    .command("listen")
    .description("keep a userspace endpoint up that answers ICMP echo to its Address; Ctrl-C prints counters")
    .requiredOption("--config <file>", "a wg/wg-quick configuration file")
    .option("--duration <sec>", "stop after this many seconds (default: until SIGINT/SIGTERM)")
    .option("--json", "one JSON line per event and a JSON summary")
    .action(async (opts: ListenOptions) => {
      setExit(await runListen(opts, io));
    });
}

export interface PingOptions {
  config: string;
  count: string;
  interval: string;
  timeout: string;
  size: string;
  handshakeTimeout: string;
  json?: boolean;
}

export interface ListenOptions {
  config: string;
  duration?: string;
  json?: boolean;
}

/** Reads a positive decimal option or throws a usage error naming it. */
export function positiveNumber(name: string, text: string, { isIntegral = false, min = 0 } = {}): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= min || (isIntegral && !Number.isInteger(v))) {
    throw new UserError(`${name} must be a ${isIntegral ? "whole " : ""}number above ${min}, got "${text}"`);
  }
  return v;
}

function fmtMs(ms: number): string {
  return ms < 10 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(2) : ms.toFixed(1);
}

/** Runs `f`, turning the real world's start-up failures into one-line usage errors. */
async function asUserErrors<T>(f: () => Promise<T>): Promise<T> {
  // The real world (sockets, the engine) loads only when a command needs it.
  const { EndpointError } = await import("../real/udp-endpoint.ts");
  try {
    return await f();
  } catch (e) {
    if (e instanceof EndpointError) throw new UserError(e.message);
    throw e;
  }
}

async function runPing(targetText: string, opts: PingOptions, io: Io): Promise<number> {
  if (tryParseIpv4(targetText) === undefined && tryParseIpv6(targetText) === undefined) {
    throw new UserError(`ping: "${targetText}" is not an IPv4 or IPv6 address`);
  }
  const count = positiveNumber("--count", opts.count, { isIntegral: true });
  const intervalMs = positiveNumber("--interval", opts.interval) * 1000;
  const timeoutMs = positiveNumber("--timeout", opts.timeout) * 1000;
  const dataBytes = Number(opts.size);
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > 65507) {
    throw new UserError(`--size must be a whole number 0..65507, got "${opts.size}"`);
  }
  const handshakeTimeoutMs = positiveNumber("--handshake-timeout", opts.handshakeTimeout) * 1000;
  const config = loadConfig(opts.config);
  // This endpoint does not fragment: an echo must fit the tunnel MTU (wg-quick's default 1420).
  const mtu = config.interface.mtu ?? 1420;
  const overhead = tryParseIpv4(targetText) !== undefined ? 20 + 8 : 40 + 8;
  if (dataBytes + overhead > mtu) {
    throw new UserError(
      `--size ${dataBytes} does not fit the tunnel MTU ${mtu} (at most ${mtu - overhead} data bytes; vnet does not fragment)`,
    );
  }
  const { timersFromEnv } = await import("../real/udp-endpoint.ts");
  const { pingThroughTunnel } = await import("../real/wg-tunnel-host.ts");
  const timers = await asUserErrors(async () => timersFromEnv());
  const isJson = opts.json === true;
  const scope = abortOnSignals();
  try {
    const r = await asUserErrors(() =>
      pingThroughTunnel({
        config,
        timers,
        target: targetText,
        count,
        intervalMs,
        timeoutMs,
        dataBytes,
        handshakeTimeoutMs,
        signal: scope.signal,
        onStart: ({ family, target, source, peer, port }) => {
          if (!isJson) {
            const sizes =
              family === 4 ? `${dataBytes}(${dataBytes + 28}) bytes of data` : `${dataBytes} data bytes`;
            io.out(`PING ${target} from ${source} through peer ${peer} (UDP port ${port}): ${sizes}.\n`);
          }
        },
        onHandshake: (h) => {
          if (!isJson)
            io.out(
              `handshake with peer ${h.peer} at ${h.endpoint ?? "?"} complete in ${fmtMs(h.tookMs)} ms\n`,
            );
        },
        onError: (e) => {
          if (!isJson) io.out(`From ${e.from} icmp_seq=${e.seq} ${e.text}\n`);
        },
        onReply: (rep) => {
          if (!isJson) {
            io.out(
              `${rep.bytes} bytes from ${rep.from}: icmp_seq=${rep.seq} ttl=${rep.ttl} time=${fmtMs(rep.rttMs)} ms${rep.isDuplicate ? " (DUP!)" : ""}\n`,
            );
          }
        },
      }),
    );
    if (isJson) {
      io.out(`${JSON.stringify(r)}\n`);
    } else if (r.handshakeMs === undefined) {
      io.out(
        `no handshake with peer ${r.peer} within ${handshakeTimeoutMs / 1000} s (${r.counters.device.peers[0]?.handshakeAttempts ?? 0} initiations sent, none answered)\n`,
      );
    } else {
      io.out(`\n--- ${r.target} ping statistics (through WireGuard) ---\n`);
      io.out(
        `${r.transmitted} packets transmitted, ${r.received} received${r.duplicates > 0 ? `, +${r.duplicates} duplicates` : ""}${r.errors > 0 ? `, +${r.errors} errors` : ""}, ${r.lossPercent}% packet loss, time ${Math.round(r.elapsedMs)}ms\n`,
      );
      if (r.rttMs) {
        const t = r.rttMs;
        io.out(
          `rtt min/avg/max/mdev = ${t.min.toFixed(3)}/${t.avg.toFixed(3)}/${t.max.toFixed(3)}/${t.mdev.toFixed(3)} ms\n`,
        );
      }
    }
    return r.received > 0 ? ExitCode.ok : ExitCode.networkFailure;
  } finally {
    scope.dispose();
  }
}

async function runListen(opts: ListenOptions, io: Io): Promise<number> {
  const durationMs =
    opts.duration === undefined ? undefined : positiveNumber("--duration", opts.duration) * 1000;
  const config = loadConfig(opts.config);
  const { timersFromEnv } = await import("../real/udp-endpoint.ts");
  const { listenOnTunnel } = await import("../real/wg-tunnel-host.ts");
  const timers = await asUserErrors(async () => timersFromEnv());
  const isJson = opts.json === true;
  const line = (o: object) => io.out(`${JSON.stringify(o)}\n`);
  const scope = abortOnSignals();
  try {
    const r = await asUserErrors(() =>
      listenOnTunnel({
        config,
        timers,
        durationMs,
        signal: scope.signal,
        onReady: ({ port, addresses, peers }) => {
          if (isJson) line({ event: "listening", port, addresses, peers });
          else {
            io.out(
              `listening on UDP port ${port}, public key ${keyToBase64(config.interface.publicKey)}, answering ICMP echo to ${addresses.join(", ") || "(no Address)"}; ${peers.length} peer(s)\n`,
            );
          }
        },
        onHandshake: (h) => {
          if (isJson) line({ event: "handshake", ...h });
          else
            io.out(
              `handshake with peer ${h.peer} (${h.role}) at ${h.endpoint ?? "?"}, t=${(h.atMs / 1000).toFixed(3)} s\n`,
            );
        },
      }),
    );
    const c = r.counters;
    if (isJson) {
      line({ event: "summary", signal: scope.received() ?? null, elapsedMs: r.elapsedMs, counters: c });
    } else {
      const d = c.device;
      io.out(
        `stopped${scope.received() ? ` by ${scope.received()}` : ""} after ${(r.elapsedMs / 1000).toFixed(1)} s\n`,
      );
      for (const p of d.peers) {
        io.out(
          `peer ${p.name}: endpoint ${p.endpoint ?? "(none)"}, ${p.handshakesCompleted} handshake(s), rx ${p.rxPackets} packets/${p.rxBytes} bytes, tx ${p.txPackets} packets/${p.txBytes} bytes\n`,
        );
      }
      const nonZero = (r: Record<string, number>) =>
        Object.entries(r)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ");
      const hostDrops = Object.values(c.hostDrops).reduce((a, b) => a + b, 0);
      io.out(
        `datagrams rx ${d.rxDatagrams} tx ${d.txDatagrams}; echo requests answered ${c.echoRequestsAnswered}; ` +
          `tunnel drops ${d.dropsTotal}${d.dropsTotal > 0 ? ` (${nonZero(d.drops)})` : ""}; ` +
          `host drops ${hostDrops}${hostDrops > 0 ? ` (${nonZero(c.hostDrops)})` : ""}\n`,
      );
    }
    return ExitCode.ok;
  } finally {
    scope.dispose();
  }
}

/**
 * The WireGuard config of one gateway of a topology: [Interface] with its private key and listen
 * port, a [Peer] per peer with AllowedIPs, Endpoint and PersistentKeepalive. By default it is
 * what `wg setconf` reads (Address and MTU as comments), with `--wg-quick` those as keys.
 */
export function exportGateway(
  file: string,
  gateway: string,
  opts: { vpn?: string; wgQuick?: boolean; seed: string },
): string {
  const seed = parseIntOption("--seed", opts.seed, 0, 0xffffffff);
  let topology: Topology;
  try {
    topology = loadTopologyFile(file).topology;
  } catch (e) {
    if (isNodeFsError(e)) throw new UserError(`${file}: ${e.message}`, ExitCode.usage);
    throw e;
  }
  const all = planVpnGateways(topology, seed);
  const mine = all.filter((g) => g.device === gateway && (opts.vpn === undefined || g.vpn === opts.vpn));
  if (mine.length === 0) {
    const names = [...new Set(all.map((g) => g.device))];
    if (names.length === 0) throw new UserError(`export: ${file} has no VPN (no vpns: list)`);
    if (opts.vpn !== undefined && !all.some((g) => g.vpn === opts.vpn))
      throw new UserError(
        `export: no VPN named ${opts.vpn} in ${file}; its VPNs: ${[...new Set(all.map((g) => g.vpn))].join(", ")}`,
      );
    throw new UserError(
      `export: ${gateway} is not a VPN gateway${opts.vpn === undefined ? "" : ` of ${opts.vpn}`} in ${file}; the gateways: ${names.join(", ")}`,
    );
  }
  if (mine.length > 1)
    throw new UserError(
      `export: ${gateway} is in several VPNs (${mine.map((g) => g.vpn).join(", ")}); pick one with --vpn`,
    );
  const g = mine[0];
  const cidr4 = (prefix: number, prefixLen: number) => parseCidr(`${formatIpv4(prefix)}/${prefixLen}`);
  const text = formatWgConfig(
    {
      interface: {
        privateKey: g.privateKey,
        publicKey: g.publicKey,
        addresses: [{ ...cidr4(g.ip, g.prefixLen) }],
        listenPort: g.listenPort,
        mtu: g.mtu,
        line: 0,
      },
      peers: g.peers.map((p) => ({
        publicKey: p.publicKey,
        presharedKey: undefined,
        allowedIps: p.allowedIps.map((a) => cidr4(a.prefix, a.prefixLen)),
        endpoint:
          p.endpoint === null
            ? undefined
            : { host: formatIpv4(p.endpoint.ip), port: p.endpoint.port, family: 4 as const },
        persistentKeepaliveSec: p.keepaliveSec,
        line: 0,
      })),
    },
    { isForSetconf: opts.wgQuick !== true },
  );
  const head = [
    `# ${g.device} in VPN ${g.vpn} of ${topology.name} (${file}), exported by vnet`,
    ...(g.isKeyDerived
      ? [
          `# The private key is derived from the seed ${seed}: anyone with the file can derive it; lab use only.`,
        ]
      : []),
    ...(opts.wgQuick === true ? [] : [`# Address = ${formatIpv4(g.ip)}/${g.prefixLen}`, `# MTU = ${g.mtu}`]),
  ];
  return `${head.join("\n")}\n${text}`;
}
