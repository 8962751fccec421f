/**
 * `vnet schema`: prints the topology file's JSON Schema (draft 2020-12), generated from the
 * loader's zod schema, so editors can complete and check topology files (for example with the
 * YAML language server's `# yaml-language-server: $schema=...` comment).
 */

import type { Command } from "commander";
import { topologyJsonSchema } from "../model/schema.ts";
import type { Io } from "./io.ts";

export function register(program: Command, io: Io): void {
  program
    .command("schema")
    .description("print the JSON Schema (draft 2020-12) of topology files, for editors")
    .option("--json", "the schema is JSON already; accepted for uniformity")
    .action(() => {
      io.out(`${JSON.stringify(topologyJsonSchema(), null, 2)}\n`);
    });
}
