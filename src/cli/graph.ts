/**
 * `vnet graph FILE [--format svg|dot|mermaid] [--trace A B] [-o OUT]`: the topology as a picture
 * (servers as boxes holding their NICs, VFs, vswitches and VMs; switches, routers, cables with
 * their ports and VLANs, LAGs, GRE tunnels and VPNs), with `--trace` the echo's path drawn over
 * it and drops in red. The model and the three renderings are `src/analysis/graph.ts`; this
 * file parses arguments, runs the trace through the facade and writes the text.
 */

import type { Command } from "commander";
import { buildGraph, GRAPH_FORMATS, type GraphFormat, markTrace, renderGraph } from "../analysis/graph.ts";
import { formatDiagnostic } from "../model/diagnostics.ts";
import { loadTopologyFile } from "../model/load.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { guard, loadNetwork, writeOutput } from "./net-common.ts";

/** The format: --format if given, else from OUT's extension (.svg, .dot/.gv, .mmd/.md), else svg. */
export function chooseFormat(format: string | undefined, out: string | undefined): GraphFormat {
  if (format !== undefined) {
    if (!(GRAPH_FORMATS as readonly string[]).includes(format))
      throw new UserError(`--format: "${format}" is not one of: ${GRAPH_FORMATS.join(", ")}`);
    return format as GraphFormat;
  }
  const ext = out?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === "dot" || ext === "gv") return "dot";
  if (ext === "mmd" || ext === "md" || ext === "mermaid") return "mermaid";
  return "svg";
}

export function register(program: Command, io: Io): void {
  program
    .command("graph")
    .description(
      "draw the topology (SVG, Graphviz DOT or Mermaid), optionally with a traced ping's path over it",
    )
    .argument("<file>", "topology file (YAML)")
    .option(
      "--format <format>",
      "svg, dot or mermaid (default: from -o's extension: .svg svg, .dot/.gv dot, .mmd/.md mermaid; otherwise svg)",
    )
    .option(
      "--trace <vms...>",
      "trace one ping from VM A to B (a VM or IPv4 address) and draw its path: --trace A B",
    )
    .option(
      "--json",
      "print the graph's model instead: { name, clusters, nodes, edges, caption } with each element's trace mark",
    )
    .option("-o, --output <file>", "write to this file instead of standard output")
    .option("--seed <n>", "simulation seed (with --trace)", "1")
    .addHelpText(
      "after",
      "\nExamples:\n  vnet graph examples/seed-datacenter.yaml -o seed.svg\n  vnet graph examples/seed-datacenter.yaml --trace web1 db1 --format dot | dot -Tpng > path.png\n  vnet graph examples/vpn-sites.yaml --format mermaid > vpn.mmd\n\nThe echo's path is blue, drops are red; output is deterministic (same file, same bytes).",
    )
    .action(
      async (
        file: string,
        opts: { format?: string; json?: boolean; trace?: string[]; output?: string; seed: string },
      ) => {
        const format = chooseFormat(opts.format, opts.output);
        if (opts.trace !== undefined && opts.trace.length !== 2)
          throw new UserError(`--trace takes two names, FROM and TO (got ${opts.trace.length})`);
        let graph: ReturnType<typeof buildGraph>;
        if (opts.trace !== undefined) {
          const [from, to] = opts.trace;
          const net = await loadNetwork(file, io, opts);
          graph = buildGraph(net.topology);
          graph = markTrace(
            graph,
            guard(() => net.trace(from, to)),
          );
        } else {
          let loaded: ReturnType<typeof loadTopologyFile>;
          try {
            loaded = loadTopologyFile(file);
          } catch (e) {
            if (e instanceof Error && /^E[A-Z]+$/.test(String((e as { code?: unknown }).code)))
              throw new UserError(`${file}: ${e.message}`, ExitCode.usage, "unreadable-file");
            throw e;
          }
          for (const w of loaded.warnings) io.err(`${formatDiagnostic(w)}\n`);
          graph = buildGraph(loaded.topology);
        }
        const isMarkdown = opts.json !== true && format === "mermaid" && /\.md$/i.test(opts.output ?? "");
        const rendered =
          opts.json === true ? `${JSON.stringify(graph, null, 2)}\n` : renderGraph(graph, format);
        // In a Markdown file the diagram goes in a mermaid code block, as GitHub renders it.
        const text = isMarkdown ? `\`\`\`mermaid\n${rendered}\`\`\`\n` : rendered;
        writeOutput(io, opts.output, text);
      },
    );
}
