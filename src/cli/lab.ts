/**
 * The real world on the command line: labs of network namespaces over vnet's dataplane. Thin:
 * parse arguments, call `src/real/lab.ts`, print.
 *
 *   vnet up FILE [--name LAB] [--detach]   every VM a namespace, vnet forwarding between them
 *   vnet exec LAB VM -- CMD [ARGS...]      run a command in a VM's namespace
 *   vnet status [LAB] [--json]             what is up, with the dataplane's counters
 *   vnet down LAB                          remove everything the lab created
 *   vnet trace --real LAB FROM TO          (in trace.ts) a real ping beside the simulator's
 *
 * All but `status` need root. A user's mistake (no root, an unknown lab or VM, a lab already
 * up) is one line and exit 2; the command run by `exec` gives its own exit status.
 */

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import type { FrameLabel } from "../analysis/frame-label.ts";
import { formatTrace, type TraceHop, type TraceResult } from "../analysis/trace.ts";
import { formatDiagnostic } from "../model/diagnostics.ts";
import { loadTopologyFile } from "../model/load.ts";
import { Network, SHOW_WHATS, type ShowWhat } from "../network.ts";
import {
  askLab,
  checkLabName,
  checkLabSize,
  guestDrops,
  isAlive,
  type LabCaptureFile,
  type LabState,
  type LabStatus,
  type LabTrace,
  labDown,
  labUp,
  readState,
  stateDir,
} from "../real/lab.ts";
import { hasNetns, isRoot, RealModeError } from "../real/netns.ts";
import { abortOnSignals, sleep } from "../real/signals.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { guard, isNodeFsError, loadNetwork, parseIntOption } from "./net-common.ts";
import { formatTable } from "./show.ts";

/** Runs `fn`, turning the real world's refusals into one-line user errors. */
async function real<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RealModeError) throw new UserError(e.message, ExitCode.usage, e.code);
    if (isNodeFsError(e)) throw new UserError(e.message, ExitCode.usage, "file");
    throw e;
  }
}

/** A lab name from a topology's name or file name: lowercase, dashes, at most 24 characters. */
export function defaultLabName(topologyName: string | undefined, file: string): string {
  const base = topologyName ?? basename(file).replace(/\.[^.]*$/, "");
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 24)
    .replace(/-+$/, "");
  return name === "" ? "lab" : name;
}

function needState(lab: string): LabState {
  checkLabName(lab);
  const state = readState(lab);
  if (state === null)
    throw new RealModeError(`no lab "${lab}" is up (start one with: vnet up FILE --name ${lab})`, "no-lab");
  return state;
}

function fmtUptime(ns: number): string {
  const s = Math.floor(ns / 1e9);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("up")
    .description(
      "bring a topology up for real (root): every VM a network namespace, vnet's dataplane between them",
    )
    .argument("<file>", "topology file (YAML)")
    .option("--name <lab>", "the lab's name (default: the topology's name)")
    .option("--detach", "run the dataplane in the background and return once the lab is up")
    .option("--seed <n>", "seed of the dataplane's randomness", "1")
    .option("-q, --quiet", "print only the summary")
    .action(
      async (file: string, opts: { name?: string; detach?: boolean; seed: string; quiet?: boolean }) => {
        const seed = parseIntOption("--seed", opts.seed, 0, 0xffffffff);
        let loaded: ReturnType<typeof loadTopologyFile>;
        try {
          loaded = loadTopologyFile(file);
        } catch (e) {
          if (isNodeFsError(e)) throw new UserError(`${file}: ${e.message}`);
          throw e;
        }
        const lab = opts.name ?? defaultLabName(loaded.topology.name, file);
        await real(() => {
          checkLabName(lab);
          checkLabSize(loaded.topology);
        });
        for (const w of loaded.warnings) io.err(`${formatDiagnostic(w)}\n`);
        const faults = loaded.topology.faults?.length ?? 0;
        if (faults > 0)
          io.err(
            `${file}: note: a lab does not play the file's ${faults} fault${faults === 1 ? "" : "s"} (faults:); vnet run plays them on the simulator\n`,
          );
        if (opts.detach) {
          await real(() => detach(file, lab, opts.seed, io));
          return;
        }
        // Listening from the start: Ctrl-C during a long bring-up stops it and removes what it made.
        const signals = abortOnSignals();
        const running = await real(async () => {
          try {
            return await labUp(loaded.topology, {
              signal: signals.signal,
              lab,
              file: resolve(file),
              seed,
              show: (built) => {
                const net = Network.over(loaded.topology, built, { seed });
                return (what, device) => {
                  if (!(SHOW_WHATS as readonly string[]).includes(what)) {
                    throw new Error(`nothing to show called "${what}" (one of ${SHOW_WHATS.join(", ")})`);
                  }
                  return net.show(what as ShowWhat, device);
                };
              },
              log: opts.quiet ? undefined : (line) => io.out(`  ${line}\n`),
            });
          } catch (e) {
            // The signal also reached the commands the bring-up was running: whatever they said,
            // the reason is the interruption (and what was made is removed by now). One turn of the
            // event loop first, so a signal that killed a command has reached its handler.
            await new Promise((r) => setImmediate(r));
            if (signals.signal.aborted)
              throw new UserError(
                `lab ${lab}: bring-up interrupted by ${signals.received() ?? "a signal"}; what it had made is removed`,
                130,
                "interrupted",
              );
            throw e;
          }
        });
        const vms = running.state.vms;
        io.out(
          `lab ${lab} is up: ${vms.length} VM${vms.length === 1 ? "" : "s"} as network namespaces, vnet forwarding between them (pid ${process.pid})\n`,
        );
        if (vms.length >= 2) {
          const target = vms[1].nics[0]?.ip.split("/")[0];
          io.out(`  try: vnet exec ${lab} ${vms[0].name} -- ping -c 3 ${target}\n`);
        }
        io.out("  Ctrl-C (or vnet down) tears it down\n");
        while (!signals.signal.aborted) await sleep(2 ** 31 - 1, signals.signal);
        signals.dispose();
        await running.close();
        io.out(`lab ${lab} is down: ${running.state.namespaces.length} namespaces removed\n`);
      },
    );

  program
    .command("down")
    .description(
      "remove everything a lab created (its process, namespaces and interfaces), also after a crash",
    )
    .argument("<lab>", "the lab's name")
    .action(async (lab: string) => {
      await real(() => {
        checkLabName(lab);
        if (!isRoot())
          throw new RealModeError(
            "vnet down needs root (it deletes network namespaces): run it with sudo",
            "not-root",
          );
      });
      const r = await real(() => labDown(lab));
      if (!r.found) {
        io.out(`no lab "${lab}" is up; nothing to remove\n`);
        return;
      }
      io.out(
        `lab ${lab} is down${r.stopped === null ? "" : ` (stopped pid ${r.stopped})`}: ${r.removed.length} namespace${r.removed.length === 1 ? "" : "s"} removed\n`,
      );
    });

  program
    .command("exec")
    .description("run a command inside a VM's network namespace (root)")
    .argument("<lab>", "the lab's name")
    .argument("<vm>", "the VM")
    .argument("<command...>", "the command and its arguments (after --)")
    .passThroughOptions()
    .action(async (lab: string, vm: string, args: string[]) => {
      // `--` ends vnet's own arguments; commander may hand it over with the command.
      const command = args[0] === "--" ? args.slice(1) : args;
      if (command.length === 0)
        throw new UserError("vnet exec LAB VM -- COMMAND [ARGS...]: no command given");
      const state = await real(() => needState(lab));
      const entry = state.vms.find((v) => v.name === vm);
      if (entry === undefined) {
        throw new UserError(
          `lab ${lab} has no VM "${vm}" (VMs: ${state.vms.map((v) => v.name).join(", ")})`,
          ExitCode.usage,
          "unknown-vm",
        );
      }
      await real(() => {
        if (!isRoot())
          throw new RealModeError(
            "vnet exec needs root (it enters a network namespace): run it with sudo",
            "not-root",
          );
        if (!hasNetns(entry.ns))
          throw new RealModeError(
            `the namespace ${entry.ns} is gone: vnet down ${lab}, then up again`,
            "no-lab",
          );
      });
      const r = spawnSync("ip", ["netns", "exec", entry.ns, ...command], { stdio: "inherit" });
      if (r.error !== undefined) throw new UserError(`cannot run ${command[0]}: ${r.error.message}`);
      setExit(r.status ?? 1);
    });

  program
    .command("status")
    .description("the labs that are up, or one lab's VMs and the dataplane's counters")
    .argument("[lab]", "the lab's name (default: list them all)")
    .argument("[what]", `a table of the live dataplane, as vnet show prints it: ${SHOW_WHATS.join(", ")}`)
    .option("--device <name>", "with WHAT: only this device")
    .option("--json", "print the lab's state and counters as JSON")
    .action(
      async (
        lab: string | undefined,
        what: string | undefined,
        opts: { json?: boolean; device?: string },
      ) => {
        if (lab !== undefined && what !== undefined) {
          if (!(SHOW_WHATS as readonly string[]).includes(what)) {
            throw new UserError(`nothing to show called "${what}" (one of ${SHOW_WHATS.join(", ")})`);
          }
          const state = await real(() => needState(lab));
          if (!isAlive(state.pid))
            throw new UserError(`lab ${lab}'s process is gone: vnet down ${lab}`, ExitCode.usage, "no-lab");
          const r = await real(() =>
            askLab<{ rows: Record<string, unknown>[] }>(state, {
              op: "show",
              what,
              ...(opts.device === undefined ? {} : { device: opts.device }),
            }),
          );
          io.out(opts.json ? `${JSON.stringify(r.rows, null, 2)}\n` : formatTable(r.rows));
          return;
        }
        if (lab === undefined) {
          const labs = existsSync(stateDir())
            ? readdirSync(stateDir())
                .filter((f) => f.endsWith(".json"))
                .map((f) => readState(f.slice(0, -5)))
                .filter((s): s is LabState => s !== null)
            : [];
          if (opts.json) {
            io.out(
              `${JSON.stringify(
                labs.map((s) => ({
                  lab: s.lab,
                  file: s.file,
                  pid: s.pid,
                  running: isAlive(s.pid),
                  vms: s.vms.length,
                })),
                null,
                2,
              )}\n`,
            );
            return;
          }
          if (labs.length === 0) io.out("no lab is up (start one with: vnet up FILE)\n");
          for (const s of labs) {
            io.out(
              `${s.lab}  ${isAlive(s.pid) ? `up, pid ${s.pid}` : "crashed (vnet down to clean up)"}  ${s.vms.length} VMs  ${s.file}\n`,
            );
          }
          return;
        }
        const state = await real(() => needState(lab));
        const running = isAlive(state.pid);
        const status = running ? await real(() => askLab<LabStatus>(state, { op: "status" })) : null;
        if (opts.json) {
          io.out(
            `${JSON.stringify({ ...state, running, status, guestDrops: Object.fromEntries(guestDrops(state)) }, null, 2)}\n`,
          );
          if (!running) setExit(ExitCode.networkFailure);
          return;
        }
        io.out(
          `lab ${state.lab} (${state.file}): ${running ? `up, pid ${state.pid}${status === null ? "" : `, for ${fmtUptime(status.uptimeNs)}, TAP I/O ${status.io === "io_uring" ? "in io_uring batches" : "a system call per frame"}`}` : "its process is gone (vnet down to clean up)"}\n`,
        );
        const kernel = guestDrops(state);
        const rows = state.vms.flatMap((v) =>
          v.nics.map((n) => {
            const c = status?.ports.find((p) => p.vm === v.name && p.nic === n.name);
            const g = kernel.get(`${v.name}:${n.name}`);
            const guest =
              g === undefined || g.txDropped + g.rxDropped === 0
                ? ""
                : `  guest's kernel dropped tx ${g.txDropped} rx ${g.rxDropped}`;
            return [
              v.name,
              v.ns,
              n.name,
              n.mac,
              n.ip,
              c === undefined
                ? ""
                : // As the VM sees it: what it sent is what vnet read from its TAP.
                  `sent ${c.rxFrames} received ${c.txFrames}${c.drops.length > 0 ? ` drops ${c.drops.map(([k, x]) => `${k} ${x}`).join(", ")}` : ""}${guest}`,
            ];
          }),
        );
        const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r[i].length)));
        for (const r of rows)
          io.out(
            `  ${r
              .slice(0, 5)
              .map((c, i) => c.padEnd(widths[i]))
              .join("  ")}  ${r[5]}\n`.replace(/ +\n$/, "\n"),
          );
        for (const x of state.external ?? []) {
          const c = status?.ports.find((p) => p.vm === "" && p.nic === x.port);
          io.out(
            `  external ${x.port}  TAP ${x.interface}${x.netns === null ? "" : ` (namespace ${x.netns})`}${c === undefined ? "" : `  into vnet ${c.rxFrames} out of vnet ${c.txFrames}${c.drops.length > 0 ? ` drops ${c.drops.map(([k, n]) => `${k} ${n}`).join(", ")}` : ""}`}\n`,
          );
        }
        if (status !== null && status.devices.length > 0) {
          io.out("drops in the dataplane:\n");
          for (const d of status.devices)
            io.out(`  ${d.name}: ${d.drops.map(([k, x]) => `${k} ${x}`).join(", ")}\n`);
        }
        if (!running) setExit(ExitCode.networkFailure);
      },
    );
}

/** `vnet up --detach`: the same command in a background process; returns once the lab is up. */
async function detach(file: string, lab: string, seed: string, io: Io): Promise<void> {
  const previous = readState(lab);
  if (previous !== null && isAlive(previous.pid)) {
    throw new RealModeError(
      `lab "${lab}" is already up (pid ${previous.pid}): vnet down ${lab} first`,
      "lab-exists",
    );
  }
  // A crashed lab of this name: cleared now, before this start opens its own log.
  if (previous !== null) labDown(lab);
  mkdirSync(stateDir(), { recursive: true });
  const logPath = join(stateDir(), `${lab}.log`);
  const log = openSync(logPath, "w");
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1], "up", file, "--name", lab, "--seed", seed, "-q"],
    { detached: true, stdio: ["ignore", log, log], env: process.env },
  );
  let exited: number | null = null;
  child.on("exit", (code) => {
    exited = code ?? 1;
  });
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    const s = readState(lab);
    if (s !== null && s.pid === child.pid && s.status === "up") {
      child.unref();
      io.out(`lab ${lab} is up in the background (pid ${child.pid}, log ${logPath}): ${s.vms.length} VMs\n`);
      io.out(`  vnet exec ${lab} VM -- CMD, vnet status ${lab}, vnet down ${lab}\n`);
      return;
    }
    if (exited !== null) break;
    await sleep(50);
  }
  const text = readFileSync(logPath, "utf8").trim();
  const why =
    text
      .split("\n")
      .filter((l) => l.startsWith("vnet:"))
      .pop() ??
    text.split("\n").pop() ??
    "";
  if (exited === null) {
    child.kill("SIGTERM");
    throw new RealModeError(`lab ${lab} did not come up within 120 s (log ${logPath})`, "timeout");
  }
  // The lab never came up: its reason is in the message below, its log is not kept.
  rmSync(logPath, { force: true });
  throw new RealModeError(
    why.replace(/^vnet: /, "") || `the lab's process exited (${exited}); see ${logPath}`,
    "up-failed",
  );
}

/** One hop reduced to what the simulator and the real dataplane should agree on. */
function hopKey(h: TraceHop): string {
  return `${h.device} ${h.action} ${h.in ?? "-"} -> ${h.out ?? "-"}${h.vlan === null ? "" : ` vlan ${h.vlan}`}`;
}

/**
 * The hops both worlds record: the guest's own steps exist only in the simulator, and after the
 * warm-up exchange the simulator's trace holds the echo and its reply alone, while a kernel may
 * still refresh a neighbour entry with ARP at any moment (Linux probes a STALE entry 5 s after
 * using it): those are shown in the real trace but not compared.
 */
function comparable(t: TraceResult, vms: ReadonlySet<string>): TraceHop[] {
  return t.hops.filter((h) => !vms.has(h.device) && !h.frame.startsWith("ARP"));
}

export interface RealTraceComparison {
  sim: TraceResult;
  real: TraceResult;
  /** Hop by hop: the key in each world, and whether they agree. */
  rows: { sim: string | null; real: string | null; isSame: boolean }[];
  isSame: boolean;
}

/** Lines in order, aligned by a longest common subsequence so an extra hop shows as one row. */
export function alignHops(a: string[], b: string[]): RealTraceComparison["rows"] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const rows: RealTraceComparison["rows"] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      rows.push({ sim: a[i++], real: b[j++], isSame: true });
    } else if (j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) {
      rows.push({ sim: a[i++], real: null, isSame: false });
    } else {
      rows.push({ sim: null, real: b[j++], isSame: false });
    }
  }
  return rows;
}

/**
 * `vnet trace --real LAB FROM TO`: one real ping from FROM's namespace while the running lab
 * records its hops, explained by the model of the lab's file, beside the simulator's trace of
 * the same file: same devices and decisions, or the difference shown row by row.
 */
export async function traceReal(
  lab: string,
  from: string,
  to: string,
  opts: { json?: boolean; seed?: string; pcap?: string; pcapPerLink?: boolean },
  io: Io,
  setExit: (code: number) => void,
): Promise<void> {
  const state = await real(() => needState(lab));
  await real(() => {
    if (!isRoot())
      throw new RealModeError(
        "vnet trace --real needs root (it pings from a namespace): run it with sudo",
        "not-root",
      );
    if (!isAlive(state.pid))
      throw new RealModeError(`lab ${lab}'s process is gone: vnet down ${lab}, then up again`, "no-lab");
  });
  const src = state.vms.find((v) => v.name === from);
  if (src === undefined) {
    throw new UserError(
      `lab ${lab} has no VM "${from}" (VMs: ${state.vms.map((v) => v.name).join(", ")})`,
      ExitCode.usage,
      "unknown-vm",
    );
  }
  // The topology as the lab was built from it: the file may have changed, or gone, since.
  const built = state.topology !== undefined && existsSync(state.topology) ? state.topology : state.file;
  if (built !== state.file) {
    let now: string | null = null;
    try {
      now = readFileSync(state.file, "utf8");
    } catch {}
    if (now !== readFileSync(built, "utf8"))
      io.err(
        `note: ${state.file} ${now === null ? "is gone" : "changed"} since lab ${lab} came up; comparing with the topology the lab runs\n`,
      );
  }
  const net = await loadNetwork(built, { out: () => {}, err: () => {} }, { seed: opts.seed });
  // Both worlds in the same state for this pair: a first exchange, not traced, fills the
  // guests' neighbour caches and teaches every switch on the path where both ends are (a real
  // lab has a history the simulator cannot know; this makes it irrelevant to the path). Then
  // the traced exchange, in each world.
  // An unknown target is the user's mistake: one line, exit 2 (as `vnet trace` says it).
  const sim = guard(() => {
    net.ping(from, to, { count: 1, timeoutMs: 2000 });
    return net.trace(from, to);
  });
  const pingOnce = () =>
    spawnSync("ip", ["netns", "exec", src.ns, "ping", "-n", "-c", "1", "-W", "2", sim.toIp], {
      encoding: "utf8",
    });
  pingOnce();
  const isCapturing = opts.pcap !== undefined;
  if (isCapturing) await real(() => askLab(state, { op: "capture-start" }));
  await real(() => askLab(state, { op: "trace-start" }));
  const t0 = Date.now();
  const ping = pingOnce();
  await sleep(50);
  const observed = await real(() => askLab<LabTrace>(state, { op: "trace-stop" }));
  let written: { fileName: string; frames: number }[] = [];
  if (isCapturing && opts.pcap !== undefined) {
    const dir = opts.pcap;
    const captured = await real(() =>
      askLab<{ files: LabCaptureFile[] }>(state, { op: "capture-stop", perLink: opts.pcapPerLink === true }),
    );
    await real(() => {
      mkdirSync(dir, { recursive: true });
      for (const f of captured.files) writeFileSync(join(dir, f.fileName), Buffer.from(f.base64, "base64"));
    });
    written = captured.files.map((f) => ({ fileName: join(dir, f.fileName), frames: f.frames }));
  }
  const rtt = /time=([\d.]+) ms/.exec(ping.stdout ?? "");
  const delivered = ping.status === 0 && rtt !== null;
  const records = observed.records;
  const realResult = net.explain(from, to, {
    records,
    labels: new Map<number, FrameLabel>(observed.labels),
    delivered,
    rttNs: rtt === null ? null : Math.round(Number(rtt[1]) * 1e6),
    startNs: records[0]?.timeNs ?? 0,
  });
  const vmNames = new Set(state.vms.map((v) => v.name));
  const rows = alignHops(comparable(sim, vmNames).map(hopKey), comparable(realResult, vmNames).map(hopKey));
  const isSame = rows.every((r) => r.isSame) && sim.delivered === realResult.delivered;
  if (opts.json) {
    io.out(
      `${JSON.stringify({ lab, from, to, ping: { delivered, rttMs: rtt === null ? null : Number(rtt[1]), tookMs: Date.now() - t0 }, sim, real: realResult, rows, isSame, ...(isCapturing ? { captures: written } : {}) }, null, 2)}\n`,
    );
  } else {
    io.out(
      `real ping ${from} -> ${to} (${sim.toIp}) in lab ${lab}: ${delivered ? `reply in ${rtt?.[1]} ms` : "no reply"}\n\n`,
    );
    io.out(formatTrace(realResult));
    io.out("\nsimulator vs real, hop by hop (the guests' own steps are the kernel's in real mode):\n");
    const w = Math.max(9, ...rows.map((r) => (r.sim ?? "").length));
    io.out(`    ${"simulator".padEnd(w)}  real\n`);
    for (const r of rows)
      io.out(`  ${r.isSame ? " " : "!"} ${(r.sim ?? "-").padEnd(w)}  ${r.isSame ? "=" : (r.real ?? "-")}\n`);
    if (rows.length === 0)
      io.out(
        "    (no hop to compare: ARP is left out, and no frame of the echo got past it in either world)\n",
      );
    io.out(
      isSame
        ? `${rows.length === 0 ? "same verdict" : "same devices, same decisions, same verdict"}: ${realResult.verdict}\n`
        : `DIFFERENT: ${rows.filter((r) => !r.isSame).length} hop(s) differ (marked !)${sim.verdict === realResult.verdict ? "" : `\n  simulator: ${sim.verdict}\n  real:      ${realResult.verdict}`}\n`,
    );
    for (const f of written) io.out(`wrote ${f.fileName} (${f.frames} frames)\n`);
  }
  if (!delivered) setExit(ExitCode.networkFailure);
  else if (!isSame) setExit(ExitCode.networkFailure);
}
