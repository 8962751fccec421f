/**
 * Errors a user can cause (a wrong argument, an unreadable file, a broken topology). The CLI
 * prints their message on one line and exits with their code; it never prints a stack trace
 * for them. Anything else reaching the top is a bug in vnet and is reported as such.
 */

export const ExitCode = {
  ok: 0,
  /** The network said no: undelivered, packet loss, a failed check of the network itself. */
  networkFailure: 1,
  /** A usage, file or topology error. */
  usage: 2,
} as const;

export class UserError extends Error {
  override readonly name = "UserError";
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.usage,
    /** For scripts (`--json` errors): what kind of mistake, e.g. `usage`, `unknown-vm`, `unreadable-file`. */
    readonly code: string = "usage",
  ) {
    super(message);
  }
}
