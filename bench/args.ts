/**
 * Command-line numbers of the bench programs (`--racks 10`, `--flows 50`): a positive integer
 * after the flag, or the fallback when the flag is absent.
 */
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}
