/**
 * `vnet reach FILE [--verify N] [--json]`: exhaustive reachability between every ordered pair of
 * VMs, answered by classes: VM pairs that must behave alike share a class, one real probe (a
 * traced echo through the simulator, ARP included) answers for each class, and its verdict holds
 * for every pair of the class. Exit 1 when any pair is refused.
 *
 * `vnet reach FILE --fail X`: what-if: the pairs whose reachability changes when X (a cable end
 * `node:port`, a switch, a server or a VM) fails, by kind of pair with the first pairs named.
 * Exit 1 when some pair loses reachability.
 */

import type { Command } from "commander";
import type { ReachChange, ReachChangeResult, ReachResult } from "../network.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { guard, loadNetwork, parseIntOption } from "./net-common.ts";
import { startProgress } from "./progress.ts";

const int = (n: number) => n.toLocaleString("en-US");

/** The path part of a delivered verdict ("crosses the physical network via tor1"). */
function pathOf(verdict: string): string {
  const i = verdict.indexOf(": ");
  return i < 0 ? verdict : verdict.slice(i + 2);
}

export function formatReach(r: ReachResult): string {
  const lines: string[] = [];
  const plural = (n: number, one: string, many: string) => `${int(n)} ${n === 1 ? one : many}`;
  lines.push(
    `${plural(r.vms, "VM", "VMs")} in ${plural(r.classes.length, "class", "classes")}; ` +
      `${plural(r.pairs, "ordered pair", "ordered pairs")} answered by ${plural(r.results.length, "probe", "probes")}, ` +
      "one per class pair: a probe's verdict holds for every pair of its class",
  );
  lines.push("");
  lines.push("classes (same kind of server, same attachment, same subnet and gateway):");
  const cw = String(r.classes.length).length + 1;
  for (const c of r.classes) {
    lines.push(
      `  ${`C${c.id + 1}`.padEnd(cw + 1)} ${c.label}: ${plural(c.vms, "VM", "VMs")} on ${c.servers === 1 ? c.exampleServer : `${int(c.servers)} servers like ${c.exampleServer}`}, e.g. ${c.example}`,
    );
  }
  lines.push("");
  // "servers": how the two VMs' servers are placed (the class key); "result": what the probe
  // saw, with the path its echo took (through a gateway, if routed).
  const rows = r.results.map((x) => ({
    from: `C${x.from + 1}`,
    to: `C${x.to + 1}`,
    servers: r.placements[x.placement]?.text ?? "?",
    pairs: int(x.pairs),
    probe: `${x.probe.from} -> ${x.probe.to}`,
    result: x.delivered ? `delivered: ${pathOf(x.verdict)}` : `REFUSED: ${x.failure?.text ?? x.verdict}`,
  }));
  const cols = ["from", "to", "servers", "pairs", "probe", "result"] as const;
  const width = (c: (typeof cols)[number]) => Math.max(c.length, ...rows.map((row) => row[c].length));
  const w = Object.fromEntries(cols.map((c) => [c, width(c)])) as Record<(typeof cols)[number], number>;
  const line = (v: Record<(typeof cols)[number], string>) =>
    cols
      .map((c) => (c === "pairs" ? v[c].padStart(w[c]) : v[c].padEnd(w[c])))
      .join("  ")
      .trimEnd();
  lines.push(
    line({ from: "from", to: "to", servers: "servers", pairs: "pairs", probe: "probe", result: "result" }),
  );
  for (const row of rows) lines.push(line(row));
  lines.push("");
  if (r.verified !== null) {
    const d = r.verified.disagreements;
    lines.push(
      `verified: ${plural(r.verified.pairs, "random pair", "random pairs")} pinged, ${d.length === 0 ? "all as their classes say" : `${d.length} differ from their class:`}`,
    );
    for (const x of d.slice(0, 20)) {
      lines.push(
        `  ${x.from} -> ${x.to}: class says ${x.expected ? "delivered" : "refused"}, ping ${x.observed ? "delivered" : "failed"}`,
      );
    }
  }
  const pct = r.pairs === 0 ? 0 : (r.refusedPairs / r.pairs) * 100;
  const disagree = r.verified?.disagreements.length ?? 0;
  lines.push(
    `*** Reach: ${int(r.deliveredPairs)}/${int(r.pairs)} pairs delivered, ${int(r.refusedPairs)} refused (${pct === 0 || pct === 100 ? pct : pct.toFixed(1)}%)${disagree > 0 ? `, by classes; ${int(disagree)} verified ${disagree === 1 ? "pair disagrees" : "pairs disagree"} (listed above)` : ""} ***`,
  );
  return `${lines.join("\n")}\n`;
}

/** Pairs the text of `reach --fail` names per change. */
const TEXT_PAIRS_PER_CHANGE = 6;

export function formatReachChange(r: ReachChangeResult): string {
  const lines: string[] = [];
  const plural = (n: number, one: string, many = `${one}s`) => `${int(n)} ${n === 1 ? one : many}`;
  lines.push(`failing ${r.failed}: ${r.connections.join(", ") || "nothing to take down"}`);
  lines.push(
    `before: ${int(r.deliveredBefore)} of ${plural(r.pairs, "ordered pair")} delivered; after: ${int(r.deliveredAfter)}`,
  );
  const section = (title: string, changes: ReachChange[], total: number) => {
    lines.push("");
    if (changes.length === 0) {
      lines.push(`${title}: none`);
      return;
    }
    lines.push(`${title} (${plural(total, "pair")}):`);
    for (const c of changes) {
      lines.push(`  ${plural(c.pairs, "pair")} from ${c.fromClass} to ${c.toClass}`);
      lines.push(`    before: ${c.before}`);
      lines.push(`    after:  ${c.after}`);
      // Text names a few pairs per change (all of a small topology's); --json gives more.
      const shown = c.examples.slice(0, TEXT_PAIRS_PER_CHANGE);
      const more = c.pairs - shown.length;
      lines.push(
        `    ${shown.map((p) => `${p.from} -> ${p.to}`).join(", ")}${more > 0 ? `, and ${int(more)} more` : ""}`,
      );
    }
  };
  section("no longer delivered", r.lost, r.lostPairs);
  section("newly delivered", r.gained, r.gainedPairs);
  lines.push("");
  lines.push(
    `*** Failing ${r.target}: ${plural(r.lostPairs, "pair")} lose reachability, ${int(r.gainedPairs)} gain it ***`,
  );
  return `${lines.join("\n")}\n`;
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("reach")
    .description("every VM pair's reachability, one real probe per class of alike pairs (fast at any size)")
    .argument("<file>", "topology file (YAML)")
    .option(
      "--verify <n>",
      "also ping N random pairs and report any whose outcome differs from its class",
      "0",
    )
    .option("--json", "print { vms, pairs, classes, placements, results, verified } as JSON")
    .option(
      "--fail <x>",
      "what-if: the pairs whose reachability changes when X fails (a cable end node:port, a switch, a server or a VM)",
    )
    .option("--seed <n>", "simulation seed", "1")
    .option("-q, --quiet", "no progress line on standard error")
    .action(async (file: string, opts: { verify: string; json?: boolean; seed: string; fail?: string }) => {
      const verify = parseIntOption("--verify", opts.verify, 0, 1_000_000);
      const progress = startProgress();
      progress.update("loading");
      const net = await loadNetwork(file, io, opts);
      if (opts.fail !== undefined) {
        if (verify > 0) throw new UserError("--verify goes with reach alone, not with --fail");
        const target = opts.fail;
        const c = guard(() =>
          net.reachChange(target, {
            onProgress: (phase, d, t) =>
              progress.update(`reach ${phase} ${target} fails: probe ${d} of ${t}`),
          }),
        );
        progress.done();
        io.out(opts.json ? `${JSON.stringify(c, null, 2)}\n` : formatReachChange(c));
        if (c.lostPairs > 0) setExit(ExitCode.networkFailure);
        return;
      }
      const r = guard(() =>
        net.reach({ verify, onProgress: (d, t) => progress.update(`reach: probe ${d} of ${t}`) }),
      );
      progress.done();
      if (opts.json) {
        io.out(`${JSON.stringify(r, null, 2)}\n`);
      } else {
        io.out(formatReach(r));
      }
      if (r.refusedPairs > 0 || (r.verified?.disagreements.length ?? 0) > 0) setExit(ExitCode.networkFailure);
    });
}
