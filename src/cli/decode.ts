/**
 * `vnet decode FILE`: every layer of every frame of a pcap or pcapng file (told apart by magic),
 * including the frame inside a VXLAN packet. One tcpdump-like line per frame, or with `--json`
 * one JSON object per line: `{ "frame", "timeNs", "length", "interface", "layers" }`, plus
 * `interfaceName` (pcapng, the name its interface block gives: vnet's captures say
 * `device:port`), `capturedLength` when the capture cut the frame and `direction` (pcapng, when
 * recorded: "inbound" or "outbound"). The text line names the interface when the capture has
 * more than one (a live stream: once its second interface is declared), so a frame's cable is
 * known in a capture of a whole run.
 *
 * A malformed frame is output (its last layer is an `error`), not a failure: exit 0. A file that
 * cannot be read or is not a capture exits 2 with one line. A capture cut short prints the frames
 * before the cut, then says where the file broke and exits 2.
 */

import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { escapeUnprintable } from "../model/diagnostics.ts";
import { CaptureStream, captureInterfaceCount, captureRecords } from "../wire/capture.ts";
import { type DecodeOptions, decodePacket, type Layer, summarizeLayers } from "../wire/decode.ts";
import { WireError } from "../wire/error.ts";
import type { CaptureRecord } from "../wire/pcap.ts";
import { VXLAN_UDP_PORT } from "../wire/vxlan.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";

/** Nanoseconds as seconds with nine decimals, exactly (bigint arithmetic, no rounding). */
export function formatSeconds(timeNs: bigint): string {
  const sec = timeNs / 1_000_000_000n;
  const ns = timeNs % 1_000_000_000n;
  return `${sec}.${ns.toString().padStart(9, "0")}`;
}

function jsonLine(n: number, rec: CaptureRecord, layers: Layer[]): string {
  // timeNs is written as an exact integer even past 2^53 (real captures: ns since the epoch).
  const head = `{"frame":${n},"timeNs":${rec.timeNs.toString()},"length":${rec.originalLength}`;
  const captured = rec.data.length !== rec.originalLength ? `,"capturedLength":${rec.data.length}` : "";
  const name = rec.interfaceName === undefined ? "" : `,"interfaceName":${JSON.stringify(rec.interfaceName)}`;
  const iface = `,"interface":${rec.interfaceId}${name}`;
  const dir = rec.direction ? `,"direction":"${rec.direction}"` : "";
  return `${head}${captured}${iface}${dir},"layers":${JSON.stringify(layers)}}\n`;
}

function textLine(n: number, rec: CaptureRecord, layers: Layer[], isNamingInterface: boolean): string {
  const cut = rec.data.length !== rec.originalLength ? ` (${rec.data.length} captured)` : "";
  const dir = rec.direction === "inbound" ? " in" : rec.direction === "outbound" ? " out" : "";
  // An interface without a name is shown by its index, as Wireshark's frame.interface_id.
  const iface = isNamingInterface
    ? ` ${rec.interfaceName === undefined ? `if${rec.interfaceId}` : escapeUnprintable(rec.interfaceName).replace(/\s/g, "_")}`
    : "";
  return `${n} ${formatSeconds(rec.timeNs)}${iface}${dir} ${rec.originalLength} bytes${cut}: ${summarizeLayers(layers)}\n`;
}

/** A capture's fault, as the one line a user sees. */
function userError(name: string, e: unknown, framesDone: number): unknown {
  if (!(e instanceof WireError)) return e;
  // The readers' messages name the offset where they know one; "not a capture file" is about byte 0.
  const where = e.message.includes("offset") || e.offset === 0 ? "" : ` at byte ${e.offset}`;
  const after = framesDone > 0 ? `, after ${framesDone} frame${framesDone === 1 ? "" : "s"}` : "";
  return new UserError(`${escapeUnprintable(name)}: ${e.message}${where}${after}`, ExitCode.usage);
}

/** Numbers, formats and batches the frames of one capture. */
class FramePrinter {
  count = 0;
  private pending = "";
  constructor(
    private readonly io: Io,
    private readonly isJson: boolean,
    private readonly options: DecodeOptions,
    /** How many interfaces the capture has (so far, for a stream). */
    private readonly interfaceCount: () => number,
  ) {}
  add(rec: CaptureRecord): void {
    this.count++;
    const layers = decodePacket(rec.data, rec.linkType, this.options);
    this.pending += this.isJson
      ? jsonLine(this.count, rec, layers)
      : textLine(this.count, rec, layers, this.interfaceCount() > 1);
    // Lines are written in batches: one write per frame is slow on a capture of a million frames.
    if (this.pending.length >= 65536) this.flush();
  }
  flush(): void {
    if (this.pending) this.io.out(this.pending);
    this.pending = "";
  }
}

/** Decodes `bytes` (a capture file named `name`) to `io`; throws UserError for a bad file. */
export function decodeCapture(
  name: string,
  bytes: Uint8Array,
  io: Io,
  isJson: boolean,
  options: DecodeOptions = {},
  maxFrames = Number.POSITIVE_INFINITY,
): void {
  const interfaces = isJson ? 1 : captureInterfaceCount(bytes);
  const out = new FramePrinter(io, isJson, options, () => interfaces);
  try {
    const records = captureRecords(bytes); // refuses a foreign file even with --count 0
    for (const rec of maxFrames > 0 ? records : []) {
      out.add(rec);
      // Stop before asking the reader for more: the next record may be the broken one.
      if (out.count === maxFrames) break;
    }
  } catch (e) {
    throw userError(name, e, out.count);
  } finally {
    out.flush();
  }
}

/** Thrown from inside the stream's record callback when `--count` frames were printed. */
const ENOUGH = Symbol("enough frames");

/**
 * Decodes a capture arriving in chunks (standard input), printing each frame as soon as its
 * record is complete, so `dumpcap -w - | vnet decode -` shows frames live. What it prints, and
 * how it fails, is what `decodeCapture` prints for the same bytes in a file.
 */
export async function decodeCaptureStream(
  name: string,
  chunks: AsyncIterable<Uint8Array>,
  io: Io,
  isJson: boolean,
  options: DecodeOptions = {},
  maxFrames = Number.POSITIVE_INFINITY,
): Promise<void> {
  const stream = new CaptureStream();
  const out = new FramePrinter(io, isJson, options, () => stream.interfacesSeen);
  const onRecord = (rec: CaptureRecord) => {
    out.add(rec);
    // Stop before the stream reads on: the next record may be the broken one.
    if (out.count === maxFrames) throw ENOUGH;
  };
  try {
    if (maxFrames === 0) return;
    for await (const chunk of chunks) {
      stream.feed(chunk, onRecord);
      out.flush();
    }
    stream.end(onRecord);
  } catch (e) {
    if (e === ENOUGH) return;
    throw userError(name, e, out.count);
  } finally {
    out.flush();
  }
}

function parsePorts(option: string, text: string | undefined): number[] {
  if (text === undefined) return [];
  return text.split(",").map((p) => {
    const port = Number(p.trim());
    if (!/^\d+$/.test(p.trim()) || port < 1 || port > 65535) {
      throw new UserError(`${option}: "${p}" is not a UDP port (1-65535)`);
    }
    return port;
  });
}

export function register(program: Command, io: Io): void {
  program
    .command("decode")
    .description("print every layer of every frame of a pcap or pcapng file, VXLAN inner frames too")
    .argument("<file>", "capture file (pcap or pcapng, told apart by its magic); - for standard input")
    .option("--json", "one JSON object per frame (JSON Lines): frame, timeNs, length, layers")
    .option(
      "--vxlan-port <ports>",
      `more UDP ports carrying VXLAN besides ${VXLAN_UDP_PORT}, comma-separated (8472: Linux's old default)`,
    )
    .option("--wireguard-port <ports>", "more UDP ports carrying WireGuard besides 51820, comma-separated")
    .option("-c, --count <n>", "stop after n frames")
    .action(
      (
        file: string,
        opts: { json?: boolean; vxlanPort?: string; wireguardPort?: string; count?: string },
      ) => {
        const vxlanPorts = [VXLAN_UDP_PORT, ...parsePorts("--vxlan-port", opts.vxlanPort)];
        const wireguardPorts = [51820, ...parsePorts("--wireguard-port", opts.wireguardPort)];
        let maxFrames = Number.POSITIVE_INFINITY;
        if (opts.count !== undefined) {
          if (!/^\d+$/.test(opts.count))
            throw new UserError(`--count: "${opts.count}" is not a number of frames`);
          maxFrames = Number(opts.count);
        }
        const options = { vxlanPorts, wireguardPorts };
        if (file === "-") {
          // The capture comes on standard input (`dumpcap -w - | vnet decode -`), shown live.
          return decodeCaptureStream("-", process.stdin, io, opts.json === true, options, maxFrames).finally(
            () => process.stdin.destroy(),
          );
        }
        let bytes: Uint8Array;
        try {
          bytes = readFileSync(file);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          const why =
            code === "ENOENT"
              ? "no such file"
              : code === "EISDIR"
                ? "is a directory"
                : code === "EACCES"
                  ? "permission denied"
                  : (e as Error).message;
          // The name is printed as it was typed, but never with a control character acting on the terminal.
          throw new UserError(`${escapeUnprintable(file)}: ${why}`);
        }
        decodeCapture(file, bytes, io, opts.json === true, options, maxFrames);
      },
    );
}
