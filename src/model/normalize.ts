/**
 * The loader's second pass: from a topology file whose shape the schema accepted to the
 * normalized `Topology` (types.ts), checking meaning on the way. Names are resolved (port
 * groups, vswitches, uplinks, SR-IOV NICs, link endpoints), defaults are filled in, MAC
 * addresses assigned, and what a network engineer would trip over is reported: duplicate
 * names, MACs and IPs, network/broadcast addresses as hosts, cables reused, VFs over their
 * limit, VLANs a port or trunk on the way does not carry, layer-2 loops. Every finding is a
 * diagnostic with a document path; `load-text.ts` turns paths into `file:line:col`.
 * Browser-safe.
 */

import { KeyError, keyFromBase64, keysEqual, publicKeyOf } from "../vpn/keys.ts";
import {
  formatIpv4,
  formatMac,
  type Ipv4,
  isMulticastMac,
  type Mac,
  prefixMask,
  sameSubnet,
  tryParseIpv4,
  tryParseMac,
} from "../wire/addr.ts";
import { type DiagnosticCode, type DocPath, formatDocPath, type Severity } from "./diagnostics.ts";
import {
  describePort,
  egressTagging,
  formatVlanList,
  ingressVlan,
  type SwitchEdge,
  SwitchGraph,
  VlanGraphs,
} from "./l2.ts";
import { assignMacs } from "./mac-assign.ts";
import type {
  FaultFile,
  LinkFile,
  PortGroupTeamingFile,
  SecurityFile,
  ServerFile,
  SwitchFile,
  SwitchPortFile,
  TeamingFile,
  TopologyFile,
  VmNicFile,
  VswitchFile,
} from "./schema.ts";
import { hint } from "./suggest.ts";
import type { ExternalPortSpec, FaultSpec, MlagSpec } from "./types.ts";
import {
  type LagSpec,
  LINK_DEFAULTS,
  type LinkSpec,
  MAX_FAULT_TIME_NS,
  type NicSpec,
  type PortGroupSpec,
  type RouteSpec,
  type SecurityPolicy,
  type ServerSpec,
  type StormControlSpec,
  type SviSpec,
  SWITCHING_DEFAULTS,
  type SwitchPortSpec,
  type SwitchSpec,
  type TeamingSpec,
  type Topology,
  type TunnelSpec,
  type VmNicSpec,
  type VmSpec,
  type VniSpec,
  type VpnPeerSpec,
  type VpnSpec,
  type VswitchSpec,
  type VtepSpec,
} from "./types.ts";
import {
  parseBandwidth,
  parseCidr,
  parseDelay,
  parseLoss,
  parsePps,
  parseTime,
  parseVlanRange,
} from "./units.ts";

/** A finding before it has a place in the file: `at` says whether to point at the key or its value. */
export interface RawDiagnostic {
  code: DiagnosticCode;
  path: DocPath;
  at: "key" | "value";
  message: string;
  severity: Severity;
}

export interface NormalizeResult {
  /** Null when there is any error. */
  topology: Topology | null;
  diagnostics: RawDiagnostic[];
}

/** The SR-IOV limit a NIC has when the file does not say (the source document: 128 to 512). */
export const DEFAULT_MAX_VFS = 128;

const REJECT_ALL: SecurityPolicy = {
  allowPromiscuous: false,
  allowMacChanges: false,
  allowForgedTransmits: false,
  spoofGuard: true,
};

interface NodeInfo {
  kind: "switch" | "server" | "vm";
  path: DocPath;
  server?: string;
}

interface NicInfo {
  spec: NicSpec;
  path: DocPath;
  macGiven: boolean;
  uplinkOf: string | null;
  vfsUsed: number;
}

/** A VM NIC as seen from the physical network: which server NICs carry it, in which VLAN, how tagged. */
interface Attachment {
  server: string;
  /** Server NICs that carry the frames out (vswitch uplinks, or the VF's NIC). */
  nics: string[];
  /** The VID on the wire; null: untagged (a VF without vlan, an untagged port group). */
  tag: number | null;
  /** For messages: "port group web of server1/vs0", "a VF of server1:eth1". */
  what: string;
  vmName: string;
  /** The attachment's key (portGroup or vf), where VLAN findings point. */
  path: DocPath;
  /** The VM NIC itself. */
  nicPath: DocPath;
  ip: Ipv4;
  prefixLen: number;
  /** The NIC's gateway when it is inside the NIC's subnet (else already warned about). */
  gateway: Ipv4 | null;
  /** The VLAN the NIC's frames are in on the switch; null until known (untagged on the wire). */
  vid: number | null;
}

/** A port group's VLAN for messages: "VLAN 10", or "untagged" for VLAN 0 (vSphere's "None"). */
function vlanWord(vlan: number): string {
  return vlan === 0 ? "untagged" : `VLAN ${vlan}`;
}

/** "a", "a and b", "a, b and c". */
function andList(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function showIp(ip: Ipv4, prefixLen?: number): string {
  return prefixLen === undefined ? formatIpv4(ip) : `${formatIpv4(ip)}/${prefixLen}`;
}

function securityValue(v: "accept" | "reject" | boolean | undefined, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  return v === true || v === "accept";
}

function resolveSecurity(s: SecurityFile | undefined, base: SecurityPolicy): SecurityPolicy {
  if (s === undefined) return base;
  return {
    allowPromiscuous: securityValue(s.promiscuous, base.allowPromiscuous),
    allowMacChanges: securityValue(s.macChanges, base.allowMacChanges),
    allowForgedTransmits: securityValue(s.forgedTransmits, base.allowForgedTransmits),
    spoofGuard: s.spoofGuard ?? base.spoofGuard,
  };
}

/**
 * When the shape check failed, the loader still runs this pass on the file with the broken
 * parts cut out, so every error is reported at once. `translate` maps a path in the cut file to
 * the user's file (list items may have gone); `isPrunedUnder` says whether something at, above
 * or below a path was cut, so that a reference to it is not reported as unknown a second time.
 */
export interface NormalizeOptions {
  translate: (path: DocPath) => DocPath;
  isPrunedUnder: (path: DocPath) => boolean;
}

const WHOLE_FILE: NormalizeOptions = { translate: (p) => p, isPrunedUnder: () => false };

export function normalize(
  file: TopologyFile,
  sourcePath: string,
  options: NormalizeOptions = WHOLE_FILE,
): NormalizeResult {
  return new Normalizer(file, sourcePath, options).run();
}

class Normalizer {
  private readonly diags: RawDiagnostic[] = [];
  private readonly nodes = new Map<string, NodeInfo>();
  /** Every IPv4 address in use (VM NICs, SVIs), to find duplicates. */
  private readonly ips = new Map<Ipv4, DocPath>();
  /** Hypervisor VTEPs and the VNIs of their port groups, in file order (for `overlay`). */
  private readonly vteps: { ip: Ipv4; vnis: Set<number> }[] = [];
  /** Every MAC the file gives, to find duplicates and to keep assigned ones away from them. */
  private readonly macsGiven = new Map<Mac, DocPath>();
  /** NICs, switches and VM NICs that need an assigned MAC: identity -> setter. */
  private readonly macWanted = new Map<string, (mac: Mac) => void>();
  private readonly serverNics = new Map<string, Map<string, NicInfo>>();
  private readonly attachments: Attachment[] = [];
  /** Gateway (SVI) address per VLAN, per switch, for subnet hints. */
  private readonly svis = new Map<number, { sw: string; svi: SviSpec }[]>();
  /** Names claimed twice (reported once); links naming them are not checked further. */
  private readonly clashing = new Set<string>();
  /** Every `node:port` some link names, valid or not, so an error there is not echoed as "no link". */
  private readonly cabled = new Set<string>();
  /** Switch ports whose configuration has an error: VLAN checks through them would only echo it. */
  private readonly brokenPorts = new Set<string>();
  /** (landing switch, VLAN) pairs whose path to the gateway has been checked. */
  private readonly pathsChecked = new Set<string>();
  /** Names of the standalone routers (normalized as switches whose ports are all routed). */
  private readonly routerNames = new Set<string>();
  /** Every routed interface address (routed ports, router interfaces, loopbacks): possible gateways. */
  private readonly routedIps = new Map<Ipv4, string>();
  /** The MLAG domain of each switch in one. */
  private readonly mlagOf = new Map<string, MlagSpec>();
  /** Normalized vswitches by `server/vswitch`, for checks across the file. */
  private readonly vswitchSpecs = new Map<string, VswitchSpec>();
  /** Per VLAN, the switch cables that carry it (set by `checkLayer2`). */
  private vlanGraphs: VlanGraphs | null = null;
  /** VLANs with a loop that was refused (a switch on it runs no spanning tree). */
  private readonly refusedLoopVlans = new Set<number>();

  constructor(
    private readonly file: TopologyFile,
    private readonly sourcePath: string,
    private readonly options: NormalizeOptions,
  ) {}

  /** A path of this pass as the user's file has it, for messages. */
  private show(path: DocPath): string {
    return formatDocPath(this.options.translate(path));
  }

  private isCut(path: DocPath): boolean {
    return this.options.isPrunedUnder(path);
  }

  private report(
    code: DiagnosticCode,
    severity: Severity,
    path: DocPath,
    message: string,
    at: "key" | "value",
  ): void {
    const original = this.options.translate(path);
    const p = formatDocPath(original);
    this.diags.push({ code, path: original, at, severity, message: p === "" ? message : `${p}: ${message}` });
  }
  private errorCount(): number {
    let n = 0;
    for (const d of this.diags) if (d.severity === "error") n++;
    return n;
  }
  private error(code: DiagnosticCode, path: DocPath, message: string, at: "key" | "value" = "value"): void {
    this.report(code, "error", path, message, at);
  }
  private warn(code: DiagnosticCode, path: DocPath, message: string, at: "key" | "value" = "value"): void {
    this.report(code, "warning", path, message, at);
  }

  run(): NormalizeResult {
    const routersIn = this.file.routers ?? {};
    // A standalone router is a switch whose every port is routed: one code path for both.
    const switchesIn: Record<string, SwitchFile> = { ...(this.file.switches ?? {}) };
    for (const [name, r] of Object.entries(routersIn)) {
      if (switchesIn[name] !== undefined) continue; // the name clash is reported
      switchesIn[name] = {
        ports: Object.fromEntries(
          Object.entries(r.interfaces).map(([p, ip]) => [p, { mode: "routed" as const, ip }]),
        ),
        ...(r.routes === undefined ? {} : { routes: r.routes }),
        ...(r.loopback === undefined ? {} : { loopback: r.loopback }),
        ...(r.mac === undefined ? {} : { mac: r.mac }),
      };
      this.routerNames.add(name);
    }
    const serversIn = this.file.servers ?? {};
    this.collectNames(this.file.switches ?? {}, serversIn, routersIn);

    const switches: SwitchSpec[] = [];
    const portConfigured = new Map<string, Map<string, { spec: SwitchPortSpec; path: DocPath }>>();
    for (const [name, sw] of Object.entries(switchesIn)) {
      const isRouter = this.routerNames.has(name);
      const path = isRouter ? ["routers", name] : ["switches", name];
      const ports = new Map<string, { spec: SwitchPortSpec; path: DocPath }>();
      for (const [portName, cfg] of Object.entries(sw.ports ?? {})) {
        const before = this.errorCount();
        const ppath = isRouter ? [...path, "interfaces", portName] : [...path, "ports", portName];
        const spec = this.switchPort(portName, cfg, ppath, isRouter ? ppath : [...ppath, "ip"]);
        if (this.errorCount() > before || this.isCut(ppath)) this.brokenPorts.add(`${name}:${portName}`);
        ports.set(portName, { spec, path: ppath });
      }
      const lags = this.lags(name, sw, ports, path);
      portConfigured.set(name, ports);
      const gateway: SviSpec[] = [];
      for (const [vidText, cidrText] of Object.entries(sw.gateway ?? {})) {
        const gpath = [...path, "gateway", vidText];
        const vid = Number(vidText);
        if (!(vid >= 1 && vid <= 4094)) {
          this.error(
            "bad-vlan",
            gpath,
            `${vidText} is not a usable VLAN id: VLAN ids are 1..4094 (IEEE 802.1Q reserves 0 and 4095)`,
            "key",
          );
          continue;
        }
        const c = parseCidr(typeof cidrText === "string" ? cidrText : cidrText.ip);
        const sviMtu = typeof cidrText === "string" ? 1500 : (cidrText.mtu ?? 1500);
        if (c === undefined) continue; // the schema has reported it
        if (!this.checkHostAddress(gpath, c.ip, c.prefixLen)) continue;
        // Two SVIs of one switch in overlapping subnets: its routing table could not tell the
        // VLANs apart (a router refuses such an interface address).
        const overlap = gateway.find((g) => sameSubnet(g.ip, c.ip, Math.min(g.prefixLen, c.prefixLen)));
        if (overlap !== undefined) {
          const net = (g: { ip: Ipv4; prefixLen: number }) =>
            showIp((g.ip & prefixMask(g.prefixLen)) >>> 0, g.prefixLen);
          this.error(
            "subnet-overlap",
            gpath,
            `the subnet ${net(c)} overlaps VLAN ${overlap.vid}'s ${net(overlap)} on ${name}; each VLAN of a switch needs its own subnet`,
          );
          continue;
        }
        this.claimIp(gpath, c.ip);
        const svi: SviSpec = { vid, ip: c.ip, prefixLen: c.prefixLen, mtu: sviMtu };
        gateway.push(svi);
        const list = this.svis.get(vid) ?? [];
        list.push({ sw: name, svi });
        this.svis.set(vid, list);
      }
      const tableSize = sw.macTableSize ?? SWITCHING_DEFAULTS.macTableSize;
      // The switch's own MAC is a static entry in every VLAN it has an SVI in.
      if (gateway.length > tableSize)
        this.error(
          "mac-table-too-small",
          [...path, "macTableSize"],
          `${name} has ${gateway.length} SVIs, each a static entry of its MAC table, but macTableSize is ${tableSize}; raise it to at least ${gateway.length}`,
        );
      const loopback = this.loopback(sw.loopback, [...path, "loopback"]);
      const routes = this.routes(name, sw.routes ?? [], [...path, "routes"], gateway, ports, loopback);
      const vtep = this.switchVtep(name, sw, [...path, "vtep"], loopback, gateway, ports);
      const nat = isRouter ? this.nat(routersIn[name]?.nat, ports, [...path, "nat"]) : null;
      const spec: SwitchSpec = {
        name,
        ports: [],
        gateway,
        lags,
        loopback,
        routes,
        isRouter,
        ...(nat === null ? {} : { nat }),
        vtep,
        mac: 0,
        macTableSize: sw.macTableSize ?? SWITCHING_DEFAULTS.macTableSize,
        macAgingSec: sw.macAgingSec ?? SWITCHING_DEFAULTS.macAgingSec,
        stp: sw.stp === undefined ? null : { mode: sw.stp.mode, priority: sw.stp.priority ?? 32768 },
      };
      this.mac([...path, "mac"], sw.mac, `switch/${name}`, (m) => {
        spec.mac = m;
      });
      switches.push(spec);
    }

    const mlag = this.mlagDomains(switches);
    const servers: ServerSpec[] = [];
    for (const [name, sv] of Object.entries(serversIn)) servers.push(this.server(name, sv));

    const { links, linkIndexes } = this.links(this.file.links ?? [], switchesIn, serversIn);
    const external = this.externals(links, switchesIn, serversIn);

    // Switch ports: configured ones in file order, then ports only a link names (access VLAN 1).
    for (const sw of switches) {
      const configured = portConfigured.get(sw.name)!;
      for (const { spec } of configured.values()) sw.ports.push(spec);
      for (const ends of [...links.map((l) => [l.a, l.b]), ...external.map((x) => [x.end])]) {
        for (const end of ends) {
          if (end.node === sw.name && !configured.has(end.port)) {
            const spec: SwitchPortSpec = { name: end.port, mode: "access", vlan: 1 };
            configured.set(end.port, { spec, path: [] });
            sw.ports.push(spec);
          }
        }
      }
    }

    this.stpPorts(switches, links, linkIndexes);
    const tunnels = this.tunnels(switches, links);
    const vpns = this.vpns(switches, links);
    this.checkOverlayMtu(servers, links);
    this.checkLayer2(switches, links, linkIndexes, portConfigured);
    this.assignMacs();
    const faults = this.faults(this.file.faults ?? [], links);
    const overlay = this.overlay();

    const hasError = this.diags.some((d) => d.severity === "error");
    const topology: Topology | null = hasError
      ? null
      : {
          name: this.file.name,
          description: this.file.description ?? "",
          sourcePath: this.sourcePath,
          switches,
          servers,
          links,
          ...(mlag.length > 0 ? { mlag } : {}),
          ...(tunnels.length > 0 ? { tunnels } : {}),
          ...(vpns.length > 0 ? { vpns } : {}),
          ...(faults.length > 0 ? { faults } : {}),
          ...(overlay.length > 0 ? { overlay } : {}),
          ...(external.length > 0 ? { external } : {}),
        };
    return { topology, diagnostics: this.diags };
  }

  // --- names -------------------------------------------------------------------------------

  private collectNames(
    switchesIn: Record<string, unknown>,
    serversIn: Record<string, ServerFile>,
    routersIn: Record<string, unknown>,
  ): void {
    const claim = (name: string, info: NodeInfo) => {
      const prev = this.nodes.get(name);
      if (prev === undefined) {
        this.nodes.set(name, info);
        return;
      }
      const what =
        prev.kind === "vm" && info.kind === "vm"
          ? `VM name '${name}' is already used on ${prev.server} (${this.show(prev.path)}); VM names are unique in the whole file`
          : `name '${name}' is already the name of a ${prev.kind} (${this.show(prev.path)}); switches, servers and VMs need distinct names because links and commands address them by name`;
      this.clashing.add(name);
      this.error("duplicate-name", info.path, what, "key");
    };
    for (const name of Object.keys(switchesIn)) claim(name, { kind: "switch", path: ["switches", name] });
    for (const name of Object.keys(routersIn)) claim(name, { kind: "switch", path: ["routers", name] });
    for (const name of Object.keys(serversIn)) claim(name, { kind: "server", path: ["servers", name] });
    for (const [sname, sv] of Object.entries(serversIn)) {
      for (const vm of Object.keys(sv.vms ?? {}))
        claim(vm, { kind: "vm", path: ["servers", sname, "vms", vm], server: sname });
    }
  }

  // --- addresses -----------------------------------------------------------------------------

  /** A MAC given in the file (checked and claimed) or, when absent, one to assign later. */
  private mac(path: DocPath, text: string | undefined, identity: string, set: (mac: Mac) => void): void {
    if (text === undefined) {
      this.macWanted.set(identity, set);
      return;
    }
    const mac = tryParseMac(text);
    if (mac === undefined) return; // the schema has reported it
    if (isMulticastMac(mac)) {
      this.error(
        "bad-mac",
        path,
        `${text} is a multicast address (the I/G bit, the lowest bit of the first octet, is set); a NIC needs a unicast MAC such as 02:00:00:00:00:01`,
      );
      return;
    }
    if (mac === 0) {
      this.error(
        "bad-mac",
        path,
        `${text} is the all-zero MAC; give a unicast MAC such as 02:00:00:00:00:01`,
      );
      return;
    }
    const prev = this.macsGiven.get(mac);
    if (prev !== undefined) {
      this.error("duplicate-mac", path, `duplicate MAC ${formatMac(mac)}: ${this.show(prev)} has it too`);
      return;
    }
    this.macsGiven.set(mac, path);
    set(mac);
  }

  private assignMacs(): void {
    const taken = new Set<Mac>(this.macsGiven.keys());
    const assigned = assignMacs([...this.macWanted.keys()], taken);
    for (const [id, set] of this.macWanted) set(assigned.get(id)!);
  }

  /** Refuses addresses that cannot be a host's: network/broadcast of the prefix, 0/8, loopback, class D/E. */
  private checkHostAddress(path: DocPath, ip: Ipv4, prefixLen: number): boolean {
    const first = ip >>> 24;
    if (first === 0 || first === 127 || first >= 224) {
      const why =
        first === 127
          ? "a loopback address"
          : first >= 224
            ? "a multicast or reserved address"
            : "in 0.0.0.0/8";
      this.error(
        "bad-address",
        path,
        `${formatIpv4(ip)} is ${why} (RFC 1122 §3.2.1.3); use a unicast host address`,
      );
      return false;
    }
    // RFC 3021 lets /31 use both addresses; /32 is a single host.
    if (prefixLen <= 30) {
      const mask = prefixMask(prefixLen);
      const net = (ip & mask) >>> 0;
      const bcast = (net | ~mask) >>> 0;
      if (ip === net) {
        this.error(
          "bad-address",
          path,
          `${showIp(ip, prefixLen)} is the network address of its subnet; pick a host address such as ${showIp(net + 1, prefixLen)}`,
        );
        return false;
      }
      if (ip === bcast) {
        this.error(
          "bad-address",
          path,
          `${showIp(ip, prefixLen)} is the broadcast address of its subnet; pick a host address such as ${showIp(net + 1, prefixLen)}`,
        );
        return false;
      }
    }
    return true;
  }

  private claimIp(path: DocPath, ip: Ipv4): void {
    const prev = this.ips.get(ip);
    if (prev !== undefined) {
      this.error(
        "duplicate-ip",
        path,
        `duplicate IP address ${formatIpv4(ip)}: ${this.show(prev)} has it too`,
      );
      return;
    }
    this.ips.set(ip, path);
  }

  // --- switches ------------------------------------------------------------------------------

  private switchPort(name: string, cfg: SwitchPortFile, path: DocPath, ipPath: DocPath): SwitchPortSpec {
    const mode = cfg.mode ?? "access";
    if (mode === "routed") {
      for (const key of ["vlan", "vlans", "native"] as const)
        if (cfg[key] !== undefined)
          this.error(
            "port-config",
            [...path, key],
            `${key} is for access and trunk ports; a routed port carries no VLANs`,
            "key",
          );
      if (cfg.ip === undefined) {
        this.error(
          "port-config",
          path,
          "a routed port needs ip: its address and prefix, e.g. ip: 10.0.1.0/31",
          "value",
        );
        return { name, mode: "access", vlan: 1 };
      }
      const c = parseCidr(cfg.ip);
      if (c === undefined || !this.checkHostAddress(ipPath, c.ip, c.prefixLen))
        return { name, mode: "access", vlan: 1 };
      this.claimIp(ipPath, c.ip);
      this.routedIps.set(c.ip, name);
      return { name, mode: "routed", ip: c.ip, prefixLen: c.prefixLen, mtu: cfg.mtu ?? 1500 };
    }
    for (const key of ["ip", "mtu"] as const)
      if (cfg[key] !== undefined)
        this.error(
          "port-config",
          [...path, key],
          `${key} is for routed ports; add mode: routed (a switch's address in a VLAN is an SVI: gateway: { VLAN: address })`,
          "key",
        );
    if (mode === "access") {
      if (cfg.vlans !== undefined)
        this.error(
          "port-config",
          [...path, "vlans"],
          "vlans is for trunk ports; add mode: trunk, or give an access port one vlan",
          "key",
        );
      if (cfg.native !== undefined)
        this.error("port-config", [...path, "native"], "native is for trunk ports; add mode: trunk", "key");
      return {
        name,
        mode: "access",
        vlan: cfg.vlan ?? 1,
        ...this.stormControlOf(cfg, path),
      };
    }
    if (cfg.vlan !== undefined)
      this.error(
        "port-config",
        [...path, "vlan"],
        "vlan is for access ports; a trunk lists its VLANs in vlans: [...] (and native: N for untagged frames)",
        "key",
      );
    let vlans: number[] | null = null;
    if (Array.isArray(cfg.vlans)) {
      const set = new Set<number>();
      cfg.vlans.forEach((entry, i) => {
        const r = parseVlanRange(entry);
        if (!r.ok) {
          this.error("port-config", [...path, "vlans", i], r.message);
          return;
        }
        for (let v = r.value[0]; v <= r.value[1]; v++) set.add(v);
      });
      vlans = [...set].sort((a, b) => a - b);
      if (cfg.vlans.length === 0)
        this.warn("port-config", [...path, "vlans"], "the trunk allows no VLAN, so it carries nothing");
    }
    const nativeVlan = cfg.native ?? null;
    if (nativeVlan !== null && vlans !== null && !vlans.includes(nativeVlan))
      this.error(
        "port-config",
        [...path, "native"],
        `native VLAN ${nativeVlan} is not among the trunk's vlans (${formatVlanList(vlans)}); add ${nativeVlan} to vlans or drop native`,
      );
    return {
      name,
      mode: "trunk",
      vlans,
      nativeVlan,
      ...this.stormControlOf(cfg, path),
    };
  }

  /**
   * A switch's LAGs: each LAG's port configuration (`ports.NAME`, default access VLAN 1) moves
   * from the LAG's name to each member, which carries it with `lag` set, so every check that
   * looks at a cabled port sees the LAG's VLANs.
   */
  private lags(
    sw: string,
    file: SwitchFile,
    ports: Map<string, { spec: SwitchPortSpec; path: DocPath }>,
    path: DocPath,
  ): LagSpec[] {
    const out: LagSpec[] = [];
    const lagsIn = file.lags ?? {};
    const memberOf = new Map<string, string>();
    for (const [lagName, l] of Object.entries(lagsIn)) {
      const lpath = [...path, "lags", lagName];
      const cfg = ports.get(lagName);
      ports.delete(lagName);
      const base: SwitchPortSpec = cfg?.spec ?? { name: lagName, mode: "access", vlan: 1 };
      const members: string[] = [];
      l.members.forEach((m, j) => {
        const mpath = [...lpath, "members", j];
        if (m === lagName || lagsIn[m] !== undefined) {
          this.error("lag-config", mpath, `${m} is a LAG; a LAG's members are physical ports`);
          return;
        }
        const other = memberOf.get(m);
        if (other !== undefined) {
          this.error(
            "lag-config",
            mpath,
            other === lagName
              ? `${m} is listed twice in ${lagName}`
              : `${m} is already a member of ${other}; a port belongs to one LAG`,
          );
          return;
        }
        const own = ports.get(m);
        if (own !== undefined && own.path.length > 0 && !own.spec.lag) {
          this.error(
            "lag-config",
            own.path,
            `${m} is a member of ${lagName}; configure the LAG (ports.${lagName}), not its members`,
            "key",
          );
          this.brokenPorts.add(`${sw}:${m}`);
        }
        memberOf.set(m, lagName);
        members.push(m);
        ports.set(m, { spec: { ...base, name: m, lag: lagName }, path: cfg?.path ?? lpath });
        if (cfg !== undefined && this.brokenPorts.has(`${sw}:${lagName}`)) this.brokenPorts.add(`${sw}:${m}`);
      });
      out.push({
        name: lagName,
        members,
        lacp: l.lacp ?? "active",
        rate: l.rate ?? "slow",
        hash: l.hash ?? "l3l4",
        isMlag: l.mlag ?? false,
      });
    }
    return out;
  }

  /**
   * A vswitch's (base null) or port group's teaming: uplink names checked against the vswitch's
   * uplinks; a port group's keys not given come from the vswitch's (vSphere's inheritance).
   */
  private teaming(
    file: TeamingFile | PortGroupTeamingFile | undefined,
    uplinks: string[],
    path: DocPath,
    base: TeamingSpec | null,
  ): TeamingSpec {
    const policy = file?.policy ?? base?.policy ?? "originating-port";
    const names = (list: string[] | undefined, key: string): string[] | undefined => {
      if (list === undefined) return undefined;
      const ok: string[] = [];
      list.forEach((u, i) => {
        if (!uplinks.includes(u)) {
          if (!this.isCut(path.slice(0, 3)))
            this.error(
              "unknown-name",
              [...path, key, i],
              `${u} is not an uplink of this vswitch${hint(u, uplinks)}`,
            );
        } else if (ok.includes(u)) this.error("teaming-config", [...path, key, i], `${u} is listed twice`);
        else ok.push(u);
      });
      return ok;
    };
    const activeIn = names(file?.active, "active");
    const standbyIn = names(file?.standby, "standby");
    let active: string[];
    let standby: string[];
    if (activeIn !== undefined) {
      active = activeIn;
      standby = standbyIn ?? [];
    } else if (standbyIn !== undefined) {
      standby = standbyIn;
      active = uplinks.filter((u) => !standby.includes(u));
    } else {
      active = base?.active ?? [...uplinks];
      standby = base?.standby ?? [];
    }
    for (const u of standby)
      if (active.includes(u))
        this.error("teaming-config", [...path, "standby"], `${u} is both active and standby; list it once`);
    if (uplinks.length > 0 && active.length === 0 && file !== undefined)
      this.error(
        "teaming-config",
        [...path, "active"],
        "at least one active uplink is needed (standbys only replace failed active ones)",
      );
    let lacp: TeamingSpec["lacp"] = base?.lacp ?? null;
    const lacpIn = file !== undefined && "lacp" in file ? file.lacp : undefined;
    if (base === null) {
      if (policy === "lacp")
        lacp = { mode: lacpIn?.mode ?? "active", rate: lacpIn?.rate ?? "slow", hash: lacpIn?.hash ?? "l3l4" };
      else if (lacpIn !== undefined)
        this.warn(
          "teaming-config",
          [...path, "lacp"],
          `lacp settings are used only with policy: lacp (this policy is ${policy})`,
          "key",
        );
    } else if ((policy === "lacp") !== (base.policy === "lacp")) {
      this.error(
        "teaming-config",
        [...path, "policy"],
        base.policy === "lacp"
          ? "the vswitch's uplinks form a LACP LAG; a port group cannot use another policy"
          : "lacp is a vswitch's policy (its uplinks form the LAG), not a port group's: set it under the vswitch's teaming",
      );
    }
    if (policy === "lacp" && (file?.active !== undefined || file?.standby !== undefined))
      this.error(
        "teaming-config",
        [...path, file?.active !== undefined ? "active" : "standby"],
        "with policy lacp the uplinks are one LAG: no active or standby order",
        "key",
      );
    return {
      policy,
      active: policy === "lacp" ? [...uplinks] : active,
      standby: policy === "lacp" ? [] : standby,
      failback: file?.failback ?? base?.failback ?? true,
      notifySwitches: file?.notifySwitches ?? base?.notifySwitches ?? true,
      lacp,
    };
  }

  /** `{ stormControl }` when the port configures it, else nothing (the spec stays as before). */
  private stormControlOf(cfg: SwitchPortFile, path: DocPath): { stormControl?: StormControlSpec } {
    const sc = this.stormControl(cfg.stormControl, path);
    return sc === null ? {} : { stormControl: sc };
  }

  /** Storm-control levels from the file (numbers or "1000pps"/"10kpps" text), or null. */
  private stormControl(
    cfg:
      | { broadcast?: number | string; multicast?: number | string; unknownUnicast?: number | string }
      | undefined,
    path: DocPath,
  ): StormControlSpec | null {
    if (cfg === undefined) return null;
    const level = (key: "broadcast" | "multicast" | "unknownUnicast"): number | null => {
      const v = cfg[key];
      if (v === undefined) return null;
      const pps = parsePps(v);
      if (pps === null) {
        this.error(
          "bad-unit",
          [...path, "stormControl", key],
          `expected packets per second above 0 (1000, "1000pps", "10kpps"), got ${JSON.stringify(v)}`,
        );
        return null;
      }
      return pps;
    };
    return {
      broadcastPps: level("broadcast"),
      multicastPps: level("multicast"),
      unknownUnicastPps: level("unknownUnicast"),
    };
  }

  // --- servers -------------------------------------------------------------------------------

  private server(name: string, sv: ServerFile): ServerSpec {
    const path = ["servers", name];
    const nics = new Map<string, NicInfo>();
    this.serverNics.set(name, nics);
    const spec: ServerSpec = { name, nics: [], vswitches: [], vms: [] };

    (sv.nics ?? []).forEach((entry, i) => {
      const npath = [...path, "nics", i];
      const obj = typeof entry === "string" ? { name: entry } : entry;
      const prev = nics.get(obj.name);
      if (prev !== undefined) {
        this.error(
          "duplicate-name",
          typeof entry === "string" ? npath : [...npath, "name"],
          `NIC '${obj.name}' is listed twice on ${name} (also ${this.show(prev.path)})`,
        );
        return;
      }
      let sriov: NicSpec["sriov"] = null;
      if (typeof entry !== "string" && entry.sriov !== undefined) {
        const maxVfs = entry.sriov.maxVfs ?? DEFAULT_MAX_VFS;
        if (entry.sriov.vfs > maxVfs)
          this.error(
            "too-many-vfs",
            [...npath, "sriov", "vfs"],
            `${entry.sriov.vfs} VFs is more than this NIC supports (maxVfs ${maxVfs}${entry.sriov.maxVfs === undefined ? ", the default; NIC models reach 512, say so with maxVfs" : ""})`,
          );
        sriov = { vfs: entry.sriov.vfs, maxVfs };
      }
      const nic: NicSpec = { name: obj.name, mac: 0, sriov };
      const info: NicInfo = { spec: nic, path: npath, macGiven: false, uplinkOf: null, vfsUsed: 0 };
      nics.set(obj.name, info);
      spec.nics.push(nic);
      const macText = typeof entry === "string" ? undefined : entry.mac;
      this.mac([...npath, "mac"], macText, `server/${name}/${obj.name}`, (m) => {
        nic.mac = m;
      });
    });
    const nicNames = [...nics.keys()];

    const pgIndex = new Map<string, string[]>(); // port group name -> vswitches having it
    for (const [vsName, vs] of Object.entries(sv.vswitches ?? {})) {
      const vpath = [...path, "vswitches", vsName];
      // On a host, NICs and switches are all interfaces with names in one namespace (Linux
      // netdevs; vnet's devices are named server/name likewise).
      if (nics.has(vsName))
        this.error(
          "duplicate-name",
          vpath,
          `vswitch '${vsName}' has the name of a NIC of ${name}; NICs and vswitches of a server share one namespace`,
          "key",
        );
      const uplinks: string[] = [];
      (vs.uplinks ?? []).forEach((u, j) => {
        const upath = [...vpath, "uplinks", j];
        const nic = nics.get(u);
        if (nic === undefined) {
          if (!this.isCut([...path, "nics"]))
            this.error("unknown-name", upath, `no NIC '${u}' on ${name}${hint(u, nicNames)}`);
          return;
        }
        if (uplinks.includes(u)) {
          this.error("duplicate-name", upath, `${u} is listed twice as an uplink of ${vsName}`);
          return;
        }
        if (nic.uplinkOf !== null) {
          this.error(
            "nic-in-use",
            upath,
            `${u} is already an uplink of vswitch ${nic.uplinkOf}; a physical NIC serves one vswitch`,
          );
          return;
        }
        nic.uplinkOf = vsName;
        uplinks.push(u);
      });
      const vsSecurity = resolveSecurity(vs.security, REJECT_ALL);
      const teaming = this.teaming(vs.teaming, uplinks, [...vpath, "teaming"], null);
      const portGroups: PortGroupSpec[] = [];
      const vnisHere = new Set<number>();
      for (const [pgName, pg] of Object.entries(vs.portGroups ?? {})) {
        const pgPath = [...vpath, "portGroups", pgName];
        if (pg.vni !== undefined) vnisHere.add(pg.vni);
        if (pg.vni !== undefined && pg.vlan !== undefined)
          this.warn(
            "port-config",
            [...pgPath, "vlan"],
            `${pgName} has both vlan ${pg.vlan} and vni ${pg.vni}: it is an overlay segment (VNI ${pg.vni}), whose frames never leave tagged, so vlan ${pg.vlan} is not used; remove vlan`,
            "key",
          );
        // Neither vlan nor vni (or vlan 0): untagged, vSphere's VLAN ID "None (0)".
        const isRefused = this.isCut([...pgPath, "vlan"]) || this.isCut([...pgPath, "vni"]);
        portGroups.push({
          name: pgName,
          // A vlan the shape check refused stays undefined, as before VNIs, so no check follows it.
          vlan: pg.vni !== undefined ? 0 : isRefused ? (pg.vlan as number) : (pg.vlan ?? 0),
          vni: pg.vni ?? null,
          security: resolveSecurity(pg.security, vsSecurity),
          teaming:
            pg.teaming === undefined
              ? null
              : this.teaming(pg.teaming, uplinks, [...vpath, "portGroups", pgName, "teaming"], teaming),
        });
        const l = pgIndex.get(pgName) ?? [];
        l.push(vsName);
        pgIndex.set(pgName, l);
      }
      const vsSpec: VswitchSpec = {
        name: vsName,
        uplinks,
        portGroups,
        vtep: this.vtep(name, vsName, vs.vtep, vnisHere, uplinks, vpath),
        teaming,
        ...(vs.stormControl === undefined
          ? {}
          : { stormControl: this.stormControl(vs.stormControl, path.concat(["vswitches", vsName])) }),
        macTableSize: vs.macTableSize ?? SWITCHING_DEFAULTS.macTableSize,
        macAgingSec: vs.macAgingSec ?? SWITCHING_DEFAULTS.macAgingSec,
      };
      spec.vswitches.push(vsSpec);
      this.vswitchSpecs.set(`${name}/${vsName}`, vsSpec);
    }

    for (const [vmName, vm] of Object.entries(sv.vms ?? {})) {
      const vmPath = [...path, "vms", vmName];
      const vmSpec: VmSpec = { name: vmName, server: name, nics: [] };
      vm.nics.forEach((nicIn, i) => {
        const nic = this.vmNic(spec, pgIndex, vmName, nicIn, i, [...vmPath, "nics", i]);
        if (nic !== null) vmSpec.nics.push(nic);
      });
      spec.vms.push(vmSpec);
    }
    // The vswitch knows its vNICs' MACs as static entries (as vSphere does): they must fit.
    for (const vs of spec.vswitches) {
      let vnics = 0;
      for (const vm of spec.vms)
        for (const n of vm.nics)
          if (n.attachment.kind === "portGroup" && n.attachment.vswitch === vs.name) vnics++;
      if (vs.vtep !== null) vnics++; // the VTEP's vmkernel port is a static entry too
      if (vnics > vs.macTableSize) {
        const vpath = [...path, "vswitches", vs.name];
        const given = sv.vswitches?.[vs.name]?.macTableSize !== undefined;
        this.error(
          "mac-table-too-small",
          given ? [...vpath, "macTableSize"] : vpath,
          `${vs.name} has ${vnics} VM NICs, each a static entry of its MAC table, but macTableSize is ${vs.macTableSize}; raise it to at least ${vnics}`,
          given ? "value" : "key",
        );
      }
    }
    return spec;
  }

  /**
   * A vswitch's VTEP: required when a port group has a VNI; its address is claimed like any
   * other and its gateway must be on its subnet. It joins the VLAN checks as an attachment of
   * its VLAN (the VLAN must reach the gateway's SVI, the gateway must be an SVI of it).
   */
  private vtep(
    server: string,
    vsName: string,
    file: VswitchFile["vtep"],
    vnis: Set<number>,
    uplinks: string[],
    vpath: DocPath,
  ): VtepSpec | null {
    const path = [...vpath, "vtep"];
    if (file === undefined) {
      if (vnis.size > 0)
        this.error(
          "port-config",
          vpath,
          `${server}/${vsName} has port groups backed by VNI ${[...vnis].join(", ")}, so it needs a VTEP: vtep: { ip: 10.100.0.11/24, gateway: 10.100.0.1, vlan: 100 }`,
        );
      return null;
    }
    const c = parseCidr(file.ip);
    if (c === undefined || !this.checkHostAddress([...path, "ip"], c.ip, c.prefixLen)) return null;
    this.claimIp([...path, "ip"], c.ip);
    let gateway: Ipv4 | null = null;
    if (file.gateway !== undefined) {
      const gw = parseCidr(`${file.gateway}/32`)?.ip;
      if (gw !== undefined) {
        if (gw === c.ip || !sameSubnet(gw, c.ip, c.prefixLen)) {
          this.error(
            "bad-gateway",
            [...path, "gateway"],
            gw === c.ip
              ? `the gateway ${file.gateway} is the VTEP's own address`
              : `the VTEP's gateway ${file.gateway} is outside its subnet ${showIp((c.ip & prefixMask(c.prefixLen)) >>> 0, c.prefixLen)}; a VTEP reaches its gateway by ARP`,
          );
        } else gateway = gw;
      }
    }
    const spec: VtepSpec = {
      ip: c.ip,
      prefixLen: c.prefixLen,
      gateway,
      vlan: file.vlan,
      mac: 0,
      mtu: file.mtu ?? 1500,
    };
    this.mac(path, undefined, `vtep/${server}/${vsName}`, (m) => {
      spec.mac = m;
    });
    this.vteps.push({ ip: c.ip, vnis });
    this.attachments.push({
      server,
      nics: uplinks,
      tag: file.vlan,
      what: `the VTEP of ${server}/${vsName} (VLAN ${file.vlan})`,
      vmName: `${server}/${vsName}'s VTEP`,
      path: [...path, "vlan"],
      nicPath: path,
      ip: c.ip,
      prefixLen: c.prefixLen,
      gateway,
      vid: file.vlan,
    });
    return spec;
  }

  /**
   * Every VNI a port group uses, with `overlay.vnis` applied: head-end replication to every
   * other VTEP carrying it and learning unless the file says otherwise. A flood-list address or
   * static entry naming no VTEP of the file is a warning (it may be a VTEP outside it).
   */
  private overlay(): VniSpec[] {
    const entries = this.file.overlay?.vnis ?? {};
    const used = new Set<number>();
    for (const v of this.vteps) for (const n of v.vnis) used.add(n);
    const vtepIps = new Set(this.vteps.map((v) => v.ip));
    const out: VniSpec[] = [];
    for (const [key, e] of Object.entries(entries)) {
      const vni = Number(key);
      const path = ["overlay", "vnis", key];
      if (!Number.isInteger(vni) || vni < 1 || vni > 16_777_215) {
        this.error(
          "bad-value",
          path,
          `${key} is not a usable VNI: VXLAN network ids are 1..16777215 (24 bits)`,
          "key",
        );
        continue;
      }
      const flood: Ipv4[] = [];
      (e.flood ?? []).forEach((t, i) => {
        const ip = parseCidr(`${t}/32`)?.ip;
        if (ip === undefined) return;
        // With external ports, a VTEP outside the file (the kernel's, a real switch's) is expected.
        if (!vtepIps.has(ip) && (this.file.external ?? []).length === 0)
          this.warn(
            "unknown-name",
            [...path, "flood", i],
            `${t} is no VTEP of this file; frames flooded to it leave the fabric's known VTEPs`,
          );
        flood.push(ip);
      });
      const statics: { mac: Mac; vtep: Ipv4 }[] = [];
      for (const [macText, t] of Object.entries(e.static ?? {})) {
        const mac = tryParseMac(macText);
        const ip = parseCidr(`${t}/32`)?.ip;
        if (mac === undefined || ip === undefined) continue;
        if (!vtepIps.has(ip))
          this.warn(
            "unknown-name",
            [...path, "static", macText],
            `${t} is no VTEP of this file (VTEPs: ${[...vtepIps].map(formatIpv4).join(", ") || "none"})`,
          );
        statics.push({ mac, vtep: ip });
      }
      if (!used.has(vni)) this.warn("unknown-name", path, `no port group uses VNI ${vni}`, "key");
      out.push({
        vni,
        replication: e.replication ?? "head-end",
        isLearning: e.learning ?? true,
        flood: e.flood === undefined ? this.vteps.filter((v) => v.vnis.has(vni)).map((v) => v.ip) : flood,
        static: statics,
        ageingSec: e.ageing ?? SWITCHING_DEFAULTS.vxlanAgeingSec,
      });
    }
    for (const vni of [...used].sort((a, b) => a - b)) {
      if (out.some((o) => o.vni === vni)) continue;
      out.push({
        vni,
        replication: "head-end",
        isLearning: true,
        flood: this.vteps.filter((v) => v.vnis.has(vni)).map((v) => v.ip),
        static: [],
        ageingSec: SWITCHING_DEFAULTS.vxlanAgeingSec,
      });
    }
    return out;
  }

  /** Resolution without messages, for servers with parts cut by the shape check. */
  private findPortGroup(
    server: ServerSpec,
    pgIndex: Map<string, string[]>,
    ref: string,
  ): { vs: VswitchSpec; pg: PortGroupSpec } | null {
    const slash = ref.indexOf("/");
    const vsName =
      slash >= 0 ? ref.slice(0, slash) : pgIndex.get(ref)?.length === 1 ? pgIndex.get(ref)![0] : "";
    const pgName = slash >= 0 ? ref.slice(slash + 1) : ref;
    const vs = server.vswitches.find((v) => v.name === vsName);
    const pg = vs?.portGroups.find((p) => p.name === pgName);
    return vs && pg ? { vs, pg } : null;
  }

  private resolvePortGroup(
    server: ServerSpec,
    pgIndex: Map<string, string[]>,
    ref: string,
    path: DocPath,
  ): { vs: VswitchSpec; pg: PortGroupSpec } | null {
    // A vswitch or port group the shape check refused is not "unknown": it is reported already.
    if (this.isCut(["servers", server.name, "vswitches"]) || this.isCut(["servers", server.name, "nics"])) {
      const found = this.findPortGroup(server, pgIndex, ref);
      return found;
    }
    if (server.vswitches.length === 0) {
      this.error(
        "unknown-name",
        path,
        `${server.name} has no vswitches, so there is no port group '${ref}'; define servers.${server.name}.vswitches`,
      );
      return null;
    }
    const slash = ref.indexOf("/");
    if (slash >= 0) {
      const vsName = ref.slice(0, slash);
      const pgName = ref.slice(slash + 1);
      const vs = server.vswitches.find((v) => v.name === vsName);
      if (vs === undefined) {
        this.error(
          "unknown-name",
          path,
          `no vswitch '${vsName}' on ${server.name}${hint(
            vsName,
            server.vswitches.map((v) => v.name),
          )}`,
        );
        return null;
      }
      const pg = vs.portGroups.find((p) => p.name === pgName);
      if (pg === undefined) {
        this.error(
          "unknown-name",
          path,
          `no port group '${pgName}' on ${server.name}/${vsName}${hint(
            pgName,
            vs.portGroups.map((p) => p.name),
          )}`,
        );
        return null;
      }
      return { vs, pg };
    }
    const owners = pgIndex.get(ref);
    if (owners === undefined) {
      this.error(
        "unknown-name",
        path,
        `no port group '${ref}' on ${server.name}${hint(ref, [...pgIndex.keys()])}`,
      );
      return null;
    }
    if (owners.length > 1) {
      this.error(
        "ambiguous-name",
        path,
        `port group '${ref}' exists on several vswitches of ${server.name}; write ${owners.map((o) => `${o}/${ref}`).join(" or ")}`,
      );
      return null;
    }
    const vs = server.vswitches.find((v) => v.name === owners[0])!;
    return { vs, pg: vs.portGroups.find((p) => p.name === ref)! };
  }

  private vmNic(
    server: ServerSpec,
    pgIndex: Map<string, string[]>,
    vmName: string,
    n: VmNicFile,
    index: number,
    path: DocPath,
  ): VmNicSpec | null {
    if (this.isCut(path)) return null; // part of it was refused by the shape check
    let attachment: VmNicSpec["attachment"] | null = null;
    let pending:
      | (Omit<Attachment, "ip" | "prefixLen" | "gateway" | "nicPath" | "vid"> & { isOverlay: boolean })
      | null = null;
    let isValid = true;
    if (n.portGroup !== undefined && n.vf !== undefined) {
      this.error(
        "nic-attachment",
        path,
        "give either portGroup (a vswitch port group) or vf (an SR-IOV NIC), not both",
      );
      isValid = false;
    } else if (n.portGroup === undefined && n.vf === undefined) {
      this.error(
        "nic-attachment",
        path,
        "a VM NIC needs portGroup (a vswitch port group) or vf (an SR-IOV NIC of its server)",
      );
      isValid = false;
    } else if (n.portGroup !== undefined) {
      const r = this.resolvePortGroup(server, pgIndex, n.portGroup, [...path, "portGroup"]);
      if (n.vlan !== undefined)
        this.error(
          "nic-attachment",
          [...path, "vlan"],
          `vlan is for VF NICs; this NIC takes its VLAN from its port group${r ? ` (${r.pg.name}: ${vlanWord(r.pg.vlan)})` : ""}`,
          "key",
        );
      if (n.spoofCheck !== undefined)
        this.error(
          "nic-attachment",
          [...path, "spoofCheck"],
          "spoofCheck is for VF NICs; port groups use security.forgedTransmits",
          "key",
        );
      if (r !== null) {
        attachment = { kind: "portGroup", vswitch: r.vs.name, portGroup: r.pg.name };
        pending = {
          isOverlay: r.pg.vni !== null,
          server: server.name,
          nics: r.vs.uplinks,
          // An untagged port group's frames are untagged on the wire, as an untagged VF's are.
          tag: r.pg.vlan === 0 ? null : r.pg.vlan,
          what: `port group ${r.pg.name} (${vlanWord(r.pg.vlan)}) of ${server.name}/${r.vs.name}`,
          vmName,
          path: [...path, "portGroup"],
        };
      } else isValid = false;
    } else if (n.vf !== undefined && this.isCut(["servers", server.name, "nics"])) {
      isValid = false; // its NIC may be the one the shape check refused
    } else if (n.vf !== undefined) {
      const nics = this.serverNics.get(server.name)!;
      const nic = nics.get(n.vf);
      if (nic === undefined) {
        this.error(
          "unknown-name",
          [...path, "vf"],
          `no NIC '${n.vf}' on ${server.name}${hint(n.vf, [...nics.keys()])}`,
        );
        isValid = false;
      } else if (nic.spec.sriov === null) {
        const withVfs = [...nics.values()].filter((x) => x.spec.sriov !== null).map((x) => x.spec.name);
        this.error(
          "no-sriov",
          [...path, "vf"],
          `${n.vf} of ${server.name} has no SR-IOV VFs; give it sriov: { vfs: N } in ${this.show(nic.path)}${withVfs.length > 0 ? ` (NICs with VFs: ${withVfs.join(", ")})` : ""}`,
        );
        isValid = false;
      } else {
        const vfIndex = nic.vfsUsed++;
        if (vfIndex >= nic.spec.sriov.vfs) {
          this.error(
            "too-many-vfs",
            [...path, "vf"],
            `${n.vf} of ${server.name} has ${nic.spec.sriov.vfs} VFs (sriov.vfs) and this is VM NIC number ${vfIndex + 1} on them; raise sriov.vfs (at most maxVfs ${nic.spec.sriov.maxVfs})`,
          );
          isValid = false;
        } else {
          attachment = {
            kind: "vf",
            nic: n.vf,
            vfIndex,
            vlan: n.vlan ?? null,
            spoofCheck: n.spoofCheck ?? true,
          };
          pending = {
            isOverlay: false,
            server: server.name,
            nics: [n.vf],
            tag: n.vlan ?? null,
            what: `VF ${vfIndex} of ${server.name}:${n.vf}${n.vlan !== undefined ? ` (VLAN ${n.vlan})` : " (untagged)"}`,
            vmName,
            path: [...path, "vf"],
          };
        }
      }
    }

    const c = parseCidr(n.ip);
    let gateway: Ipv4 | null = null;
    let isGatewayPlausible = false;
    if (c === undefined || !this.checkHostAddress([...path, "ip"], c.ip, c.prefixLen)) isValid = false;
    else {
      this.claimIp([...path, "ip"], c.ip);
      if (n.gateway !== undefined) {
        const gw = parseCidr(`${n.gateway}/32`)?.ip;
        if (gw !== undefined) {
          const mask = prefixMask(c.prefixLen);
          const net = (c.ip & mask) >>> 0;
          const bcast = (net | ~mask) >>> 0;
          if (gw === c.ip)
            this.error(
              "bad-gateway",
              [...path, "gateway"],
              `the gateway ${n.gateway} is the NIC's own address`,
            );
          else if (!sameSubnet(gw, c.ip, c.prefixLen))
            // Linux refuses such a route ("Nexthop has invalid gateway"): the VM gets none.
            this.warn(
              "gateway-outside-subnet",
              [...path, "gateway"],
              `gateway ${n.gateway} is outside the NIC's subnet ${showIp(net, c.prefixLen)}, so the VM cannot reach it by ARP; it is ignored (no default route)`,
            );
          else if (c.prefixLen <= 30 && (gw === net || gw === bcast))
            this.error(
              "bad-gateway",
              [...path, "gateway"],
              `the gateway ${n.gateway} is the ${gw === net ? "network" : "broadcast"} address of ${showIp(net, c.prefixLen)}; a gateway is a host of the subnet`,
            );
          else {
            gateway = gw;
            isGatewayPlausible = true;
          }
        }
      }
    }
    if (!isValid || attachment === null || pending === null || c === undefined) return null;
    // A VM of an overlay segment is on no VLAN of the physical network: its frames cross it
    // inside the VTEP's, which is an attachment of its own.
    if (!pending.isOverlay && pending.tag !== undefined)
      this.attachments.push({
        ...pending,
        nicPath: path,
        ip: c.ip,
        prefixLen: c.prefixLen,
        gateway: isGatewayPlausible ? gateway : null,
        vid: pending.tag,
      });
    const spec: VmNicSpec = {
      name: `eth${index}`,
      attachment,
      mac: 0,
      ip: c.ip,
      prefixLen: c.prefixLen,
      gateway,
      mtu: n.mtu ?? 1500,
    };
    this.mac([...path, "mac"], n.mac, `vm/${vmName}/${index}`, (m) => {
      spec.mac = m;
    });
    return spec;
  }

  // --- links ---------------------------------------------------------------------------------

  private links(
    linksIn: LinkFile[],
    switchesIn: Record<string, unknown>,
    serversIn: Record<string, ServerFile>,
  ): { links: LinkSpec[]; linkIndexes: number[] } {
    const links: LinkSpec[] = [];
    const linkIndexes: number[] = [];
    const used = new Map<string, DocPath>();
    const switchNames = Object.keys(switchesIn);
    const serverNames = Object.keys(serversIn);
    linksIn.forEach((l, i) => {
      const path = ["links", i];
      const ends = l.endpoints.map((text, j) =>
        this.endpoint(text, [...path, "endpoints", j], switchNames, serverNames),
      );
      let isValid = ends[0] !== null && ends[1] !== null;
      if (
        ends[0] !== null &&
        ends[1] !== null &&
        ends[0].node === ends[1].node &&
        ends[0].port === ends[1].port
      ) {
        this.error(
          "link-to-self",
          [...path, "endpoints"],
          `both ends are ${l.endpoints[0]}; a link joins two different ports`,
        );
        isValid = false;
      } else {
        ends.forEach((e, j) => {
          if (e === null) return;
          const key = `${e.node}:${e.port}`;
          const prev = used.get(key);
          if (prev !== undefined) {
            this.error(
              "port-in-use",
              [...path, "endpoints", j],
              `${key} is already cabled by ${this.show(prev.slice(0, 2))}; a ${this.nodes.get(e.node)?.kind === "server" ? "NIC" : "port"} takes one link`,
            );
            isValid = false;
          } else used.set(key, path);
        });
      }
      let bandwidthBps: number = LINK_DEFAULTS.bandwidthBps;
      if (l.bandwidth !== undefined) {
        const r = parseBandwidth(l.bandwidth);
        if (r.ok) bandwidthBps = r.value;
        else {
          this.error("bad-unit", [...path, "bandwidth"], r.message);
          isValid = false;
        }
      }
      let delayNs: number = LINK_DEFAULTS.delayNs;
      if (l.delay !== undefined) {
        const r = parseDelay(l.delay);
        if (r.ok) delayNs = r.value;
        else {
          this.error("bad-unit", [...path, "delay"], r.message);
          isValid = false;
        }
      }
      let lossRate: number = LINK_DEFAULTS.lossRate;
      if (l.loss !== undefined) {
        const r = parseLoss(l.loss);
        if (r.ok) lossRate = r.value;
        else {
          this.error("bad-unit", [...path, "loss"], r.message);
          isValid = false;
        }
      }
      if (!isValid) return;
      links.push({
        a: ends[0]!,
        b: ends[1]!,
        bandwidthBps,
        delayNs,
        mtu: l.mtu ?? LINK_DEFAULTS.mtu,
        lossRate,
        isUp: l.up ?? true,
        queueFrames: l.queue ?? LINK_DEFAULTS.queueFrames,
      });
      linkIndexes.push(i);
    });
    return { links, linkIndexes };
  }

  /**
   * `external:`: ports joined to the world outside vnet. Each names a switch port or server NIC
   * no link uses, once; its TAP name (given, or derived from the port) is unique.
   */
  private externals(
    links: LinkSpec[],
    switchesIn: Record<string, unknown>,
    serversIn: Record<string, ServerFile>,
  ): ExternalPortSpec[] {
    const out: ExternalPortSpec[] = [];
    const cabled = new Set(links.flatMap((l) => [`${l.a.node}:${l.a.port}`, `${l.b.node}:${l.b.port}`]));
    const ends = new Set<string>();
    const names = new Set<string>();
    (this.file.external ?? []).forEach((x, i) => {
      const path: DocPath = ["external", i];
      const end = this.endpoint(x.port, [...path, "port"], Object.keys(switchesIn), Object.keys(serversIn));
      if (end === null) return;
      const key = `${end.node}:${end.port}`;
      if (cabled.has(key)) {
        this.error(
          "port-in-use",
          [...path, "port"],
          `${key} is cabled by a link of this file; an external port is one no link uses`,
        );
        return;
      }
      if (ends.has(key)) {
        this.error("duplicate-name", [...path, "port"], `${key} is listed twice in external`);
        return;
      }
      ends.add(key);
      const name =
        x.interface ??
        `x-${end.node}-${end.port}`
          .replace(/[^A-Za-z0-9_.-]/g, "-")
          .slice(0, 15)
          .replace(/[-.]+$/, "");
      if (names.has(name)) {
        this.error(
          "duplicate-name",
          [...path, x.interface === undefined ? "port" : "interface"],
          `the interface name ${name} is already taken by another external port${x.interface === undefined ? "; give this one its own with interface:" : ""}`,
        );
        return;
      }
      names.add(name);
      out.push({ end, interface: name, netns: x.netns ?? null, mtu: x.mtu ?? LINK_DEFAULTS.mtu });
    });
    return out;
  }

  private endpoint(
    text: string,
    path: DocPath,
    switchNames: string[],
    serverNames: string[],
  ): { node: string; port: string } | null {
    const colon = text.indexOf(":");
    const node = text.slice(0, colon);
    const port = text.slice(colon + 1);
    this.cabled.add(text);
    if (this.clashing.has(node)) return null; // which of the two is meant is unknowable; the clash is reported
    const info = this.nodes.get(node);
    if (info === undefined) {
      if (this.isCut(["switches", node]) || this.isCut(["servers", node])) return null;
      const known = [...switchNames, ...serverNames];
      this.error("unknown-name", path, `no switch or server '${node}'${hint(node, known)}`);
      return null;
    }
    if (info.kind === "vm") {
      this.error(
        "link-to-vm",
        path,
        `${node} is a VM; VMs connect through port groups or SR-IOV VFs, not links: cable a NIC of its server (${info.server}:...) instead`,
      );
      return null;
    }
    if (info.kind === "server") {
      const nics = this.serverNics.get(node);
      if (nics === undefined) return null;
      if (!nics.has(port)) {
        if (this.isCut(["servers", node, "nics"])) return null;
        this.error("unknown-name", path, `no NIC '${port}' on ${node}${hint(port, [...nics.keys()])}`);
        return null;
      }
      return { node, port };
    }
    const router = this.file.routers?.[node];
    if (router !== undefined && router.interfaces[port] === undefined) {
      this.error(
        "unknown-name",
        path,
        `no interface '${port}' on router ${node}${hint(port, Object.keys(router.interfaces))}`,
      );
      return null;
    }
    const lag = this.file.switches?.[node]?.lags?.[port];
    if (lag !== undefined) {
      this.error(
        "lag-config",
        path,
        `${port} is a LAG of ${node}; cable its member ports (${lag.members.join(", ")}), each with its own link`,
      );
      return null;
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/.test(port)) {
      this.error(
        "bad-name",
        path,
        `'${port}' is not a valid port name: use letters, digits, '_', '.', '/', '-' (at most 63)`,
      );
      return null;
    }
    return { node, port };
  }

  /**
   * A hardware VTEP: its source (the loopback, or an address of the switch) and its VLAN-to-VNI
   * map (one VNI per VLAN, one VLAN per VNI). It joins the file's VTEPs, so head-end flood lists
   * derived for a VNI include it.
   */
  private switchVtep(
    sw: string,
    file: SwitchFile,
    path: DocPath,
    loopback: { ip: Ipv4; prefixLen: number } | null,
    svis: readonly SviSpec[],
    ports: Map<string, { spec: SwitchPortSpec; path: DocPath }>,
  ): SwitchSpec["vtep"] {
    const v = file.vtep;
    if (v === undefined) return null;
    let ip: Ipv4 | undefined;
    if (v.source === "loopback") {
      if (loopback === null) {
        this.error(
          "bad-value",
          [...path, "source"],
          `${sw} has no loopback; give it loopback: ADDRESS/32, or name one of its addresses`,
        );
        return null;
      }
      ip = loopback.ip;
    } else {
      ip = tryParseIpv4(v.source);
      const own = [
        ...svis.map((s) => s.ip),
        ...[...ports.values()].flatMap(({ spec }) => (spec.mode === "routed" ? [spec.ip] : [])),
        ...(loopback === null ? [] : [loopback.ip]),
      ];
      if (ip === undefined || !own.includes(ip)) {
        this.error(
          "bad-value",
          [...path, "source"],
          `${v.source} is not an address of ${sw}; use loopback or one of ${own.map(formatIpv4).join(", ") || "its addresses (it has none)"}`,
        );
        return null;
      }
    }
    const map: { vid: number; vni: number }[] = [];
    const vnis = new Set<number>();
    for (const [vidText, vni] of Object.entries(v.vlanToVni)) {
      const vid = Number(vidText);
      if (!(vid >= 1 && vid <= 4094)) {
        this.error(
          "bad-vlan",
          [...path, "vlanToVni", vidText],
          `${vidText} is not a usable VLAN id (1..4094)`,
          "key",
        );
        continue;
      }
      if (vnis.has(vni)) {
        this.error(
          "bad-value",
          [...path, "vlanToVni", vidText],
          `VNI ${vni} is mapped from two VLANs; one VLAN per VNI`,
        );
        continue;
      }
      vnis.add(vni);
      map.push({ vid, vni });
    }
    this.vteps.push({ ip, vnis });
    return { ip, map };
  }

  // --- layer 3 ------------------------------------------------------------------------------

  private loopback(text: string | undefined, path: DocPath): { ip: Ipv4; prefixLen: number } | null {
    if (text === undefined) return null;
    const c = parseCidr(text);
    if (c === undefined) return null;
    if (c.prefixLen !== 32) {
      this.error(
        "bad-address",
        path,
        `a loopback is one address: ${formatIpv4(c.ip)}/32, not /${c.prefixLen}`,
      );
      return null;
    }
    if (!this.checkHostAddress(path, c.ip, 32)) return null;
    this.claimIp(path, c.ip);
    this.routedIps.set(c.ip, "lo");
    return { ip: c.ip, prefixLen: 32 };
  }

  /**
   * Static routes: `to` a prefix (its host bits zero), each `via` an address on a subnet the
   * device is connected to (an SVI or a routed port), not its own.
   */
  private routes(
    sw: string,
    routesIn: readonly { to: string; via: string | string[] }[],
    path: DocPath,
    svis: readonly SviSpec[],
    ports: Map<string, { spec: SwitchPortSpec; path: DocPath }>,
    loopback: { ip: Ipv4; prefixLen: number } | null,
  ): RouteSpec[] {
    const connected: { ip: Ipv4; prefixLen: number; name: string }[] = [
      ...svis.map((s) => ({ ip: s.ip, prefixLen: s.prefixLen, name: `vlan ${s.vid}` })),
      ...this.tunnelSubnetsOf(sw),
      ...[...ports.values()].flatMap(({ spec }) =>
        spec.mode === "routed" ? [{ ip: spec.ip, prefixLen: spec.prefixLen, name: spec.name }] : [],
      ),
    ];
    // Two interfaces of one device in overlapping subnets: its routing could not tell them apart.
    for (let i = 0; i < connected.length; i++)
      for (let j = i + 1; j < connected.length; j++) {
        const a = connected[i];
        const b = connected[j];
        if (sameSubnet(a.ip, b.ip, Math.min(a.prefixLen, b.prefixLen)))
          this.error(
            "subnet-overlap",
            path.slice(0, 2),
            `${sw}'s ${a.name} (${showIp(a.ip, a.prefixLen)}) and ${b.name} (${showIp(b.ip, b.prefixLen)}) are in overlapping subnets; each interface of a router needs its own`,
          );
      }
    const out: RouteSpec[] = [];
    const seen = new Set<string>();
    routesIn.forEach((r, i) => {
      const rpath = [...path, i];
      const c = parseCidr(r.to);
      if (c === undefined) return;
      const net = (c.ip & prefixMask(c.prefixLen)) >>> 0;
      if (net !== c.ip) {
        this.error(
          "bad-address",
          [...rpath, "to"],
          `${r.to} has host bits set; the prefix is ${showIp(net, c.prefixLen)}`,
        );
        return;
      }
      const key = `${net}/${c.prefixLen}`;
      if (seen.has(key)) {
        this.error(
          "route-config",
          [...rpath, "to"],
          `a second route to ${r.to}; give one route with all its next hops in via`,
        );
        return;
      }
      seen.add(key);
      const vias = Array.isArray(r.via) ? r.via : [r.via];
      const via: Ipv4[] = [];
      vias.forEach((v, k) => {
        const vpath = Array.isArray(r.via) ? [...rpath, "via", k] : [...rpath, "via"];
        const ip = tryParseIpv4(v);
        if (ip === undefined) return;
        if (connected.some((x) => x.ip === ip) || loopback?.ip === ip) {
          this.error("route-config", vpath, `${v} is ${sw}'s own address; a next hop is a neighbour's`);
          return;
        }
        if (!connected.some((x) => sameSubnet(ip, x.ip, x.prefixLen))) {
          const list = connected.map(
            (x) => `${showIp((x.ip & prefixMask(x.prefixLen)) >>> 0, x.prefixLen)} (${x.name})`,
          );
          this.error(
            "route-config",
            vpath,
            `next hop ${v} is on no subnet ${sw} is connected to${list.length > 0 ? `: ${list.join(", ")}` : " (it has no SVI and no routed port)"}`,
          );
          return;
        }
        if (via.includes(ip)) {
          this.error("route-config", vpath, `next hop ${v} is listed twice`);
          return;
        }
        via.push(ip);
      });
      if (via.length === vias.length) out.push({ prefix: net, prefixLen: c.prefixLen, via });
    });
    return out;
  }

  /**
   * The classic overlay mistake: VMs sending full-size packets over a VTEP whose MTU has no room
   * for VXLAN's 50 bytes (1500-byte VMs on a 1500-byte fabric), or a VTEP MTU larger than the
   * cables its uplinks leave by. VTEPs do not fragment (RFC 7348 §4.3): such packets are dropped.
   */
  private checkOverlayMtu(servers: ServerSpec[], links: LinkSpec[]): void {
    for (const sv of servers) {
      for (const vs of sv.vswitches) {
        if (vs.vtep === null) continue;
        const vpath = ["servers", sv.name, "vswitches", vs.name, "vtep"];
        const hasMtuKey = this.file.servers?.[sv.name]?.vswitches?.[vs.name]?.vtep?.mtu !== undefined;
        const segments = new Set(vs.portGroups.filter((pg) => pg.vni !== null).map((pg) => pg.name));
        let largest = 0;
        let who = "";
        for (const vm of sv.vms)
          for (const n of vm.nics)
            if (
              n.attachment.kind === "portGroup" &&
              n.attachment.vswitch === vs.name &&
              segments.has(n.attachment.portGroup) &&
              n.mtu > largest
            ) {
              largest = n.mtu;
              who = `${vm.name} (${n.attachment.portGroup}, MTU ${n.mtu})`;
            }
        if (largest > 0 && largest + 50 > vs.vtep.mtu)
          this.warn(
            "overlay-mtu",
            hasMtuKey ? [...vpath, "mtu"] : vpath,
            `${who} sends ${largest}-byte packets: ${largest + 50} in VXLAN, over the VTEP's MTU ${vs.vtep.mtu}; VTEPs do not fragment, so full-size packets are dropped: give the underlay at least ${largest + 50} (vtep mtu, the cables, the SVIs and routed ports on the way; NSX asks 1600) or the VMs an MTU of ${vs.vtep.mtu - 50}`,
          );
        const cable = Math.min(
          ...vs.uplinks.flatMap((u) => {
            const l = links.find(
              (x) => (x.a.node === sv.name && x.a.port === u) || (x.b.node === sv.name && x.b.port === u),
            );
            return l === undefined ? [] : [l.mtu];
          }),
        );
        if (Number.isFinite(cable) && vs.vtep.mtu > cable)
          this.warn(
            "overlay-mtu",
            hasMtuKey ? [...vpath, "mtu"] : vpath,
            `the VTEP's MTU ${vs.vtep.mtu} is more than its uplinks' cables carry (${cable}); give the cables mtu: ${vs.vtep.mtu} or more`,
          );
      }
    }
  }

  /**
   * A device's tunnel interfaces as the file gives them (GRE tunnels, then VPN interfaces), for
   * its routes, before tunnels and VPNs are checked.
   */
  private tunnelSubnetsOf(device: string): { ip: Ipv4; prefixLen: number; name: string }[] {
    const out: { ip: Ipv4; prefixLen: number; name: string }[] = [];
    for (const t of this.file.tunnels ?? []) {
      const j = t.endpoints.indexOf(device);
      if (j < 0 || t.endpoints[0] === t.endpoints[1]) continue;
      const c = parseCidr(t.ips[j]);
      if (c !== undefined) out.push({ ip: c.ip, prefixLen: c.prefixLen, name: `gre${out.length}` });
    }
    let wg = 0;
    for (const v of this.file.vpns ?? []) {
      const p = v.peers[device];
      if (p === undefined) continue;
      const c = parseCidr(p.address);
      if (c !== undefined) out.push({ ip: c.ip, prefixLen: c.prefixLen, name: `wg${wg}` });
      wg++;
    }
    return out;
  }

  /** A router's `nat:`: the outside interface must be one of its interfaces. */
  private nat(
    natIn: { outside: string } | undefined,
    ports: Map<string, { spec: SwitchPortSpec; path: DocPath }>,
    path: DocPath,
  ): { outside: string } | null {
    if (natIn === undefined) return null;
    const p = ports.get(natIn.outside);
    if (p === undefined || p.spec.mode !== "routed") {
      this.error(
        "nat-config",
        [...path, "outside"],
        `no interface '${natIn.outside}' on this router${hint(natIn.outside, [...ports.keys()])}; nat.outside names the interface facing the outside`,
      );
      return null;
    }
    return { outside: natIn.outside };
  }

  // --- VPNs --------------------------------------------------------------------------------------

  /**
   * The `vpns:` list: gateways that route (a router, or a switch with a layer-3 address), tunnel
   * addresses in one subnet, endpoints that are the gateway's own address and listen port, site
   * networks that no two peers claim (WireGuard's cryptokey routing gives a prefix to one peer
   * and would silently take it from the other), valid keys. Warned: a pair of peers that must
   * talk and neither of which has an endpoint (no side can start), and a given public key that
   * does not match the given private key (the others will refuse its handshakes).
   */
  private vpns(switches: SwitchSpec[], links: LinkSpec[]): VpnSpec[] {
    const out: VpnSpec[] = [];
    const byName = new Map(switches.map((s) => [s.name, s]));
    const wgCount = new Map<string, number>();
    const names = new Set<string>();
    (this.file.vpns ?? []).forEach((v, i) => {
      const path: DocPath = ["vpns", i];
      const before = this.errorCount();
      if (names.has(v.name)) this.error("duplicate-name", [...path, "name"], `a second VPN named ${v.name}`);
      names.add(v.name);
      const entries = Object.entries(v.peers);
      if (entries.length < 2) {
        this.error("vpn-config", [...path, "peers"], "a VPN needs at least two gateways");
        return;
      }
      if (v.hub !== undefined && v.peers[v.hub] === undefined) {
        this.error(
          "unknown-name",
          [...path, "hub"],
          `the hub ${v.hub} is not one of the VPN's peers${hint(v.hub, Object.keys(v.peers))}`,
        );
      }
      const peers: VpnPeerSpec[] = [];
      let subnet: { ip: Ipv4; prefixLen: number; device: string } | null = null;
      const claimed: { prefix: Ipv4; prefixLen: number; device: string }[] = [];
      for (const [device, p] of entries) {
        const ppath = [...path, "peers", device];
        const sw = byName.get(device);
        const isExternal = p.external === true;
        if (isExternal && (sw !== undefined || this.nodes.has(device))) {
          this.error(
            "vpn-config",
            [...ppath, "external"],
            `${device} is a device of this file, which vnet runs; an external peer is a WireGuard outside the file: give it a name of its own`,
          );
          continue;
        }
        if (sw === undefined && !isExternal) {
          this.error(
            "unknown-name",
            ppath,
            `no router or switch '${device}'${hint(device, [...byName.keys()])}; a VPN gateway is a router`,
            "key",
          );
          continue;
        }
        const own = sw === undefined ? [] : ownAddressesOf(sw);
        if (sw !== undefined && own.length === 0) {
          this.error(
            "vpn-config",
            ppath,
            `${device} has no address to send the tunnel from: give it a routed port, an SVI or a loopback`,
            "key",
          );
          continue;
        }
        const c = parseCidr(p.address);
        if (c === undefined) continue;
        if (!this.checkHostAddress([...ppath, "address"], c.ip, c.prefixLen)) continue;
        if (subnet === null) subnet = { ip: c.ip, prefixLen: c.prefixLen, device };
        else if (subnet.prefixLen !== c.prefixLen || !sameSubnet(subnet.ip, c.ip, c.prefixLen)) {
          this.error(
            "vpn-config",
            [...ppath, "address"],
            `${p.address} is not in the subnet of ${subnet.device}'s ${showIp(subnet.ip, subnet.prefixLen)}: the gateways of one VPN share one tunnel subnet`,
          );
          continue;
        }
        this.claimIp([...ppath, "address"], c.ip);
        this.routedIps.set(c.ip, "wg");
        const listenPort = p.listenPort ?? 51820;
        let endpoint: { ip: Ipv4; port: number } | null = null;
        if (p.endpoint !== undefined) {
          const [ipText, portText] = p.endpoint.split(":");
          const ip = tryParseIpv4(ipText);
          const port = Number(portText);
          if (ip === undefined || !(port >= 1 && port <= 65535)) {
            this.error(
              "vpn-config",
              [...ppath, "endpoint"],
              `${p.endpoint} is not address:port with a port 1..65535`,
            );
            continue;
          }
          if (!isExternal && !own.includes(ip)) {
            this.error(
              "vpn-config",
              [...ppath, "endpoint"],
              `${formatIpv4(ip)} is not an address of ${device} (its addresses: ${own.map(formatIpv4).join(", ")}); the endpoint is where the others send to, and vnet does not forward ports through a NAT`,
            );
            continue;
          }
          if (port !== listenPort) {
            this.error(
              "vpn-config",
              [...ppath, "endpoint"],
              `the endpoint's port ${port} is not ${device}'s listenPort ${listenPort}${p.listenPort === undefined ? " (the default)" : ""}; give listenPort: ${port}`,
            );
            continue;
          }
          endpoint = { ip, port };
        }
        const networks: { prefix: Ipv4; prefixLen: number }[] = [];
        (p.networks ?? []).forEach((n, k) => {
          const nc = parseCidr(n);
          if (nc === undefined) return;
          const net = (nc.ip & prefixMask(nc.prefixLen)) >>> 0;
          if (net !== nc.ip) {
            this.error(
              "bad-address",
              [...ppath, "networks", k],
              `${n} has host bits set; the network is ${showIp(net, nc.prefixLen)}`,
            );
            return;
          }
          const clash = claimed.find(
            (x) => x.prefixLen === nc.prefixLen && x.prefix === net && x.device !== device,
          );
          if (clash !== undefined) {
            this.error(
              "vpn-config",
              [...ppath, "networks", k],
              `${n} is also ${clash.device}'s: WireGuard gives a prefix to one peer only (cryptokey routing), so one of them would never get its packets`,
            );
            return;
          }
          claimed.push({ prefix: net, prefixLen: nc.prefixLen, device });
          networks.push({ prefix: net, prefixLen: nc.prefixLen });
        });
        let keepaliveSec = 0;
        if (p.keepalive !== undefined)
          keepaliveSec = typeof p.keepalive === "number" ? p.keepalive : Number.parseInt(p.keepalive, 10);
        if (!(keepaliveSec >= 0 && keepaliveSec <= 65535)) {
          this.error(
            "vpn-config",
            [...ppath, "keepalive"],
            `keepalive must be 1..65535 seconds, got ${p.keepalive}`,
          );
          continue;
        }
        const key = (text: string | undefined, what: string): Uint8Array | null | undefined => {
          if (text === undefined) return null;
          try {
            return keyFromBase64(text);
          } catch (e) {
            if (!(e instanceof KeyError)) throw e;
            this.error("vpn-config", [...ppath, what], `${what}: ${e.message}`);
            return undefined;
          }
        };
        const privateKey = key(p.privateKey, "privateKey");
        const publicKey = key(p.publicKey, "publicKey");
        if (privateKey === undefined || publicKey === undefined) continue;
        // An external peer with only its public key is the normal case: its private key is its own.
        const isKeyOnlyExternal = isExternal && privateKey === null;
        if (
          !isKeyOnlyExternal &&
          publicKey !== null &&
          (privateKey === null || !keysEqual(publicKeyOf(privateKey), publicKey))
        )
          this.warn(
            "vpn-key-mismatch",
            [...ppath, "publicKey"],
            privateKey === null
              ? `${device} has a publicKey but no privateKey: vnet derives its private key from the seed, which does not match, so the others will refuse its handshakes; give its privateKey too`
              : `this is not the public key of ${device}'s privateKey: the others will refuse its handshakes (wg pubkey < private key gives the right one)`,
          );
        const k = wgCount.get(device) ?? 0;
        wgCount.set(device, k + 1);
        peers.push({
          device,
          iface: `wg${k}`,
          ip: c.ip,
          prefixLen: c.prefixLen,
          listenPort,
          endpoint,
          networks,
          keepaliveSec,
          privateKey,
          publicKey,
          isExternal,
        });
      }
      if (this.errorCount() > before) return;
      const hub = v.hub ?? null;
      // Who must reach whom: everyone in a mesh, the hub and each spoke.
      for (let a = 0; a < peers.length; a++)
        for (let b = a + 1; b < peers.length; b++) {
          const x = peers[a];
          const y = peers[b];
          if (hub !== null && x.device !== hub && y.device !== hub) continue;
          if (x.endpoint === null && y.endpoint === null)
            this.warn(
              "vpn-no-endpoint",
              [...path, "peers", y.device],
              `neither ${x.device} nor ${y.device} has an endpoint: neither can send the first handshake, so they never talk; give the one the other can reach an endpoint`,
              "key",
            );
        }
      // WireGuard adds 60 bytes over IPv4 (IPv4 20, UDP 8, its header and tag 32) and never
      // fragments its datagrams itself: the underlay must carry mtu + 60.
      const mtu = v.mtu ?? 1420;
      for (const p of peers) {
        const gw = byName.get(p.device);
        if (gw === undefined) continue; // an external peer's underlay is not the file's
        const underlay = underlayMtuOf(gw, links);
        if (underlay !== null && mtu + 60 > underlay)
          this.warn(
            "overlay-mtu",
            v.mtu === undefined ? [...path, "peers", p.device] : [...path, "mtu"],
            `the VPN's MTU ${mtu} plus 60 bytes of IPv4, UDP and WireGuard is ${mtu + 60}, more than ${p.device}'s underlay MTU ${underlay}: full-size packets would be fragmented on the way; make the VPN's mtu at most ${underlay - 60}`,
            v.mtu === undefined ? "key" : "value",
          );
      }
      out.push({ name: v.name, type: "wireguard", hub, mtu, peers });
    });
    return out;
  }

  /**
   * The `tunnels:` list: two different devices that route (a router, or a switch with a routed
   * port, an SVI or a loopback), one subnet for the two tunnel addresses, and underlay addresses
   * that are the ends' own (default: the loopback, else the first routed interface).
   */
  private tunnels(switches: SwitchSpec[], links: LinkSpec[]): TunnelSpec[] {
    const out: TunnelSpec[] = [];
    const byName = new Map(switches.map((s) => [s.name, s]));
    const count = new Map<string, number>();
    const ownAddresses = ownAddressesOf;
    (this.file.tunnels ?? []).forEach((t, i) => {
      const path = ["tunnels", i];
      const [a, b] = t.endpoints;
      if (a === b) {
        this.error("tunnel-config", [...path, "endpoints"], "a tunnel joins two different devices");
        return;
      }
      const ends: SwitchSpec[] = [];
      for (const [j, n] of [a, b].entries()) {
        const sw = byName.get(n);
        if (sw === undefined) {
          this.error(
            "unknown-name",
            [...path, "endpoints", j],
            `no router or switch '${n}'${hint(n, [...byName.keys()])}`,
          );
          return;
        }
        if (ownAddresses(sw).length === 0) {
          this.error(
            "tunnel-config",
            [...path, "endpoints", j],
            `${n} has no address to send the tunnel from: give it a routed port, an SVI or a loopback`,
          );
          return;
        }
        ends.push(sw);
      }
      const ca = parseCidr(t.ips[0]);
      const cb = parseCidr(t.ips[1]);
      if (ca === undefined || cb === undefined) return;
      if (ca.prefixLen !== cb.prefixLen || !sameSubnet(ca.ip, cb.ip, ca.prefixLen) || ca.ip === cb.ip) {
        this.error(
          "tunnel-config",
          [...path, "ips"],
          `${t.ips[0]} and ${t.ips[1]} must be two addresses of one subnet (the tunnel is one link), e.g. 172.16.0.1/30 and 172.16.0.2/30`,
        );
        return;
      }
      if (!this.checkHostAddress([...path, "ips", 0], ca.ip, ca.prefixLen)) return;
      if (!this.checkHostAddress([...path, "ips", 1], cb.ip, cb.prefixLen)) return;
      this.claimIp([...path, "ips", 0], ca.ip);
      this.claimIp([...path, "ips", 1], cb.ip);
      let underlay: [Ipv4, Ipv4];
      if (t.underlay !== undefined) {
        const ua = tryParseIpv4(t.underlay[0]);
        const ub = tryParseIpv4(t.underlay[1]);
        if (ua === undefined || ub === undefined) return;
        for (const [j, ip] of [ua, ub].entries())
          if (!ownAddresses(ends[j]).includes(ip)) {
            this.error(
              "tunnel-config",
              [...path, "underlay", j],
              `${formatIpv4(ip)} is not an address of ${ends[j].name}; its addresses: ${ownAddresses(ends[j]).map(formatIpv4).join(", ")}`,
            );
            return;
          }
        underlay = [ua, ub];
      } else underlay = [ownAddresses(ends[0])[0], ownAddresses(ends[1])[0]];
      const name = (n: string) => {
        const k = count.get(n) ?? 0;
        count.set(n, k + 1);
        return `gre${k}`;
      };
      // The outer packet is the inner one plus 24 bytes: it must fit the underlay it leaves by.
      const mtu = t.mtu ?? 1476;
      for (const [j, sw] of ends.entries()) {
        const underlay = underlayMtuOf(sw, links);
        if (underlay !== null && mtu + 24 > underlay)
          this.warn(
            "overlay-mtu",
            t.mtu === undefined ? [...path, "endpoints", j] : [...path, "mtu"],
            `the tunnel's MTU ${mtu} plus 24 bytes of outer IPv4 and GRE is ${mtu + 24}, more than ${sw.name}'s underlay MTU ${underlay}: full-size packets would have to be fragmented or dropped; make the tunnel's mtu at most ${underlay - 24}`,
          );
      }
      out.push({
        type: "gre",
        mtu,
        ends: [
          {
            device: a,
            name: name(a),
            ip: ca.ip,
            prefixLen: ca.prefixLen,
            source: underlay[0],
            destination: underlay[1],
          },
          {
            device: b,
            name: name(b),
            ip: cb.ip,
            prefixLen: cb.prefixLen,
            source: underlay[1],
            destination: underlay[0],
          },
        ],
      });
      this.routedIps.set(ca.ip, "gre");
      this.routedIps.set(cb.ip, "gre");
    });
    return out;
  }

  // --- MLAG ------------------------------------------------------------------------------------

  /**
   * The `mlag:` domains: two distinct switches in at most one domain each, a peer link that is a
   * LAG on both, keepalive ports of the pair; the multi-chassis LAGs are the LAGs with
   * `mlag: true`, by name on both switches (one without its other half is reported).
   */
  private mlagDomains(switches: SwitchSpec[]): MlagSpec[] {
    const out: MlagSpec[] = [];
    const byName = new Map(switches.map((s) => [s.name, s]));
    const domains = new Set<number>();
    (this.file.mlag ?? []).forEach((d, i) => {
      const path = ["mlag", i];
      if (domains.has(d.domain)) {
        this.error("mlag-config", [...path, "domain"], `domain ${d.domain} is defined twice`);
        return;
      }
      domains.add(d.domain);
      const [a, b] = d.switches;
      let ok = true;
      for (const [j, n] of [a, b].entries()) {
        if (!byName.has(n)) {
          this.error(
            "unknown-name",
            [...path, "switches", j],
            `no switch '${n}'${hint(n, [...byName.keys()])}`,
          );
          ok = false;
        } else if (this.mlagOf.has(n)) {
          this.error(
            "mlag-config",
            [...path, "switches", j],
            `${n} is already in MLAG domain ${this.mlagOf.get(n)?.domain}; a switch pairs with one peer`,
          );
          ok = false;
        }
      }
      if (ok && a === b) {
        this.error("mlag-config", [...path, "switches"], "an MLAG pair needs two different switches");
        ok = false;
      }
      if (!ok) return;
      const sa = byName.get(a) as SwitchSpec;
      const sb = byName.get(b) as SwitchSpec;
      for (const sw of [sa, sb])
        if (!sw.lags.some((l) => l.name === d.peerLink)) {
          this.error(
            "mlag-config",
            [...path, "peerLink"],
            `${sw.name} has no LAG '${d.peerLink}'; the peer link is a LAG of that name on both switches${hint(
              d.peerLink,
              sw.lags.map((l) => l.name),
            )}`,
          );
          ok = false;
        }
      let keepalive: [string, string] | null = null;
      if (d.keepalive !== undefined) {
        const ports: string[] = [];
        d.keepalive.forEach((e, j) => {
          const [node, port] = e.split(":");
          const want = j === 0 ? a : b;
          if (node !== want) {
            this.error(
              "mlag-config",
              [...path, "keepalive", j],
              `expected a port of ${want} here (the pair's order), got ${e}`,
            );
            ok = false;
            return;
          }
          const sw = byName.get(node) as SwitchSpec;
          if (sw.lags.some((l) => l.name === port || l.members.includes(port))) {
            this.error(
              "mlag-config",
              [...path, "keepalive", j],
              `${e} is a LAG or a LAG member; the keepalive needs a port of its own (a management port)`,
            );
            ok = false;
            return;
          }
          ports.push(port);
        });
        if (ports.length === 2) keepalive = [ports[0], ports[1]];
      }
      const prio = (n: string) => d.priority?.[n] ?? 32768;
      for (const k of Object.keys(d.priority ?? {}))
        if (k !== a && k !== b)
          this.error(
            "mlag-config",
            [...path, "priority", k],
            `${k} is not a switch of this pair (${a}, ${b})`,
            "key",
          );
      if (!ok) return;
      // Multi-chassis LAGs: by name on both; ids in name order so both switches agree.
      const halves = (sw: SwitchSpec) => sw.lags.filter((l) => l.isMlag).map((l) => l.name);
      const ha = halves(sa);
      const hb = halves(sb);
      for (const [sw, mine, theirs, other] of [
        [sa, ha, hb, b],
        [sb, hb, ha, a],
      ] as const)
        for (const n of mine)
          if (!theirs.includes(n))
            this.warn(
              "mlag-config",
              ["switches", sw.name, "lags", n, "mlag"],
              `${n} is a multi-chassis LAG on ${sw.name} but ${other} has no LAG ${n} with mlag: true; it acts as a LAG of ${sw.name} alone`,
            );
      const names = ha.filter((n) => hb.includes(n) && n !== d.peerLink).sort();
      const spec: MlagSpec = {
        domain: d.domain,
        switches: [a, b],
        peerLink: d.peerLink,
        keepalive,
        priority: [prio(a), prio(b)],
        lags: names.map((name, k) => ({ name, id: k + 1 })),
      };
      this.mlagOf.set(a, spec);
      this.mlagOf.set(b, spec);
      out.push(spec);
    });
    for (const sw of switches)
      for (const l of sw.lags)
        if (l.isMlag && !this.mlagOf.has(sw.name))
          this.warn(
            "mlag-config",
            ["switches", sw.name, "lags", l.name, "mlag"],
            `${sw.name} is in no mlag domain, so ${l.name} is an ordinary LAG; add an mlag: entry pairing ${sw.name} with its peer`,
          );
    return out;
  }

  /**
   * Which bundle a LAG end belongs to: a multi-chassis LAG's two halves are one bundle (the
   * MLAG pair is one partner to its neighbours), any other LAG is its switch's own.
   */
  private bundleKey(sw: string, lag: string): string {
    const d = this.mlagOf.get(sw);
    return d?.lags.some((l) => l.name === lag) ? `${d.switches[0]}+${d.switches[1]}/${lag}` : `${sw}/${lag}`;
  }

  private isKeepalivePort(sw: string, port: string): boolean {
    const d = this.mlagOf.get(sw);
    if (d === undefined || d.keepalive === null) return false;
    return d.keepalive[d.switches.indexOf(sw)] === port;
  }

  // --- faults (`vnet run`) -------------------------------------------------------------------

  /**
   * The `faults:` schedule: each entry a time and exactly one of down/up (a cable, by either
   * end) or fail/recover (a switch, server or VM). An `up` of a cable never pulled, or a
   * `recover` of a device never failed, is allowed: it changes nothing.
   */
  private faults(faultsIn: FaultFile[], links: LinkSpec[]): FaultSpec[] {
    const out: FaultSpec[] = [];
    const ACTIONS = ["down", "up", "fail", "recover", "tamper", "replay"] as const;
    faultsIn.forEach((f, i) => {
      const path = ["faults", i];
      const given = ACTIONS.filter((a) => f[a] !== undefined);
      if (given.length !== 1) {
        this.error(
          "bad-value",
          path,
          given.length === 0
            ? "a fault needs one of down, up, tamper, replay (a cable end node:port), fail or recover (a device)"
            : `a fault does one thing, but this one has ${given.join(" and ")}: write one entry per action`,
        );
        return;
      }
      const action = given[0];
      const target = f[action] as string;
      const time = parseTime(f.at, MAX_FAULT_TIME_NS);
      if (!time.ok) this.error("bad-unit", [...path, "at"], time.message);
      const tpath = [...path, action];
      if (action === "down" || action === "up" || action === "tamper" || action === "replay") {
        const end = this.faultEnd(target, tpath, links);
        if (f.silent !== undefined && action !== "down")
          this.error(
            "bad-value",
            [...path, "silent"],
            "silent goes with down (a cable that stops passing frames); up restores any down",
            "key",
          );
        if (end !== null && time.ok)
          out.push({
            atNs: time.value,
            action,
            end: end.end,
            link: end.link,
            ...(f.silent === true && action === "down" ? { isSilent: true } : {}),
          });
        return;
      }
      const info = this.nodes.get(target);
      if (info === undefined) {
        if (this.isCut(["switches", target]) || this.isCut(["servers", target])) return;
        const known = [...this.nodes.keys()];
        this.error("unknown-name", tpath, `no switch, server or VM '${target}'${hint(target, known)}`);
        return;
      }
      if (this.clashing.has(target)) return; // which one is meant is unknowable; the clash is reported
      if (time.ok) out.push({ atNs: time.value, action, device: target, deviceKind: info.kind });
    });
    return out;
  }

  /** A cable named by one of its ends (`esx1:eth0`), or null after reporting why not. */
  private faultEnd(
    text: string,
    path: DocPath,
    links: LinkSpec[],
  ): { end: { node: string; port: string }; link: number } | null {
    const colon = text.indexOf(":");
    if (colon <= 0 || colon === text.length - 1 || text.indexOf(":", colon + 1) >= 0) {
      const isDevice = this.nodes.has(text);
      this.error(
        "bad-value",
        path,
        `expected a cable end node:port (e.g. esx1:eth0), got '${text}'${isDevice ? `; to fail a whole device write fail: ${text}` : ""}`,
      );
      return null;
    }
    const node = text.slice(0, colon);
    const port = text.slice(colon + 1);
    const info = this.nodes.get(node);
    if (info === undefined) {
      if (this.isCut(["switches", node]) || this.isCut(["servers", node])) return null;
      const known = [...this.nodes.keys()].filter((n) => this.nodes.get(n)?.kind !== "vm");
      this.error("unknown-name", path, `no switch or server '${node}'${hint(node, known)}`);
      return null;
    }
    if (info.kind === "vm") {
      this.error(
        "bad-value",
        path,
        `${node} is a VM: down and up name a cable end (a server NIC or switch port); to take a VM's vNICs down write fail: ${node}`,
      );
      return null;
    }
    const link = links.findIndex(
      (l) => (l.a.node === node && l.a.port === port) || (l.b.node === node && l.b.port === port),
    );
    if (link >= 0) return { end: { node, port }, link };
    if (this.cabled.has(text)) return null; // a link names it, and that link's error is reported
    const cabled = links.flatMap((l) => [l.a, l.b].filter((e) => e.node === node).map((e) => e.port));
    const isNic = info.kind === "server" && this.serverNics.get(node)?.has(port) === true;
    this.error(
      "unknown-name",
      path,
      isNic
        ? `${node}:${port} has no cable; down and up name a cable end; cabled on ${node}: ${cabled.join(", ") || "none"}`
        : `no port '${port}' on ${node}${hint(port, cabled)}`,
    );
    return null;
  }

  // --- layer 2 -------------------------------------------------------------------------------

  /**
   * Whether the two sides of every bundle agree: a vswitch whose teaming needs a port channel
   * (ip-hash, lacp) lands on one LAG of one switch, a LAG faces one partner (or an MLAG pair),
   * and LACP has a partner that speaks it. These load (the simulator shows what happens) but are
   * what an engineer must hear about.
   */
  private checkBundles(
    switches: SwitchSpec[],
    far: Map<string, { node: string; port: string; linkIndex: number }>,
    lagOf: (sw: string, port: string) => string | undefined,
  ): void {
    const lagSpec = (sw: string, lag: string) =>
      switches.find((s) => s.name === sw)?.lags.find((l) => l.name === lag);
    const serversIn = this.file.servers ?? {};
    for (const [server, sv] of Object.entries(serversIn)) {
      for (const vsName of Object.keys(sv.vswitches ?? {})) {
        const vpath = ["servers", server, "vswitches", vsName];
        const spec = this.vswitchSpecs.get(`${server}/${vsName}`);
        if (spec === undefined || spec.uplinks.length === 0) continue;
        const t = spec.teaming;
        const used = [...t.active, ...t.standby];
        const lands = used
          .map((u) => ({ u, end: far.get(`${server}:${u}`) }))
          .filter(
            (x): x is { u: string; end: { node: string; port: string; linkIndex: number } } =>
              x.end !== undefined,
          )
          .filter((x) => this.nodes.get(x.end.node)?.kind === "switch");
        if (lands.length === 0) continue;
        const where = lands
          .map(({ u, end }) => {
            const lag = lagOf(end.node, end.port);
            return `${server}:${u} -> ${end.node}:${end.port}${lag === undefined ? "" : ` (${lag})`}`;
          })
          .join(", ");
        const groups = new Set(
          lands.map(({ end }) => {
            const lag = lagOf(end.node, end.port);
            return lag === undefined ? `${end.node}:${end.port}` : this.bundleKey(end.node, lag);
          }),
        );
        const first = lands[0].end;
        const firstLag = lagOf(first.node, first.port);
        const isOneLag = groups.size === 1 && firstLag !== undefined;
        const lag = isOneLag ? lagSpec(first.node, firstLag as string) : undefined;
        if (t.policy === "ip-hash" || t.policy === "lacp") {
          if (!isOneLag && (lands.length > 1 || firstLag === undefined))
            this.warn(
              "teaming-needs-port-channel",
              [...vpath, "teaming", "policy"],
              `${t.policy} needs the uplinks' switch ports in one port channel (${t.policy === "lacp" ? "a LAG with lacp: active or passive" : "a static LAG, lacp: off"}) on one switch; here ${where}. Without it the switch floods every broadcast down each uplink and sees the VMs' MACs move between ports`,
            );
          else if (lag !== undefined && t.policy === "ip-hash" && lag.lacp !== "off")
            this.warn(
              "lacp-no-partner",
              [...vpath, "teaming", "policy"],
              `${first.node}'s ${lag.name} runs LACP (${lag.lacp}) but ip-hash teaming does not speak it, so the LAG never forms and these uplinks carry nothing: use policy: lacp, or lacp: off on ${lag.name}`,
            );
          else if (lag !== undefined && t.policy === "lacp" && lag.lacp === "off")
            this.warn(
              "lacp-no-partner",
              [...vpath, "teaming", "policy"],
              `${first.node}'s ${lag.name} is a static LAG (lacp: off), so the host's LACP finds no partner and its uplinks carry nothing: set lacp: active on ${lag.name}, or use policy: ip-hash`,
            );
          else if (
            lag !== undefined &&
            t.policy === "lacp" &&
            lag.lacp === "passive" &&
            t.lacp?.mode === "passive"
          )
            this.warn(
              "lacp-no-partner",
              [...vpath, "teaming", "lacp", "mode"],
              `both ends are passive (${first.node}'s ${lag.name} and this host), so neither sends an LACPDU and the LAG never forms: make one of them active`,
            );
        } else {
          const inLag = lands.find(({ end }) => lagOf(end.node, end.port) !== undefined);
          if (inLag !== undefined) {
            const l = lagSpec(inLag.end.node, lagOf(inLag.end.node, inLag.end.port) as string);
            this.warn(
              "port-channel-needs-teaming",
              [...vpath, "teaming"],
              l !== undefined && l.lacp !== "off"
                ? `${inLag.end.node}'s ${l.name} runs LACP but this vswitch's teaming is ${t.policy}, which does not: the LAG never forms and its members carry nothing (${where}); use teaming policy: lacp`
                : `${inLag.end.node}:${inLag.end.port} is in a port channel (${l?.name}) but this vswitch's teaming is ${t.policy}: the switch sends each flood down one member and a VM pinned to another uplink misses it; use policy: ip-hash (static LAG) or lacp (${where})`,
            );
          }
        }
      }
    }
    // A LAG's members should face one partner (or an MLAG pair).
    for (const sw of switches) {
      for (const l of sw.lags) {
        const partners = new Set<string>();
        for (const m of l.members) {
          const f = far.get(`${sw.name}:${m}`);
          if (f === undefined) continue;
          // The two halves of a multi-chassis LAG are one partner.
          const farLag = this.nodes.get(f.node)?.kind === "switch" ? lagOf(f.node, f.port) : undefined;
          partners.add(farLag === undefined ? f.node : this.bundleKey(f.node, farLag).split("/")[0]);
        }
        if (partners.size > 1 && !l.isMlag)
          this.warn(
            "lag-split",
            ["switches", sw.name, "lags", l.name, "members"],
            `${l.name}'s members reach ${[...partners].join(" and ")}; a LAG has one partner${l.lacp === "off" ? ", and a static LAG split across two devices sends frames down either: loops and black holes" : ": LACP aggregates only the members to one of them, the others stay out"} (to reach two switches as one, pair them in an mlag domain)`,
          );
        // LACP facing a switch port that does not run LACP.
        if (l.lacp === "off") continue;
        for (const m of l.members) {
          const f = far.get(`${sw.name}:${m}`);
          if (f === undefined || this.nodes.get(f.node)?.kind !== "switch") continue;
          const farLag = lagOf(f.node, f.port);
          const fl = farLag === undefined ? undefined : lagSpec(f.node, farLag);
          if (fl === undefined || fl.lacp === "off" || (fl.lacp === "passive" && l.lacp === "passive")) {
            this.warn(
              "lacp-no-partner",
              ["switches", sw.name, "lags", l.name],
              fl === undefined
                ? `${l.name} runs LACP but ${f.node}:${f.port} is not in a LAG, so no partner answers and ${l.name} never forms`
                : fl.lacp === "off"
                  ? `${l.name} runs LACP but ${f.node}'s ${fl.name} is static (lacp: off), so ${l.name} never forms`
                  : `${l.name} and ${f.node}'s ${fl.name} are both passive: neither sends an LACPDU, the LAG never forms`,
            );
            break;
          }
        }
      }
    }
  }

  /**
   * Spanning-tree port settings: on a switch that runs it, every port gets `isEdge` (as
   * configured; unset, a port cabled to a server is an edge port, since a vswitch neither speaks
   * nor forwards BPDUs, which is what automatic edge detection would find) and `hasBpduGuard`.
   * `edge`/`bpduGuard` on a switch without `stp`, and an edge port cabled to another switch, are
   * reported.
   */
  private stpPorts(switches: SwitchSpec[], links: LinkSpec[], linkIndexes: number[]): void {
    const switchesIn = this.file.switches ?? {};
    const far = new Map<string, { node: string; port: string; linkIndex: number }>();
    links.forEach((l, k) => {
      far.set(`${l.a.node}:${l.a.port}`, { ...l.b, linkIndex: linkIndexes[k] });
      far.set(`${l.b.node}:${l.b.port}`, { ...l.a, linkIndex: linkIndexes[k] });
    });
    for (const sw of switches) {
      const portsIn = switchesIn[sw.name]?.ports ?? {};
      const warned = new Set<string>();
      for (const spec of sw.ports) {
        // A LAG member carries its LAG's configuration (ports.LAG).
        const cfgName = spec.lag ?? spec.name;
        const cfg = portsIn[cfgName];
        const path = ["switches", sw.name, "ports", cfgName];
        if (sw.stp === null) {
          for (const key of ["edge", "bpduGuard"] as const) {
            if (cfg?.[key] === undefined || warned.has(`${cfgName}.${key}`)) continue;
            warned.add(`${cfgName}.${key}`);
            this.warn(
              "stp-config",
              [...path, key],
              `${key} has no effect: ${sw.name} runs no spanning tree (add stp: { mode: rstp } to the switch)`,
              "key",
            );
          }
          continue;
        }
        const peer = far.get(`${sw.name}:${spec.name}`);
        const peerKind = peer === undefined ? undefined : this.nodes.get(peer.node)?.kind;
        spec.isEdge = cfg?.edge ?? peerKind === "server";
        spec.hasBpduGuard = cfg?.bpduGuard ?? false;
        if (cfg?.edge === true && peerKind === "switch" && peer !== undefined && !warned.has(cfgName)) {
          warned.add(cfgName);
          this.warn(
            "stp-config",
            [...path, "edge"],
            `${sw.name}:${spec.name} is an edge port but is cabled to the switch ${peer.node} (${peer.node}:${peer.port}): an edge port forwards at once, before spanning tree has checked for a loop, until a BPDU from ${peer.node} takes the edge role away; drop edge: true on ports between switches`,
          );
        }
      }
    }
  }

  private checkLayer2(
    switches: SwitchSpec[],
    links: LinkSpec[],
    linkIndexes: number[],
    ports: Map<string, Map<string, { spec: SwitchPortSpec; path: DocPath }>>,
  ): void {
    const isSwitch = (n: string) => this.nodes.get(n)?.kind === "switch";
    const edges: SwitchEdge[] = [];
    /** Per `node:port` the far end and the link's file index. */
    const far = new Map<string, { node: string; port: string; linkIndex: number }>();
    // Cables whose two ends are members of one LAG each are one logical link: the first of them
    // stands for the bundle in the loop check (a LAG is one port to a bridge).
    const lagOf = (sw: string, port: string) => ports.get(sw)?.get(port)?.spec.lag;
    const bundles = new Set<string>();
    links.forEach((l, k) => {
      const i = linkIndexes[k];
      far.set(`${l.a.node}:${l.a.port}`, { ...l.b, linkIndex: i });
      far.set(`${l.b.node}:${l.b.port}`, { ...l.a, linkIndex: i });
      if (!isSwitch(l.a.node) || !isSwitch(l.b.node)) return;
      // A routed port bridges nothing: its cable is a layer-3 link, in no VLAN.
      if (ports.get(l.a.node)?.get(l.a.port)?.spec.mode === "routed") return;
      if (ports.get(l.b.node)?.get(l.b.port)?.spec.mode === "routed") return;
      // An MLAG keepalive port is no bridge port: its cable joins no VLAN.
      if (this.isKeepalivePort(l.a.node, l.a.port) || this.isKeepalivePort(l.b.node, l.b.port)) return;
      const la = lagOf(l.a.node, l.a.port);
      const lb = lagOf(l.b.node, l.b.port);
      if (la !== undefined && lb !== undefined) {
        const key = [this.bundleKey(l.a.node, la), this.bundleKey(l.b.node, lb)].sort().join("|");
        if (bundles.has(key)) return;
        bundles.add(key);
      }
      edges.push({ linkIndex: i, a: l.a, b: l.b });
    });
    this.checkBundles(switches, far, lagOf);
    const graph = new SwitchGraph(
      switches.map((s) => s.name),
      edges,
    );
    const portOf = (sw: string, port: string) => ports.get(sw)?.get(port);
    // A loop exists only within a VLAN that every cable of the cycle carries.
    const vlanGraphs = new VlanGraphs(
      switches.map((s) => s.name),
      edges,
      (sw, port) => portOf(sw, port)?.spec,
    );
    this.vlanGraphs = vlanGraphs;
    // A loop whose switches all run spanning tree is what spanning tree is for: it blocks a port
    // of it and reopens that port when a cable of the loop fails. Any switch without it storms.
    const hasStp = new Set(switches.filter((s) => s.stp !== null).map((s) => s.name));
    const edgeByLink = new Map(edges.map((e) => [e.linkIndex, e]));
    for (const { loop, vlans } of vlanGraphs.loops()) {
      const onLoop = new Set<string>();
      for (const i of loop.linkIndexes) {
        const e = edgeByLink.get(i);
        if (e !== undefined) onLoop.add(e.a.node).add(e.b.node);
      }
      const withoutStp = [...onLoop].filter((n) => !hasStp.has(n));
      if (withoutStp.length === 0) continue;
      for (const v of vlans) this.refusedLoopVlans.add(v);
      this.error(
        "l2-loop",
        ["links", loop.closingLinkIndex],
        `layer-2 loop in ${vlans.length === 1 ? "VLAN" : "VLANs"} ${formatVlanList(vlans)}: ${loop.text}; ${andList(withoutStp)} ${withoutStp.length === 1 ? "runs" : "run"} no spanning tree, so broadcasts would circle forever: remove one of these links, stop carrying ${vlans.length === 1 ? "that VLAN" : "those VLANs"} on one of them, or enable stp: { mode: rstp } on every switch of the loop`,
      );
    }

    /** Where to point for a switch port: its configuration if any, else the link end naming it. */
    const portPath = (sw: string, port: string): DocPath => {
      const p = portOf(sw, port);
      if (p !== undefined && p.path.length > 0) return p.path;
      const f = far.get(`${sw}:${port}`)!;
      const l = links[linkIndexes.indexOf(f.linkIndex)];
      return ["links", f.linkIndex, "endpoints", l.a.node === sw && l.a.port === port ? 0 : 1];
    };
    const reported = new Set<string>();
    const once = (key: string) => {
      if (reported.has(key)) return false;
      reported.add(key);
      return true;
    };

    // Cables between switches whose ends disagree about VLANs (CDP's "native VLAN mismatch").
    for (const e of edges) {
      const isBroken =
        this.brokenPorts.has(`${e.a.node}:${e.a.port}`) || this.brokenPorts.has(`${e.b.node}:${e.b.port}`);
      if (isBroken || e.a.node === e.b.node) continue;
      const pa = portOf(e.a.node, e.a.port)!.spec;
      const pb = portOf(e.b.node, e.b.port)!.spec;
      if (pa.mode !== pb.mode)
        this.warn(
          "vlan-mismatch",
          ["links", e.linkIndex],
          `${e.a.node}:${e.a.port} is ${describePort(pa)} but ${e.b.node}:${e.b.port} is ${describePort(pb)}; the two ends of a cable between switches are normally configured alike`,
        );
      else {
        const ua = pa.mode === "access" ? pa.vlan : pa.mode === "routed" ? null : pa.nativeVlan;
        const ub = pb.mode === "access" ? pb.vlan : pb.mode === "routed" ? null : pb.nativeVlan;
        if (ua !== ub)
          this.warn(
            "vlan-mismatch",
            ["links", e.linkIndex],
            `untagged frames change VLAN across this cable: ${e.a.node}:${e.a.port} is ${describePort(pa)}, ${e.b.node}:${e.b.port} is ${describePort(pb)}`,
          );
      }
    }

    // The preconditions of double-tagging VLAN hopping: a host can send in VLAN v untagged (an
    // access port of v facing a server) or with an outer tag v (a VF whose port VLAN is v), and a
    // trunk of the same switch carries v as its native VLAN, so a frame tagged [v][w] leaves that
    // trunk with only [w] and the next switch puts it in VLAN w.
    const nativeTrunks = new Map<string, Map<number, string[]>>();
    for (const sw of switches) {
      const m = new Map<number, string[]>();
      for (const p of sw.ports)
        if (p.mode === "trunk" && p.nativeVlan !== null && far.has(`${sw.name}:${p.name}`))
          m.set(p.nativeVlan, [...(m.get(p.nativeVlan) ?? []), p.name]);
      nativeTrunks.set(sw.name, m);
    }
    const hoppingAdvice = "use a native VLAN that no host can send in (or none), as hardening guides advise";
    for (const sw of switches) {
      const natives = nativeTrunks.get(sw.name)!;
      if (natives.size === 0) continue;
      for (const p of sw.ports) {
        const f = far.get(`${sw.name}:${p.name}`);
        if (p.mode !== "access" || f === undefined || isSwitch(f.node)) continue;
        const trunks = natives.get(p.vlan);
        if (trunks === undefined) continue;
        this.warn(
          "vlan-hopping-risk",
          portPath(sw.name, p.name),
          `${sw.name}:${p.name} is an access port in VLAN ${p.vlan}, which is also the native VLAN of trunk ${trunks.join(", ")}: a host here can hop VLANs by double tagging ([${p.vlan}][other VLAN] leaves the trunk with only the inner tag); ${hoppingAdvice}`,
        );
      }
    }

    for (const att of this.attachments) {
      if (att.tag !== null && att.what.startsWith("VF ")) {
        for (const nicName of att.nics) {
          const f = far.get(`${att.server}:${nicName}`);
          if (f === undefined || !isSwitch(f.node)) continue;
          const trunks = nativeTrunks.get(f.node)?.get(att.tag);
          if (trunks === undefined || !once(`hop-vf ${f.node} ${att.tag}`)) continue;
          this.warn(
            "vlan-hopping-risk",
            att.path,
            `${att.what} puts its VM in VLAN ${att.tag}, which is the native VLAN of ${f.node}'s trunk ${trunks.join(", ")}: a guest can hop VLANs by sending frames tagged with another VLAN inside (the NIC adds ${att.tag} outside, the trunk strips it); ${hoppingAdvice}`,
          );
        }
      }
    }

    for (const att of this.attachments) {
      for (const nicName of att.nics) {
        const f = far.get(`${att.server}:${nicName}`);
        if (f === undefined) {
          if (!this.cabled.has(`${att.server}:${nicName}`)) {
            const vs = att.what.startsWith("VF ") ? "an SR-IOV NIC" : "an uplink";
            if (once(`nolink ${att.server}:${nicName}`))
              this.warn(
                "uncabled",
                this.serverNics.get(att.server)!.get(nicName)!.path,
                `${att.server}:${nicName} is ${vs} that VMs use (${this.usersOf(att.server, nicName)}) but no link connects it, so they reach only their own server`,
              );
          }
          continue;
        }
        if (!isSwitch(f.node) || this.brokenPorts.has(`${f.node}:${f.port}`)) continue;
        const port = portOf(f.node, f.port)!.spec;
        const vid = ingressVlan(port, att.tag);
        if (vid === null) {
          if (once(`land ${f.node}:${f.port} ${att.tag}`)) {
            const sent = att.tag === null ? "untagged frames" : `VLAN ${att.tag} tagged (802.1Q)`;
            const fix =
              att.tag === null
                ? "make it an access port or give the trunk a native VLAN"
                : port.mode === "access"
                  ? `make it mode: trunk with ${att.tag} in vlans`
                  : `add ${att.tag} to its vlans`;
            this.error(
              "vlan-not-carried",
              portPath(f.node, f.port),
              `${f.node}:${f.port} is ${describePort(port)}, but ${att.server}:${nicName} sends ${sent} for ${att.what}, used by ${att.vmName}; ${fix}`,
            );
          }
          continue;
        }
        if (att.vid === null) att.vid = vid;
        // Frames of a tagged attachment come back untagged when its VLAN is the trunk's native
        // VLAN, and a vswitch (or a VF with a port VLAN) drops untagged frames from the wire, or
        // puts them in its untagged port groups' segment: either way not in the VLAN.
        if (
          att.tag !== null &&
          port.mode === "trunk" &&
          port.nativeVlan === att.tag &&
          once(`native-back ${f.node}:${f.port} ${att.tag}`)
        ) {
          const untagged = this.untaggedGroupsOn(att.server, nicName);
          const fate =
            untagged.length === 0
              ? "they are dropped there"
              : `there they belong to the untagged port group${untagged.length > 1 ? "s" : ""} ${andList(untagged)}, not to VLAN ${att.tag}`;
          this.warn(
            "vlan-mismatch",
            portPath(f.node, f.port),
            `${f.node}:${f.port} is ${describePort(port)}, so VLAN ${att.tag}'s frames leave it untagged toward ${att.server}:${nicName}, which sends and expects VLAN ${att.tag} tagged (${att.what}, used by ${att.vmName}): ${fate}; make the native VLAN one no port group uses, or drop native`,
          );
        }
        this.checkGatewayPath(graph, att, vid, f.node, portOf, portPath, once);
      }
    }
    this.checkGateways();
  }

  /** The untagged port groups of the vswitch whose uplink is `server:nic` (none for a VF's NIC). */
  private untaggedGroupsOn(server: string, nic: string): string[] {
    for (const [key, vs] of this.vswitchSpecs)
      if (key.startsWith(`${server}/`) && vs.uplinks.includes(nic))
        return vs.portGroups.filter((pg) => pg.vni === null && pg.vlan === 0).map((pg) => pg.name);
    return [];
  }

  /** The VMs whose frames leave through `server:nic`, for messages: "a1, a2, a3 and 2 more". */
  private usersOf(server: string, nic: string): string {
    const names = [
      ...new Set(
        this.attachments.filter((a) => a.server === server && a.nics.includes(nic)).map((a) => a.vmName),
      ),
    ];
    return names.length <= 4
      ? names.join(", ")
      : `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`;
  }

  /** Whose address is each VM's gateway, and does the VM sit in the subnet of its VLAN's SVI? */
  private checkGateways(): void {
    const sviByIp = new Map<Ipv4, { sw: string; svi: SviSpec }>();
    for (const list of this.svis.values()) for (const x of list) sviByIp.set(x.svi.ip, x);
    const vmIps = new Set<Ipv4>(this.attachments.map((a) => a.ip));
    for (const att of this.attachments) {
      const ipText = showIp(att.ip, att.prefixLen);
      if (att.gateway !== null) {
        const gwText = formatIpv4(att.gateway);
        const owner = sviByIp.get(att.gateway);
        if (owner !== undefined) {
          if (att.vid !== null && owner.svi.vid !== att.vid)
            this.warn(
              "gateway-wrong-vlan",
              [...att.nicPath, "gateway"],
              `gateway ${gwText} is ${owner.sw}'s SVI in VLAN ${owner.svi.vid}, but this NIC is in VLAN ${att.vid}, where ARP for it gets no answer${this.sviHint(att.vid)}`,
            );
        } else if (!vmIps.has(att.gateway) && !this.routedIps.has(att.gateway))
          this.warn(
            "gateway-unknown",
            [...att.nicPath, "gateway"],
            `gateway ${gwText} belongs to no switch SVI and no VM in this topology, so nothing answers ARP for it${att.vid !== null ? this.sviHint(att.vid) : ""}`,
          );
        if (att.nics.length === 0)
          this.warn(
            "gateway-unreachable",
            [...att.nicPath, "gateway"],
            `gateway ${gwText} is out of reach: ${att.what} has no uplink, so ${att.vmName} reaches only its own server`,
          );
      }
      if (att.vid === null) continue;
      const svis = this.svis.get(att.vid);
      if (svis === undefined) continue;
      const inSubnet = svis.some((x) => sameSubnet(att.ip, x.svi.ip, x.svi.prefixLen));
      if (!inSubnet)
        this.warn(
          "subnet-mismatch",
          [...att.nicPath, "ip"],
          `${ipText} is outside the subnet of VLAN ${att.vid}'s gateway (${svis.map((x) => `${showIp(x.svi.ip, x.svi.prefixLen)} on ${x.sw}`).join(", ")}), so it cannot be routed there`,
        );
    }
  }

  private sviHint(vid: number): string {
    const svis = this.svis.get(vid);
    if (svis === undefined) return "";
    return `; VLAN ${vid}'s gateway is ${svis.map((x) => `${formatIpv4(x.svi.ip)} on ${x.sw}`).join(", ")}`;
  }

  /** The VLAN must cross every cable between the switch it lands on and the switch with its gateway. */
  private checkGatewayPath(
    graph: SwitchGraph,
    att: Attachment,
    vid: number,
    landing: string,
    portOf: (sw: string, port: string) => { spec: SwitchPortSpec; path: DocPath } | undefined,
    portPath: (sw: string, port: string) => DocPath,
    once: (key: string) => boolean,
  ): void {
    const own = this.vlanGraphs?.of(vid);
    if (this.refusedLoopVlans.has(vid)) return; // paths are ambiguous; the loop is reported

    // Every VM of a VLAN landing on the same switch takes the same path: check it once.
    const key = `${landing}\u0001${vid}`;
    if (this.pathsChecked.has(key)) return;
    this.pathsChecked.add(key);
    const all = this.svis.get(vid);
    if (all === undefined) return;
    // A VLAN routed on several switches in different subnets (a VTEP VLAN per rack) needs
    // only the gateway of the attachment's own subnet.
    const inSubnet = all.filter((x) => sameSubnet(att.ip, x.svi.ip, x.svi.prefixLen));
    const gws = inSubnet.length > 0 ? inSubnet : all;
    for (const { sw: gw } of gws) {
      if (gw === landing) continue;
      // Joined by cables that carry the VLAN: nothing to report. Otherwise a path over any
      // cables shows where the VLAN stops.
      if (own?.isConnected(landing, gw) === true) continue;
      const hops = graph.path(landing, gw);
      if (hops === undefined) {
        if (once(`nopath ${landing} ${gw} ${vid}`))
          this.warn(
            "gateway-unreachable",
            att.path,
            `VLAN ${vid} lands on ${landing}, which has no cable path to ${gw}, the gateway of VLAN ${vid}; ${att.vmName} cannot reach its gateway`,
          );
        continue;
      }
      const cur = vid;
      for (const h of hops) {
        if (this.brokenPorts.has(`${h.from}:${h.fromPort}`) || this.brokenPorts.has(`${h.to}:${h.toPort}`))
          break;
        const out = portOf(h.from, h.fromPort)!.spec;
        const inn = portOf(h.to, h.toPort)!.spec;
        const tagging = egressTagging(out, cur);
        const next = tagging === null ? null : ingressVlan(inn, tagging === "tagged" ? cur : null);
        if (next === cur) continue;
        const [blockSw, blockPort, blockSpec] =
          tagging === null ? [h.from, h.fromPort, out] : [h.to, h.toPort, inn];
        if (once(`path ${blockSw}:${blockPort} ${vid}`)) {
          const why =
            next === null
              ? `does not carry VLAN ${vid}`
              : `puts VLAN ${vid}'s frames into VLAN ${next} (they leave ${h.from}:${h.fromPort} untagged)`;
          this.error(
            "vlan-not-carried",
            portPath(blockSw, blockPort),
            `${blockSw}:${blockPort} is ${describePort(blockSpec)} and ${why}, but VLAN ${vid} (${att.what}, used by ${att.vmName}) must cross it from ${landing} to its gateway on ${gw}`,
          );
        }
        break;
      }
    }
  }
}

/** A routing device's own addresses: its loopback, routed ports and SVIs (tunnel sources). */
function ownAddressesOf(sw: SwitchSpec): Ipv4[] {
  return [
    ...(sw.loopback === null ? [] : [sw.loopback.ip]),
    ...sw.ports.flatMap((p) => (p.mode === "routed" ? [p.ip] : [])),
    ...sw.gateway.map((g) => g.ip),
  ];
}

/** The smallest MTU of a device's cabled routed ports (port and cable), or null: what a tunnel leaves by. */
function underlayMtuOf(sw: SwitchSpec, links: readonly LinkSpec[]): number | null {
  const fits = sw.ports.flatMap((p) => {
    if (p.mode !== "routed") return [];
    const cable = links.find(
      (l) => (l.a.node === sw.name && l.a.port === p.name) || (l.b.node === sw.name && l.b.port === p.name),
    );
    return cable === undefined ? [] : [Math.min(p.mtu, cable.mtu)];
  });
  return fits.length === 0 ? null : Math.min(...fits);
}
