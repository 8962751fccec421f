/**
 * Entry point of the `vnet` command: builds the commander program from the command modules in
 * this folder and maps outcomes to exit codes (0 ok, 1 the network said no, 2 usage or input
 * error). Commands hold no logic of their own beyond parsing arguments and printing.
 */

import { Command, CommanderError } from "commander";
import { escapeUnprintable, TopologyError } from "../model/diagnostics.ts";
import { ExitCode, UserError } from "./errors.ts";
import { type Io, nodeIo } from "./io.ts";
import { setProgressEnabled } from "./progress.ts";

/** An error as `--json` prints it: `{ "error": { code, message, file, line, col } }`. */
interface JsonError {
  code: string;
  message: string;
  file: string | null;
  line: number | null;
  col: number | null;
  path?: string;
}

export type CommandModule = (program: Command, io: Io, setExit: (code: number) => void) => void;

/** Every command module; each registers its subcommand(s) on the program. */
async function commandModules(): Promise<CommandModule[]> {
  const mods: CommandModule[] = [];
  mods.push((await import("./tour.ts")).register);
  mods.push((await import("./check.ts")).register);
  mods.push((await import("./schema.ts")).register);
  mods.push((await import("./generate.ts")).register);
  mods.push((await import("./decode.ts")).register);
  mods.push((await import("./vpn.ts")).register);
  mods.push((await import("./trace.ts")).register);
  mods.push((await import("./ping.ts")).register);
  mods.push((await import("./traceroute.ts")).register);
  mods.push((await import("./mtu.ts")).register);
  mods.push((await import("./pingall.ts")).register);
  mods.push((await import("./reach.ts")).register);
  mods.push((await import("./run.ts")).register);
  mods.push((await import("./show.ts")).register);
  mods.push((await import("./graph.ts")).register);
  mods.push((await import("./ui.ts")).register);
  mods.push((await import("./lab.ts")).register);
  mods.push((await import("./demo.ts")).register);
  return mods;
}

export async function main(argv: string[], io: Io = nodeIo): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const setExit = (code: number) => {
    exitCode = Math.max(exitCode, code);
  };
  const program = new Command("vnet")
    .description("A packet-accurate engine for virtualized data-center networks")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
    })
    .option("-q, --quiet", "no progress line on standard error for long runs")
    // vnet's own options go before the command; after it, each command owns its options, so
    // `traceroute -q 2` means probes per hop as in traceroute(8), not this --quiet.
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .hook("preAction", (cmd, action) =>
      setProgressEnabled(cmd.opts().quiet !== true && action.opts().quiet !== true),
    );
  for (const reg of await commandModules()) reg(program, io, setExit);
  for (const c of program.commands) c.exitOverride();
  // With --json a script reads standard output: errors come there too, as one JSON object.
  const isJson = argv.includes("--json");
  const jsonError = (error: JsonError, all?: JsonError[]) => {
    if (isJson) io.out(`${JSON.stringify(all === undefined ? { error } : { error, errors: all })}\n`);
  };
  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      )
        return ExitCode.ok;
      jsonError({
        code: "usage",
        message: e.message.replace(/^error: /, ""),
        file: null,
        line: null,
        col: null,
      });
      return ExitCode.usage;
    }
    if (e instanceof TopologyError) {
      if (isJson) {
        const all = e.errors.map((d) => ({
          code: d.code,
          message: d.message,
          file: d.file,
          line: d.line === 0 ? null : d.line,
          col: d.col === 0 ? null : d.col,
          path: d.path,
        }));
        jsonError(all[0] ?? { code: e.code, message: e.message, file: null, line: null, col: null }, all);
      }
      // Every error of the file, one `file:line:col: message` per line, as compilers print them.
      io.err(`${e.message}\n`);
      return ExitCode.usage;
    }
    if (e instanceof UserError) {
      // A message may echo what the user typed: never let it drive the terminal.
      const message = escapeUnprintable(e.message);
      jsonError({ code: e.code, message, file: null, line: null, col: null });
      io.err(`vnet: ${message}\n`);
      return e.exitCode;
    }
    io.err(
      `vnet: internal error (a bug in vnet, please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 70;
  }
}
