/**
 * `vnet check FILE`: loads a topology file and says whether it is valid: a one-line summary
 * with its warnings (exit 0), or every error as `file:line:col: message` (exit 2). A file with
 * errors gets no warnings: the loader leaves them out, since they mostly echo an error. Every
 * line is made of the loader's diagnostics, whose quotes of the file are escaped (no control
 * character reaches the terminal). `--json` answers `{ ok, errors, warnings, summary }`, and
 * for a broken file also `error` (the first one, as every command's `--json` errors have it).
 */

import type { Command } from "commander";
import { type Diagnostic, escapeUnprintable, formatDiagnostic, TopologyError } from "../model/diagnostics.ts";
import { loadTopologyFile } from "../model/load.ts";
import { formatSummary, summarize, type TopologySummary } from "../model/summary.ts";
import { ExitCode } from "./errors.ts";
import type { Io } from "./io.ts";

interface CheckReport {
  ok: boolean;
  file: string;
  errors: Diagnostic[];
  warnings: Diagnostic[];
  summary: TopologySummary | null;
}

export function checkFile(file: string): CheckReport {
  try {
    const { topology, warnings } = loadTopologyFile(file);
    return { ok: true, file, errors: [], warnings, summary: summarize(topology) };
  } catch (e) {
    if (!(e instanceof TopologyError)) throw e;
    return { ok: false, file, errors: [...e.errors], warnings: [...e.warnings], summary: null };
  }
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("check")
    .description("check a topology file: a summary when valid, every error as file:line:col when not")
    .argument("<file>", "the topology file (YAML)")
    .option("--json", "answer as JSON: { ok, errors, warnings, summary }")
    // Every command that loads a topology takes -q; check prints no progress line, so it is a
    // no-op here, accepted so that scripts can pass it to any command.
    .option("-q, --quiet", "no progress line (check prints none; accepted for uniformity)")
    .action((file: string, opts: { json?: boolean }) => {
      const r = checkFile(file);
      if (!r.ok) setExit(ExitCode.usage);
      if (opts.json) {
        // The first error also as every command's --json error object, for scripts that read one shape.
        const first = r.errors[0];
        const error =
          first === undefined
            ? undefined
            : {
                code: first.code,
                message: first.message,
                file: first.file,
                line: first.line === 0 ? null : first.line,
                col: first.col === 0 ? null : first.col,
              };
        io.out(`${JSON.stringify(error === undefined ? r : { error, ...r }, null, 2)}\n`);
        return;
      }
      // By place in the file, as a compiler prints them (errors, or else warnings).
      const all = [...r.errors, ...r.warnings].sort((a, b) => a.line - b.line || a.col - b.col);
      for (const d of all) io.err(`${formatDiagnostic(d)}\n`);
      if (r.ok && r.summary) {
        const w = r.warnings.length;
        io.out(
          `${escapeUnprintable(file)}: ok: ${r.summary.name}: ${formatSummary(r.summary)}${w > 0 ? `; ${w} warning${w === 1 ? "" : "s"}` : ""}\n`,
        );
      } else if (r.errors.length > 1) io.err(`${r.errors.length} errors\n`);
    });
}
