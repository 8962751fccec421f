/**
 * A lab: a topology brought up for real (`vnet up`). Every VM becomes a network namespace
 * (`vnet-LAB-VM`) whose interfaces are TAP devices carrying the VM's vNICs with the configured
 * MAC, address, prefix, gateway and MTU; the kernel in the namespace is the guest. Everything
 * else (vswitches with their port groups, teams and security policy, SR-IOV NICs, physical
 * switches, gateways, routers, tunnels) is vnet's own dataplane, the same devices the simulator
 * builds, run by the real-time world (`realtime.ts`) and bound to the TAPs (`tap-port.ts`).
 *
 * What a lab creates is written to a state file (`/run/vnet/LAB.json`, or `$VNET_STATE_DIR`)
 * before it is created, so `vnet down LAB` removes it all even after a crash. The running lab
 * answers on a control socket beside the state file (one JSON request and one JSON answer per
 * connection): its status and counters, and the hop records of a real ping for
 * `vnet trace --real`.
 */

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { join } from "node:path";
import { type FrameLabel, labelFrame } from "../analysis/frame-label.ts";
import type { HopRecord } from "../dataplane/trace.ts";
import type { Topology } from "../model/types.ts";
import { type BuiltNetwork, buildWorld } from "../sim/build.ts";
import { CaptureSet } from "../sim/capture.ts";
import { formatIpv4, formatMac } from "../wire/addr.ts";
import { loadNative, nativeFailure } from "./native.ts";
import { configureGuests, deleteNetnsAll, hasNetns, ipBatch, isRoot, RealModeError, run } from "./netns.ts";
import { RealtimeDriver } from "./realtime.ts";
import { TapPort } from "./tap-port.ts";

/** The TAP writer thread's ring: frames in flight to the kernel, and the largest it copies. */
const WRITER_SLOTS = 4096;
const WRITER_SLOT_BYTES = 2048;

/** VMs a lab may have: each is a namespace and a few processes' worth of setup. */
export const MAX_LAB_VMS = 1000;
/** Lab names: short, so namespace and file names stay readable and safe. */
const LAB_NAME = /^[a-z0-9][a-z0-9-]{0,23}$/;

export interface LabNicState {
  name: string;
  /** The TAP's name in the root namespace before it moved (it is `name` inside). */
  tap: string;
  mac: string;
  ip: string;
  prefixLen: number;
  gateway: string | null;
  mtu: number;
}

export interface LabState {
  lab: string;
  /** The topology file, as given. */
  file: string;
  /** A copy of the file as the lab was built from it (the file may change or go afterwards). */
  topology?: string;
  /** The process running the dataplane. */
  pid: number;
  status: "starting" | "up";
  startedAt: string;
  /** Every namespace created (or about to be), for `vnet down`. */
  namespaces: string[];
  vms: { name: string; ns: string; nics: LabNicState[] }[];
  /** The TAPs of `external:` ports, where they are (they vanish with the lab's process). */
  external: { port: string; interface: string; netns: string | null }[];
  /** The control socket of the running lab. */
  control: string;
}

/** Refuses a topology with more VMs than a lab brings up. */
export function checkLabSize(topology: Topology): void {
  const vmCount = topology.servers.reduce((n, s) => n + s.vms.length, 0);
  if (vmCount > MAX_LAB_VMS) {
    throw new RealModeError(
      `${vmCount} VMs: a lab brings up at most ${MAX_LAB_VMS} (each VM is a namespace); the simulator runs any size`,
      "too-big",
    );
  }
}

export function stateDir(): string {
  return process.env.VNET_STATE_DIR ?? "/run/vnet";
}

export function checkLabName(lab: string): void {
  if (!LAB_NAME.test(lab)) {
    throw new RealModeError(
      `lab name "${lab}": use 1-24 lowercase letters, digits and dashes, starting with a letter or digit`,
      "usage",
    );
  }
}

export function statePath(lab: string): string {
  return join(stateDir(), `${lab}.json`);
}

export function readState(lab: string): LabState | null {
  try {
    return JSON.parse(readFileSync(statePath(lab), "utf8")) as LabState;
  } catch {
    return null;
  }
}

function writeState(state: LabState): void {
  mkdirSync(stateDir(), { recursive: true, mode: 0o755 });
  const tmp = `${statePath(state.lab)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, statePath(state.lab));
}

/** Whether process `pid` runs (a zombie, killed and not yet reaped, does not). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // "pid (comm) S ...": the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true;
  }
}

/** The namespace of VM `vm` in lab `lab`. */
export function nsName(lab: string, vm: string): string {
  return `vnet-${lab}-${vm}`;
}

/** A TAP name unique to the lab and short enough for the kernel (15 bytes). */
function tapName(lab: string, index: number): string {
  return `vt${createHash("sha256").update(lab).digest("hex").slice(0, 5)}x${index}`;
}

/** Everything the real world needs, checked before anything is created. */
export function checkRealPrerequisites(): void {
  if (!isRoot()) {
    throw new RealModeError(
      "real mode needs root (it creates network namespaces and TAP devices): run it with sudo",
      "not-root",
    );
  }
  if (loadNative() === null) throw new RealModeError(nativeFailure(), "no-native");
  if (!existsSync("/dev/net/tun"))
    throw new RealModeError("/dev/net/tun is missing: this kernel has no TUN/TAP", "no-tun");
  run("ip", ["-V"]);
}

export interface LabUpOptions {
  lab: string;
  file: string;
  seed?: number;
  /** Tables of the live world (`vnet status LAB fdb`): the facade over it, given from above. */
  show?: LabShow;
  /** Progress lines ("web1: namespace vnet-lab-web1, eth0 10.0.10.11/24"). */
  log?: (line: string) => void;
  /**
   * Aborts the bring-up (Ctrl-C, `vnet down` meanwhile): checked between guests, and what was
   * made is removed before `labUp` rejects.
   */
  signal?: AbortSignal;
}

export interface RunningLab {
  state: LabState;
  built: BuiltNetwork;
  driver: RealtimeDriver;
  taps: { vm: string; nic: string; port: TapPort }[];
  /** Stops the dataplane, closes the TAPs, deletes the namespaces and the state file. */
  close(): Promise<void>;
}

/**
 * Brings `topology` up for real: namespaces and TAPs for the VMs, the dataplane for the rest,
 * the state file and the control socket. On any failure, what was created is removed again.
 */
export async function labUp(topology: Topology, options: LabUpOptions): Promise<RunningLab> {
  const { lab } = options;
  const log = options.log ?? (() => {});
  checkLabName(lab);
  checkRealPrerequisites();
  const previous = readState(lab);
  if (previous !== null) {
    if (isAlive(previous.pid) && previous.pid !== process.pid) {
      throw new RealModeError(
        `lab "${lab}" is already up (pid ${previous.pid}): vnet down ${lab} first`,
        "lab-exists",
      );
    }
    // A crashed lab: clear what it left before starting again (the log is this start's own when
    // `vnet up --detach` opened it).
    labDown(lab, { keepLog: true });
  }
  checkLabSize(topology);
  const native = loadNative();
  if (native === null) throw new RealModeError(nativeFailure(), "no-native");

  const built = buildWorld(topology, { seed: options.seed ?? 1, vmPorts: "external" });
  const driver = new RealtimeDriver(built.world);
  const state: LabState = {
    lab,
    file: options.file,
    topology: join(stateDir(), `${lab}.topology.yaml`),
    pid: process.pid,
    status: "starting",
    startedAt: new Date().toISOString(),
    namespaces: [],
    vms: [],
    external: [],
    control: join(stateDir(), `${lab}.sock`),
  };
  const taps: RunningLab["taps"] = [];
  // One writer thread for every TAP of the lab: frames up to WRITER_SLOT_BYTES go through it.
  const writer = new native.TapWriter(
    WRITER_SLOTS,
    WRITER_SLOT_BYTES,
    built.vmPorts.length + built.externalPorts.length,
  );
  driver.afterTurn = () => writer.flush();
  const writerFor = () => ({
    thread: writer,
    port: taps.length,
    slotBytes: WRITER_SLOT_BYTES,
    slots: WRITER_SLOTS,
  });
  let server: Server | null = null;
  let isClosed = false;
  const close = async (): Promise<void> => {
    if (isClosed) return;
    isClosed = true;
    driver.stop();
    writer.close();
    for (const t of taps) t.port.close();
    if (server !== null) await new Promise<void>((resolve) => server?.close(() => resolve()));
    deleteNetnsAll(state.namespaces);
    rmSync(state.control, { force: true });
    if (state.topology !== undefined) rmSync(state.topology, { force: true });
    rmSync(statePath(lab), { force: true });
  };
  try {
    writeState(state);
    copyFileSync(options.file, state.topology as string);
    const byVm = new Map<string, LabState["vms"][number]>();
    let tapIndex = 0;
    // Every namespace first (recorded before it exists), in one batch of the root namespace.
    for (const p of built.vmPorts) {
      if (byVm.has(p.vm.name)) continue;
      const ns = nsName(lab, p.vm.name);
      const entry = { name: p.vm.name, ns, nics: [] as LabNicState[] };
      byVm.set(p.vm.name, entry);
      state.vms.push(entry);
      state.namespaces.push(ns);
    }
    writeState(state);
    deleteNetnsAll(state.namespaces);
    ipBatch(state.namespaces.map((ns) => `netns add ${ns}`));
    await new Promise((r) => setImmediate(r));
    if (options.signal?.aborted) throw new RealModeError(`lab ${lab}: bring-up interrupted`, "interrupted");
    // A TAP per vNIC, bound to its vswitch port or VF, moved into its VM's namespace (one batch).
    const guestLines = new Map<string, string[]>();
    const moves: string[] = [];
    for (const p of built.vmPorts) {
      const vm = p.vm;
      const entry = byVm.get(vm.name)!;
      const nic = vm.nics[p.nic];
      const name = tapName(lab, tapIndex++);
      const tap = native.tapOpen(name);
      const port = new TapPort(native, tap, driver, {
        device: p.end.device,
        port: p.end.port,
        endName: p.end.name,
        farName: `${vm.name}:${nic.name}`,
        captureName: p.end.captureName,
        mtu: nic.mtu,
        hopKind: nic.attachment.kind === "vf" ? "vf" : "vnic",
        writer: writerFor(),
      });
      taps.push({ vm: vm.name, nic: nic.name, port });
      built.world.bindPort(p.end.device, p.end.port, port);
      const ip = `${formatIpv4(nic.ip)}/${nic.prefixLen}`;
      entry.nics.push({
        name: nic.name,
        tap: name,
        mac: formatMac(nic.mac),
        ip,
        prefixLen: nic.prefixLen,
        gateway: nic.gateway === null ? null : formatIpv4(nic.gateway),
        mtu: nic.mtu,
      });
      moves.push(`link set ${name} netns ${entry.ns}`);
      const lines = guestLines.get(entry.ns) ?? ["link set lo up"];
      lines.push(
        `link set ${name} name ${nic.name}`,
        `link set ${nic.name} address ${formatMac(nic.mac)} mtu ${nic.mtu}`,
        `addr add ${ip} dev ${nic.name}`,
        `link set ${nic.name} up`,
      );
      // The first NIC with a gateway gives the default route, as vnet's guests route.
      if (nic.gateway !== null && vm.nics.findIndex((n) => n.gateway !== null) === p.nic) {
        lines.push(`route add default via ${formatIpv4(nic.gateway)} dev ${nic.name}`);
      }
      guestLines.set(entry.ns, lines);
      log(`${vm.name}: namespace ${entry.ns}, ${nic.name} ${formatMac(nic.mac)} ${ip}`);
    }
    ipBatch(moves);
    // Each guest, with one process: IPv4 only (the topology's addresses), announcing its address
    // when its interface comes up as vnet's simulated guests do; then its interfaces.
    // Four at a time, the event loop free meanwhile: a signal stops it between guests.
    await configureGuests([...guestLines], { parallel: 4, signal: options.signal });
    if (options.signal?.aborted) throw new RealModeError(`lab ${lab}: bring-up interrupted`, "interrupted");
    for (const x of built.externalPorts) {
      const { spec, end } = x;
      if (spec.netns !== null && !hasNetns(spec.netns)) {
        throw new RealModeError(
          `external port ${end.name}: the namespace ${spec.netns} does not exist (create it first: ip netns add ${spec.netns})`,
          "no-netns",
        );
      }
      const tap = native.tapOpen(spec.interface);
      const port = new TapPort(native, tap, driver, {
        device: end.device,
        port: end.port,
        endName: end.name,
        farName: `external:${spec.interface}`,
        captureName: end.captureName,
        mtu: spec.mtu,
        hopKind: "link",
        writer: writerFor(),
      });
      taps.push({ vm: "", nic: end.name, port });
      built.world.bindPort(end.device, end.port, port);
      state.external.push({ port: end.name, interface: spec.interface, netns: spec.netns });
      if (spec.netns !== null) run("ip", ["link", "set", spec.interface, "netns", spec.netns]);
      // A TAP left in vnet's own namespace is a cable end for a real switch to plug in: the
      // host's IPv6 autoconfiguration (router and multicast listener messages) on it would be
      // traffic nobody sent into the topology.
      else run("sysctl", ["-q", "-w", `net.ipv6.conf.${spec.interface.replaceAll(".", "/")}.disable_ipv6=1`]);
      ipBatch([`link set ${spec.interface} mtu ${spec.mtu} up`], spec.netns ?? undefined);
      log(
        `${end.name}: external, TAP ${spec.interface}${spec.netns === null ? "" : ` in namespace ${spec.netns}`}`,
      );
    }
    server = await serveControl(state.control, options.show?.(built) ?? null, built, driver, taps);
    driver.start();
    state.status = "up";
    writeState(state);
  } catch (e) {
    await close();
    throw e;
  }
  return { state, built, driver, taps, close };
}

/**
 * Removes everything lab `lab` created, from its state file: stops its process if it still
 * runs, deletes its namespaces (their interfaces go with them) and the state file. Safe to run
 * twice; returns what it did.
 */
export function labDown(
  lab: string,
  options: { keepLog?: boolean } = {},
): { found: boolean; stopped: number | null; removed: string[] } {
  checkLabName(lab);
  const state = readState(lab);
  if (state === null) return { found: false, stopped: null, removed: [] };
  let stopped: number | null = null;
  const existing = state.namespaces.filter(hasNetns);
  if (state.pid !== process.pid && isAlive(state.pid)) {
    try {
      process.kill(state.pid, "SIGTERM");
      stopped = state.pid;
    } catch {}
    // It removes what it made itself; give it a moment, then make sure.
    const until = Date.now() + 3000;
    while (isAlive(state.pid) && Date.now() < until) run("sleep", ["0.05"]);
    if (isAlive(state.pid)) {
      try {
        process.kill(state.pid, "SIGKILL");
      } catch {}
    }
  }
  deleteNetnsAll(state.namespaces);
  // Gone now, whether the lab's process removed them on its way out or this did.
  const removed = existing.filter((ns) => !hasNetns(ns));
  rmSync(state.control, { force: true });
  if (state.topology !== undefined) rmSync(state.topology, { force: true });
  rmSync(statePath(lab), { force: true });
  if (options.keepLog !== true) rmSync(join(stateDir(), `${lab}.log`), { force: true });
  return { found: true, stopped, removed };
}

/**
 * What the guests' kernels dropped on their vNICs, by "vm:nic": frames a guest could not hand
 * to vnet (its TAP's queue full while vnet held back, see TapPort) count as its TX drops, frames
 * its stack refused as RX drops. Read from each namespace (`ip -s -j link`); a namespace that
 * cannot be read is left out.
 */
export function guestDrops(state: LabState): Map<string, { txDropped: number; rxDropped: number }> {
  const out = new Map<string, { txDropped: number; rxDropped: number }>();
  // One shell for every namespace (a process per VM from here took 36 s for 1,000 VMs): each
  // namespace's `ip -s -j link` on a line of its own, after a line naming it.
  const r = spawnSync(
    "sh",
    [
      "-c",
      'for ns; do echo "@@ $ns"; ip -n "$ns" -s -j link show 2>/dev/null || echo; done',
      "sh",
      ...state.vms.map((v) => v.ns),
    ],
    { encoding: "utf8", maxBuffer: 1 << 30 },
  );
  const byNs = new Map<string, string>();
  let current: string | null = null;
  for (const line of (r.stdout ?? "").split("\n")) {
    if (line.startsWith("@@ ")) current = line.slice(3);
    else if (current !== null && line.trim() !== "") byNs.set(current, (byNs.get(current) ?? "") + line);
  }
  for (const v of state.vms) {
    let links: { ifname: string; stats64?: { rx: { dropped: number }; tx: { dropped: number } } }[];
    try {
      links = JSON.parse(byNs.get(v.ns) ?? "");
    } catch {
      continue;
    }
    for (const n of v.nics) {
      const l = links.find((x) => x.ifname === n.name);
      if (l?.stats64 !== undefined)
        out.set(`${v.name}:${n.name}`, { txDropped: l.stats64.tx.dropped, rxDropped: l.stats64.rx.dropped });
    }
  }
  return out;
}

/** What `vnet status` shows of a running lab, from its control socket. */
export interface LabStatus {
  pid: number;
  uptimeNs: number;
  overruns: number;
  /** How frames cross into and out of the kernel: batched through io_uring, or a system call each. */
  io: "io_uring" | "read/write";
  ports: {
    vm: string;
    nic: string;
    rxFrames: number;
    rxBytes: number;
    txFrames: number;
    txBytes: number;
    drops: [string, number][];
  }[];
  devices: { name: string; drops: [string, number][] }[];
}

/** The hop records of a real exchange, with the labels of the frames they name. */
export interface LabTrace {
  records: HopRecord[];
  labels: [number, FrameLabel][];
}

type ControlRequest =
  | { op: "status" }
  | { op: "trace-start" }
  | { op: "trace-stop" }
  | { op: "show"; what: string; device?: string }
  | { op: "capture-start" }
  | { op: "capture-stop"; perLink?: boolean };

/** A capture of the live world, as the control socket returns it (bytes in base64). */
export interface LabCaptureFile {
  fileName: string;
  base64: string;
  frames: number;
  interfaces: string[];
}

/** Answers `show` questions about the lab's live world (the facade over it, from above). */
export type LabShow = (built: BuiltNetwork) => (what: string, device?: string) => Record<string, unknown>[];

async function serveControl(
  path: string,
  show: ReturnType<LabShow> | null,
  built: BuiltNetwork,
  driver: RealtimeDriver,
  taps: RunningLab["taps"],
): Promise<Server> {
  rmSync(path, { force: true });
  let captures: CaptureSet | null = null;
  let records: HopRecord[] = [];
  let labels = new Map<number, FrameLabel>();
  const answer = (req: ControlRequest): unknown => {
    switch (req.op) {
      case "status":
        for (const t of taps) t.port.syncDrops();
        return {
          pid: process.pid,
          uptimeNs: driver.clock.nowNs(),
          overruns: driver.overruns,
          io: taps.length > 0 && taps.every((t) => t.port.io === "io_uring") ? "io_uring" : "read/write",
          ports: taps.map((t) => ({
            vm: t.vm,
            nic: t.nic,
            ...t.port.counters,
            drops: t.port.drops.entries(),
          })),
          // Devices, then cables (a frame over a cable's MTU is the cable's drop).
          devices: [
            ...built.world.devices
              .filter((d) => d.drops.total > 0)
              .map((d) => ({ name: d.name, drops: d.drops.entries() })),
            ...built.world.links
              .filter((l) => l.drops.total > 0)
              .map((l) => ({ name: l.name, drops: l.drops.entries() })),
          ],
        } satisfies LabStatus;
      case "trace-start":
        records = [];
        labels = new Map();
        built.world.setTraceSink(
          (r) => records.push(r),
          (f) => {
            const l = labelFrame(f.buf, f.start, f.end);
            const prev = labels.get(f.id);
            if (prev === undefined || prev.kind === "other") labels.set(f.id, l);
          },
        );
        return { ok: true };
      case "show":
        if (show === null) return { error: "this lab answers no show questions" };
        return { rows: show(req.what, req.device) };
      case "capture-start":
        // Real dates: world time 0 is when the driver started, on the wall clock.
        captures = new CaptureSet(built.world, undefined, BigInt(driver.clock.unixEpochOffsetNs));
        built.world.setCaptures(captures);
        return { ok: true };
      case "capture-stop": {
        built.world.setCaptures(null);
        const files = (captures?.encodeAll({ perLink: req.perLink === true }) ?? []).map((f) => ({
          fileName: f.fileName,
          base64: Buffer.from(f.bytes).toString("base64"),
          frames: f.frames,
          interfaces: f.interfaces,
        }));
        captures = null;
        return { files } satisfies { files: LabCaptureFile[] };
      }
      case "trace-stop":
        built.world.setTraceSink(null);
        return { records, labels: [...labels] } satisfies LabTrace;
      default:
        return { error: "unknown request" };
    }
  };
  const server = createServer((socket) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => {
      text += chunk;
      const nl = text.indexOf("\n");
      if (nl < 0) return;
      let reply: unknown;
      try {
        reply = answer(JSON.parse(text.slice(0, nl)) as ControlRequest);
      } catch (e) {
        reply = { error: e instanceof Error ? e.message : String(e) };
      }
      socket.end(`${JSON.stringify(reply)}\n`);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  return server;
}

/** Asks the running lab something over its control socket. */
export async function askLab<T>(state: LabState, request: ControlRequest, timeoutMs = 5000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const socket = createConnection(state.control);
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new RealModeError(`lab "${state.lab}" did not answer on ${state.control}`, "no-answer"));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (c) => {
      text += c;
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        const reply = JSON.parse(text) as { error?: string };
        if (typeof reply.error === "string") reject(new RealModeError(reply.error, "control"));
        else resolve(reply as T);
      } catch {
        reject(new RealModeError(`lab "${state.lab}" answered nonsense on ${state.control}`, "control"));
      }
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(new RealModeError(`lab "${state.lab}" is not answering (${e.message}): is it up?`, "no-answer"));
    });
  });
}
