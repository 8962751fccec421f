/**
 * A generated data center, as topology-file YAML: R racks of S servers with V VMs each (by
 * default 40 x 20 x 20 = 16,000 VMs), a top-of-rack switch per rack whose uplink is a trunk to
 * one core switch, and the core switch as the gateway of every VLAN. VMs are spread round-robin
 * over a few port groups (one VLAN and one /16 each), so every rack carries every VLAN and
 * traffic between port groups is routed on the core. Optionally each server also has an SR-IOV
 * NIC with some VMs on its VFs. Deterministic: the same options give the same bytes. Used by
 * the scale benchmark (`bench/gen-datacenter.ts` prints it) and by tests. Browser-safe.
 *
 * With `mlag`, the same data center with every rack's top-of-rack switch replaced by an MLAG
 * leaf pair (`leafNa`, `leafNb`, MLAG domain N, as `examples/mlag.yaml` builds one): a peer link
 * `peerlink` over two cables (eth(S+1), eth(S+2)), a keepalive cable between the leaves' `mgmt0`
 * ports, and per server a multi-chassis LAG `poS` (one member, `ethS`, on each leaf) to which the
 * server's two NICs eth0 and eth1 are bonded (vswitch teaming policy lacp, LACP active, fast).
 * The pair reaches the core over the multi-chassis LAG `uplink` (eth(S+3) on each leaf), which
 * the core sees as one LACP LAG `poN` over two ports. SR-IOV NICs stay single-homed: eth2 of an
 * odd server goes to leaf a, of an even server to leaf b (an orphan port of the pair).
 *
 * With `vxlan`, the same racks, servers and VMs (same names, same addresses, same order) over a
 * routed leaf-spine underlay with every port group backed by a VNI (5001, 5002, ...) instead of a
 * VLAN: a leaf per rack (`leafN`) and `spines` spines (`spine1`, ...), every leaf-to-spine cable
 * a routed /31 (192.168.0.0/16); each server's vswitch has a VTEP (VLAN 100, 172.16+.N.(10+s)/24
 * for rack N, MTU 1600) whose gateway is the SVI of VLAN 100 on its rack's leaf (.1, MTU 1600);
 * each leaf reaches the other racks' VTEP subnets with one static route to 172.16.0.0/12 over
 * every spine (ECMP; its own /24 is connected and more specific), each spine has a route per
 * rack to that rack's leaf. Cables, routed ports, SVIs and VTEPs carry 1600 bytes, so the VMs'
 * 1500-byte packets fit in VXLAN. The VNIs flood head-end to every VTEP carrying them and learn.
 * An overlay segment has no router here, so the VMs have no gateway: only VMs of one port group
 * (one VNI) reach each other. No SR-IOV and no MLAG in this mode (a VF's VLAN would need a
 * subnet per rack): those options are refused.
 */

export interface DatacenterOptions {
  racks: number;
  serversPerRack: number;
  vmsPerServer: number;
  /** Port groups (VLANs 100, 101, ...) the VMs are spread over. */
  portGroups: number;
  /** Per server, how many of its VMs use a VF of an SR-IOV NIC (eth1) instead of a port group. */
  sriovVmsPerServer: number;
  /** Every rack an MLAG leaf pair, every server's two NICs LACP-bonded to it (see above). */
  mlag: boolean;
  /** A routed leaf-spine underlay, every port group a VNI over hypervisor VTEPs (see above). */
  vxlan: boolean;
  /** Spines of the vxlan underlay (every leaf is cabled to each). */
  spines: number;
  name: string;
}

export const DATACENTER_DEFAULTS: DatacenterOptions = {
  racks: 40,
  serversPerRack: 20,
  vmsPerServer: 20,
  portGroups: 4,
  sriovVmsPerServer: 0,
  mlag: false,
  vxlan: false,
  spines: 2,
  name: "datacenter",
};

const PORT_GROUP_NAMES = ["web", "app", "db", "cache", "mgmt", "batch", "storage", "backup"];

export function portGroupName(i: number): string {
  return i < PORT_GROUP_NAMES.length ? PORT_GROUP_NAMES[i] : `pg${i}`;
}

/** VLAN of port group i. */
export function portGroupVlan(i: number): number {
  return 100 + i;
}

/** Host number h (>= 2) in port group i's subnet 10.<i+1>.0.0/16 (gateway .0.1). */
function hostIp(pg: number, h: number): string {
  return `10.${pg + 1}.${h >>> 8}.${h & 255}`;
}

/** VNI of port group i in the vxlan data center. */
export function portGroupVni(i: number): number {
  return 5001 + i;
}

/** The VLAN of the VTEPs in the vxlan data center. */
export const VTEP_VLAN = 100;

/** The VTEP subnet of rack r (1-based) in the vxlan data center: 172.(16 + r/256).(r%256).0/24. */
function vtepNet(r: number): string {
  return `172.${16 + (r >>> 8)}.${r & 255}`;
}

/** Address of the spine (side 0) or leaf (side 1) end of routed link l. */
function linkIp(l: number, side: 0 | 1): string {
  const a = 2 * l + side;
  return `192.168.${a >>> 8}.${a & 255}`;
}

/** The YAML text of the data center. Throws RangeError for options no topology can hold. */
export function generateDatacenter(options: Partial<DatacenterOptions> = {}): string {
  const o: DatacenterOptions = { ...DATACENTER_DEFAULTS, ...options };
  for (const k of ["racks", "serversPerRack", "vmsPerServer", "portGroups"] as const)
    if (!Number.isInteger(o[k]) || o[k] < 1)
      throw new RangeError(`${k} must be a whole number >= 1, got ${o[k]}`);
  if (
    !Number.isInteger(o.sriovVmsPerServer) ||
    o.sriovVmsPerServer < 0 ||
    o.sriovVmsPerServer > o.vmsPerServer
  )
    throw new RangeError(`sriovVmsPerServer must be 0..vmsPerServer, got ${o.sriovVmsPerServer}`);
  if (o.portGroups > 254)
    throw new RangeError(`at most 254 port groups (one 10.x.0.0/16 each), got ${o.portGroups}`);
  if (o.sriovVmsPerServer > 512) throw new RangeError("an SR-IOV NIC presents at most 512 VFs");
  if (o.mlag && o.racks > 1000)
    throw new RangeError(`at most 1000 racks with mlag (one MLAG domain each), got ${o.racks}`);
  if (o.vxlan) {
    if (o.mlag) throw new RangeError("vxlan and mlag cannot be combined");
    if (o.sriovVmsPerServer > 0)
      throw new RangeError("vxlan has no SR-IOV VMs (a VF's VLAN would need a subnet per rack)");
    if (!Number.isInteger(o.spines) || o.spines < 1)
      throw new RangeError(`spines must be a whole number >= 1, got ${o.spines}`);
    if (o.racks > 4095) throw new RangeError(`at most 4095 racks with vxlan, got ${o.racks}`);
    if (o.serversPerRack > 244)
      throw new RangeError(
        `at most 244 servers per rack with vxlan (one /24 of VTEPs), got ${o.serversPerRack}`,
      );
    if (o.racks * o.spines > 32_768)
      throw new RangeError(`racks x spines must be at most 32768 (/31 links in 192.168.0.0/16)`);
  }
  const totalVms = o.racks * o.serversPerRack * o.vmsPerServer;
  // Each port group's /16 holds 65,533 hosts after the network, gateway and broadcast addresses.
  if (Math.ceil(totalVms / o.portGroups) > 65_533)
    throw new RangeError(
      `${totalVms} VMs over ${o.portGroups} port groups do not fit a /16 each; add port groups`,
    );

  if (o.vxlan) return generateVxlanDatacenter(o, totalVms);
  const vlans = Array.from({ length: o.portGroups }, (_, i) => portGroupVlan(i));
  const vlanList = `[${vlans.join(", ")}]`;
  const trunk = `{ mode: trunk, vlans: ${vlanList} }`;
  const S = o.serversPerRack;
  const hasSriov = o.sriovVmsPerServer > 0;
  // tor ports: eth1..ethS to the servers' eth0, eth(S+1) to the core, eth(S+2).. to SR-IOV NICs.
  // mlag leaves: eth1..ethS to the servers (eth0 on leaf a, eth1 on leaf b), eth(S+1) and eth(S+2)
  // the peer link, eth(S+3) to the core, eth(S+3+s) to server s's SR-IOV NIC (on one leaf).
  const uplinkPort = o.mlag ? `eth${S + 3}` : `eth${S + 1}`;
  const sriovPort = (s: number) => (o.mlag ? `eth${S + 3 + s}` : `eth${S + 1 + s}`);
  const sriovLeaf = (s: number) => (s % 2 === 1 ? "a" : "b");
  const bonded = "lacp: active, rate: fast";
  const out: string[] = [];
  out.push(
    `# Generated by vnet (src/model/generate.ts): ${o.racks} racks x ${o.serversPerRack} servers x ${o.vmsPerServer} VMs${o.mlag ? ", MLAG leaf pairs" : ""}.`,
    `name: ${o.name}`,
    o.mlag
      ? `description: ${o.racks} racks of ${o.serversPerRack} servers with ${o.vmsPerServer} VMs each (${totalVms} VMs), each server LACP-bonded to the MLAG leaf pair of its rack, the pairs bonded to a core switch that routes ${o.portGroups} VLANs.`
      : `description: ${o.racks} racks of ${o.serversPerRack} servers with ${o.vmsPerServer} VMs each (${totalVms} VMs), top-of-rack switches trunked to a core switch that routes ${o.portGroups} VLANs.`,
    "",
  );
  if (o.mlag) {
    out.push("mlag:");
    for (let r = 1; r <= o.racks; r++)
      out.push(
        `  - { domain: ${r}, switches: [leaf${r}a, leaf${r}b], peerLink: peerlink, keepalive: [leaf${r}a:mgmt0, leaf${r}b:mgmt0], priority: { leaf${r}a: 100, leaf${r}b: 200 } }`,
      );
    out.push("");
  }
  out.push("switches:", "  core1:");
  if (o.mlag) {
    out.push("    lags:");
    for (let r = 1; r <= o.racks; r++)
      out.push(`      po${r}: { members: [eth${2 * r - 1}, eth${2 * r}], ${bonded} }`);
    out.push("    ports:");
    for (let r = 1; r <= o.racks; r++) out.push(`      po${r}: ${trunk}`);
  } else {
    out.push("    ports:");
    for (let r = 1; r <= o.racks; r++) out.push(`      eth${r}: ${trunk}`);
  }
  out.push("    gateway:");
  for (let i = 0; i < o.portGroups; i++) out.push(`      ${vlans[i]}: ${hostIp(i, 1)}/16`);
  for (let r = 1; r <= o.racks; r++) {
    if (!o.mlag) {
      out.push(`  tor${r}:`, "    ports:");
      for (let s = 1; s <= S; s++) out.push(`      eth${s}: ${trunk}`);
      out.push(`      ${uplinkPort}: ${trunk}`);
      if (hasSriov) for (let s = 1; s <= S; s++) out.push(`      ${sriovPort(s)}: ${trunk}`);
      continue;
    }
    for (const side of ["a", "b"]) {
      out.push(`  leaf${r}${side}:`, "    lags:");
      out.push(`      peerlink: { members: [eth${S + 1}, eth${S + 2}], ${bonded} }`);
      for (let s = 1; s <= S; s++) out.push(`      po${s}: { members: [eth${s}], ${bonded}, mlag: true }`);
      out.push(`      uplink: { members: [${uplinkPort}], ${bonded}, mlag: true }`);
      out.push("    ports:", `      peerlink: ${trunk}`);
      for (let s = 1; s <= S; s++) out.push(`      po${s}: ${trunk}`);
      out.push(`      uplink: ${trunk}`);
      if (hasSriov)
        for (let s = 1; s <= S; s++) if (sriovLeaf(s) === side) out.push(`      ${sriovPort(s)}: ${trunk}`);
    }
  }

  out.push("", "servers:");
  const pgLines = vlans.map((v, i) => `          ${portGroupName(i)}: { vlan: ${v} }`);
  const sriovNic = `{ name: ${o.mlag ? "eth2" : "eth1"}, sriov: { vfs: ${o.sriovVmsPerServer} } }`;
  const nicsLine = o.mlag
    ? `    nics: [eth0, eth1${hasSriov ? `, ${sriovNic}` : ""}]`
    : `    nics: [eth0${hasSriov ? `, ${sriovNic}` : ""}]`;
  const vswitchLines = o.mlag
    ? [
        "    vswitches:",
        "      vs0:",
        "        uplinks: [eth0, eth1]",
        "        teaming: { policy: lacp, lacp: { mode: active, rate: fast } }",
        "        portGroups:",
      ]
    : ["    vswitches:", "      vs0:", "        uplinks: [eth0]", "        portGroups:"];
  const vfNic = o.mlag ? "eth2" : "eth1";
  const hostNext = new Array<number>(o.portGroups).fill(2);
  let vmIndex = 0;
  for (let r = 1; r <= o.racks; r++) {
    for (let s = 1; s <= S; s++) {
      const sv = `r${r}s${s}`;
      out.push(`  ${sv}:`, nicsLine, ...vswitchLines, ...pgLines);
      out.push("    vms:");
      for (let v = 1; v <= o.vmsPerServer; v++) {
        const pg = vmIndex % o.portGroups;
        const h = hostNext[pg]++;
        const ip = `${hostIp(pg, h)}/16`;
        const gw = hostIp(pg, 1);
        const isVf = v > o.vmsPerServer - o.sriovVmsPerServer;
        const nic = isVf
          ? `{ vf: ${vfNic}, vlan: ${vlans[pg]}, ip: ${ip}, gateway: ${gw} }`
          : `{ portGroup: ${portGroupName(pg)}, ip: ${ip}, gateway: ${gw} }`;
        out.push(`      vm-${sv}-${v}: { nics: [${nic}] }`);
        vmIndex++;
      }
    }
  }

  out.push("", "links:");
  const server = "bandwidth: 25Gbps, delay: 1us";
  const fabric = "bandwidth: 100Gbps, delay: 2us";
  for (let r = 1; r <= o.racks; r++) {
    if (!o.mlag) {
      for (let s = 1; s <= S; s++) {
        out.push(`  - { endpoints: [r${r}s${s}:eth0, tor${r}:eth${s}], ${server} }`);
        if (hasSriov) out.push(`  - { endpoints: [r${r}s${s}:eth1, tor${r}:${sriovPort(s)}], ${server} }`);
      }
      out.push(`  - { endpoints: [tor${r}:${uplinkPort}, core1:eth${r}], ${fabric} }`);
      continue;
    }
    const a = `leaf${r}a`;
    const b = `leaf${r}b`;
    for (let s = 1; s <= S; s++) {
      out.push(`  - { endpoints: [r${r}s${s}:eth0, ${a}:eth${s}], ${server} }`);
      out.push(`  - { endpoints: [r${r}s${s}:eth1, ${b}:eth${s}], ${server} }`);
      if (hasSriov)
        out.push(`  - { endpoints: [r${r}s${s}:eth2, leaf${r}${sriovLeaf(s)}:${sriovPort(s)}], ${server} }`);
    }
    out.push(`  - { endpoints: [${a}:eth${S + 1}, ${b}:eth${S + 1}], bandwidth: 100Gbps, delay: 1us }`);
    out.push(`  - { endpoints: [${a}:eth${S + 2}, ${b}:eth${S + 2}], bandwidth: 100Gbps, delay: 1us }`);
    out.push(`  - { endpoints: [${a}:mgmt0, ${b}:mgmt0], bandwidth: 1Gbps, delay: 1us }`);
    out.push(`  - { endpoints: [${a}:${uplinkPort}, core1:eth${2 * r - 1}], ${fabric} }`);
    out.push(`  - { endpoints: [${b}:${uplinkPort}, core1:eth${2 * r}], ${fabric} }`);
  }
  out.push("");
  return out.join("\n");
}

/** The vxlan data center (see the header): the same VMs over VNIs and a routed leaf-spine. */
function generateVxlanDatacenter(o: DatacenterOptions, totalVms: number): string {
  const S = o.serversPerRack;
  const K = o.spines;
  const link = (r: number, k: number) => (r - 1) * K + (k - 1);
  const mtu = 1600;
  const out: string[] = [];
  out.push(
    `# Generated by vnet (src/model/generate.ts): ${o.racks} racks x ${S} servers x ${o.vmsPerServer} VMs, VXLAN over a routed leaf-spine.`,
    `name: ${o.name}`,
    `description: ${o.racks} racks of ${S} servers with ${o.vmsPerServer} VMs each (${totalVms} VMs) on ${o.portGroups} VNIs over hypervisor VTEPs, a leaf per rack routed to ${K} spines (ECMP).`,
    "",
    "switches:",
  );
  for (let k = 1; k <= K; k++) {
    out.push(`  spine${k}:`, "    ports:");
    for (let r = 1; r <= o.racks; r++)
      out.push(`      eth${r}: { mode: routed, ip: ${linkIp(link(r, k), 0)}/31, mtu: ${mtu} }`);
    out.push("    routes:");
    for (let r = 1; r <= o.racks; r++)
      out.push(`      - { to: ${vtepNet(r)}.0/24, via: ${linkIp(link(r, k), 1)} }`);
  }
  const spineHops = Array.from({ length: K }, (_, i) => i + 1);
  for (let r = 1; r <= o.racks; r++) {
    out.push(
      `  leaf${r}:`,
      "    gateway:",
      `      ${VTEP_VLAN}: { ip: ${vtepNet(r)}.1/24, mtu: ${mtu} }`,
      "    ports:",
    );
    for (let s = 1; s <= S; s++) out.push(`      eth${s}: { mode: trunk, vlans: [${VTEP_VLAN}] }`);
    for (const k of spineHops)
      out.push(`      eth${S + k}: { mode: routed, ip: ${linkIp(link(r, k), 1)}/31, mtu: ${mtu} }`);
    out.push(
      "    routes:",
      `      - { to: 172.16.0.0/12, via: [${spineHops.map((k) => linkIp(link(r, k), 0)).join(", ")}] }`,
    );
  }

  out.push("", "servers:");
  const pgLines = Array.from(
    { length: o.portGroups },
    (_, i) => `          ${portGroupName(i)}: { vni: ${portGroupVni(i)} }`,
  );
  const hostNext = new Array<number>(o.portGroups).fill(2);
  let vmIndex = 0;
  for (let r = 1; r <= o.racks; r++) {
    for (let s = 1; s <= S; s++) {
      const sv = `r${r}s${s}`;
      out.push(
        `  ${sv}:`,
        "    nics: [eth0]",
        "    vswitches:",
        "      vs0:",
        "        uplinks: [eth0]",
        `        vtep: { ip: ${vtepNet(r)}.${10 + s}/24, gateway: ${vtepNet(r)}.1, vlan: ${VTEP_VLAN}, mtu: ${mtu} }`,
        "        portGroups:",
        ...pgLines,
        "    vms:",
      );
      for (let v = 1; v <= o.vmsPerServer; v++) {
        const pg = vmIndex % o.portGroups;
        const h = hostNext[pg]++;
        out.push(
          `      vm-${sv}-${v}: { nics: [{ portGroup: ${portGroupName(pg)}, ip: ${hostIp(pg, h)}/16 }] }`,
        );
        vmIndex++;
      }
    }
  }

  out.push("", "overlay:", "  vnis:");
  for (let i = 0; i < o.portGroups; i++)
    out.push(`    ${portGroupVni(i)}: { replication: head-end, learning: true }`);

  out.push("", "links:");
  for (let r = 1; r <= o.racks; r++) {
    for (let s = 1; s <= S; s++)
      out.push(
        `  - { endpoints: [r${r}s${s}:eth0, leaf${r}:eth${s}], bandwidth: 25Gbps, delay: 1us, mtu: ${mtu} }`,
      );
    for (const k of spineHops)
      out.push(
        `  - { endpoints: [leaf${r}:eth${S + k}, spine${k}:eth${r}], bandwidth: 100Gbps, delay: 2us, mtu: ${mtu} }`,
      );
  }
  out.push("");
  return out.join("\n");
}
