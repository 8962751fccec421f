/**
 * The shape of a topology file (version 1) as a zod schema: which keys exist, their types and
 * their ranges, with a description on every key. It is the first of the loader's two passes
 * (`load-text.ts`): shape here, meaning (names, VLAN paths, loops, addresses) in `normalize.ts`.
 * The same schema is exported as JSON Schema (`vnet schema`) so editors can complete the file.
 * Browser-safe. Messages set here are the user's: they name what would be valid.
 */

import * as z from "zod";
import { escapeChar, firstUnprintable, quoteText } from "./diagnostics.ts";

/** Shows a user's value in a message: strings quoted, objects by kind. */
export function showValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (typeof v === "string") return quoteText(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  // What YAML's explicit tags (!!binary, !!set, !!omap, !!timestamp) give.
  if (v instanceof Uint8Array) return "binary data";
  if (v instanceof Set) return "a set";
  if (v instanceof Map) return "an ordered map";
  if (v instanceof Date) return "a timestamp";
  return "a map";
}

/**
 * Text that vnet prints as it is (the topology's name in `vnet check`'s answer) must be printable:
 * a control character would act on the terminal that shows it. `allowed` lists the ones a
 * multi-line text may keep (newline, tab).
 */
const mustBePrintable =
  (what: string, allowed = "") =>
  (v: string, ctx: z.RefinementCtx): void => {
    const bad = firstUnprintable(v, allowed);
    if (bad === undefined) return;
    ctx.addIssue({
      code: "custom",
      message: `${showValue(v)}: ${what} must be printable, but character ${bad.index + 1} is the control character ${escapeChar(bad.char)}`,
    });
  };

// IEEE 802.1Q-2018 §9.6, Table 9-2: VID 0 is the null VLAN (priority tag only) and 4095 (FFF) is
// reserved, so a VLAN a port can belong to is 1..4094.
const vlanId = z
  .int({
    error: (iss) =>
      typeof iss.input === "number"
        ? `${iss.input} is not a usable VLAN id: VLAN ids are 1..4094 (IEEE 802.1Q reserves 0 and 4095)`
        : `expected a VLAN id (1..4094), got ${showValue(iss.input)}`,
  })
  .min(1)
  .max(4094);

/**
 * For a key that takes a list, when the value was written as one piece of text or one number:
 * the list it was probably meant to be, in YAML (`"10,20"` -> ` (as a list: [10, 20])`).
 */
export function listHint(input: unknown): string {
  if (typeof input === "number") return ` (as a list: [${input}])`;
  if (typeof input !== "string" || !/[,;]/.test(input)) return "";
  const items = input
    .split(/[,;]/)
    .map((x) => x.trim())
    .filter((x) => x !== "");
  return items.length > 1 ? ` (as a list: [${items.join(", ")}])` : "";
}

type ErrorFn = (iss: { input?: unknown }) => string;
/**
 * A string of a given form; the same message whether the value is no string at all or a wrong
 * one. `what` names the expected value when it is missing altogether.
 */
const text = (re: RegExp, error: ErrorFn, what?: string) => {
  const e: ErrorFn = (iss) =>
    iss.input === undefined && what ? `expected ${what}, got nothing` : error(iss);
  return z.string({ error: e }).regex(re, { error: e });
};

/** Names of switches, servers, vswitches and VMs: they appear in `node:port` and `vs0/web`. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameRule = "letters, digits, '_', '.', '-' (at most 63, starting with a letter or digit)";
/** Port group names: as node names; no '/' because `vs0/web` qualifies one. */
const nodeName = text(
  NAME_RE,
  (iss) => `${showValue(iss.input)} is not a valid name: use ${nameRule}`,
  "a name",
);
/** A server NIC becomes a Linux interface in the real world: IFNAMSIZ allows 15 characters. */
const SERVER_NIC_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const serverNicName = text(
  SERVER_NIC_RE,
  (iss) =>
    `${showValue(iss.input)} is not a valid NIC name: use letters, digits, '_', '.', '-', at most 15 characters (a Linux interface name)`,
  "a NIC name such as eth0",
);
/** Switch port names may carry slots, as vendors name them (`Ethernet1/1`). */
const SWITCH_PORT_RE = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
const switchPortName = text(
  SWITCH_PORT_RE,
  (iss) =>
    `${showValue(iss.input)} is not a valid port name: use letters, digits, '_', '.', '/', '-' (at most 63)`,
  "a port name such as eth1",
);

const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4 = `${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}`;
export const IPV4_RE = new RegExp(`^${IPV4}$`);
export const CIDR_RE = new RegExp(`^${IPV4}/(3[0-2]|[12]?[0-9])$`);

const cidr = text(CIDR_RE, (iss) => {
  const v = iss.input;
  if (typeof v === "string" && IPV4_RE.test(v))
    return `${v} has no prefix length: write it as address/length, e.g. ${v}/24`;
  return `expected an IPv4 address with prefix length (e.g. 192.168.10.11/24), got ${showValue(v)}`;
});
const ipv4 = text(IPV4_RE, (iss) => {
  const v = iss.input;
  if (typeof v === "string" && CIDR_RE.test(v))
    return `${v}: a gateway is an address without prefix length, e.g. ${v.slice(0, v.indexOf("/"))}`;
  return `expected an IPv4 address (e.g. 192.168.10.1), got ${showValue(v)}`;
});
export const MAC_TEXT_RE = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/;
const macText = text(
  MAC_TEXT_RE,
  (iss) =>
    `expected a MAC address like "02:00:00:00:20:12" (quote it: YAML reads some unquoted MACs as numbers), got ${showValue(iss.input)}`,
);

const positiveInt = (what: string, max: number) =>
  z
    .int({
      error: (iss) =>
        typeof iss.input === "number"
          ? `${iss.input} is out of range for ${what}: 1..${max}`
          : `expected ${what} (a whole number 1..${max}), got ${showValue(iss.input)}`,
    })
    .min(1)
    .max(max);

const macTableSize = positiveInt("a MAC table size", 1_048_576).describe(
  "Most MAC addresses the switch learns (default 8192, as Open vSwitch's mac-table-size).",
);
const macAgingSec = positiveInt("a MAC aging time in seconds", 1_000_000).describe(
  "Seconds a learned MAC address stays without traffic (default 300, as Open vSwitch's mac-aging-time).",
);

export const BANDWIDTH_RE = /^([0-9]+(?:\.[0-9]+)?) ?([kKMGT]?)(?:bps|bit\/s|b\/s)?$/;
export const DELAY_RE = /^([0-9]+(?:\.[0-9]+)?) ?(ns|us|µs|ms|s)$/;
export const PERCENT_RE = /^([0-9]+(?:\.[0-9]+)?) ?%$/;
export const VLAN_RANGE_RE = /^([0-9]+) ?- ?([0-9]+)$/;
/** A time in a run (`faults[].at`): "2s", "150ms", "10us", "500ns". */
export const TIME_RE = /^([0-9]+(?:\.[0-9]+)?) ?(ns|us|µs|ms|s)$/;

const securityValue = z
  .union([z.enum(["accept", "reject"]), z.boolean()], {
    error: (iss) => `expected accept or reject (or true/false), got ${showValue(iss.input)}`,
  })
  .describe("accept (true) or reject (false), as in vSphere; default reject.");

const security = z
  .strictObject({
    promiscuous: securityValue
      .optional()
      .describe("Promiscuous mode: deliver every frame of the port group's VLAN to the VM. Default reject."),
    macChanges: securityValue
      .optional()
      .describe(
        "MAC address changes: the guest may change its effective MAC and still receive. Default reject.",
      ),
    forgedTransmits: securityValue
      .optional()
      .describe(
        "Forged transmits: the guest may send with a source MAC other than its vNIC's. Default reject.",
      ),
    spoofGuard: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "SpoofGuard (NSX) / port security (OpenStack): ARP and IPv4 from a VM must carry its configured IP and MAC (0.0.0.0 allowed for probes and DHCP); others are dropped and counted. Default true.",
      ),
  })
  .describe(
    "vSphere security policy (and SpoofGuard). Keys not given fall back to the vswitch's security, then to reject (spoofGuard: true).",
  );

/** A storm-control level: packets per second, as a number or text ("1000pps", "10kpps"). */
const ppsLevel = z
  .union([z.number(), z.string()], {
    error: (iss) => `expected packets per second (1000 or "1000pps"), got ${showValue(iss.input)}`,
  })
  .describe('Packets per second: a number, or text with a unit ("500pps", "10kpps", "1Mpps").');

const stormControl = z
  .strictObject({
    broadcast: ppsLevel.optional().describe("Most broadcast frames per second the port takes in."),
    multicast: ppsLevel.optional().describe("Most multicast frames per second the port takes in."),
    unknownUnicast: ppsLevel
      .optional()
      .describe("Most frames per second to unknown unicast destinations (flooded) the port takes in."),
  })
  .describe(
    "Storm control: ingress limits on the frames the device would flood; above a level, frames are dropped and counted (storm-control-broadcast, ...). Off by default.",
  );

const switchPort = z
  .strictObject({
    mode: z
      .enum(["access", "trunk", "routed"], {
        error: (iss) => `expected access, trunk or routed, got ${showValue(iss.input)}`,
      })
      .optional()
      .describe(
        "access: untagged member of one VLAN (default). trunk: carries VLANs tagged (IEEE 802.1Q). routed: a layer-3 port with an address of its own (ip), in no VLAN.",
      ),
    ip: cidr.optional().describe("Routed ports: the port's address and prefix length, e.g. 10.0.1.0/31."),
    mtu: z
      .int({ error: (iss) => `expected an MTU in bytes (68..9216), got ${showValue(iss.input)}` })
      .min(68)
      .max(9216)
      .optional()
      .describe("Routed ports: the largest IPv4 packet sent out of the port (default 1500)."),
    vlan: vlanId.optional().describe("Access ports: the VLAN the port belongs to (default 1)."),
    vlans: z
      .union(
        [
          z.literal("all"),
          z.array(
            z.union([vlanId, z.string().regex(VLAN_RANGE_RE)], {
              error: (iss) =>
                `expected a VLAN id (1..4094) or a range like "100-199", got ${showValue(iss.input)}`,
            }),
          ),
        ],
        {
          error: (iss) =>
            `expected a list of VLAN ids or ranges like [10, 20, "100-110"], or "all"; got ${showValue(iss.input)}${listHint(iss.input)}`,
        },
      )
      .optional()
      .describe('Trunk ports: the VLANs allowed, as ids and ranges ("100-199"); omitted or "all" = 1..4094.'),
    native: vlanId
      .optional()
      .describe("Trunk ports: untagged frames belong to this VLAN and it is sent untagged (default: none)."),
    stormControl: stormControl.optional(),
    edge: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "Spanning tree: the port faces hosts, never a bridge, so it forwards at once (Cisco portfast, 802.1D AdminEdge). Default: true on a port cabled to a server, false otherwise.",
      ),
    bpduGuard: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "Spanning tree: a BPDU arriving on the port err-disables it (no traffic) until it is re-enabled. Default false.",
      ),
  })
  .describe(
    "Settings of one switch port. A port a link names but this map does not configure is an access port in VLAN 1.",
  );

const stp = z
  .strictObject({
    mode: z
      .enum(["rstp"], {
        error: (iss) =>
          `expected rstp (the Rapid Spanning Tree Protocol, IEEE 802.1D-2004; STP and MSTP are not run), got ${showValue(iss.input)}`,
      })
      .describe("rstp: the Rapid Spanning Tree Protocol (IEEE 802.1D-2004 clause 17)."),
    priority: z
      .int({
        error: (iss) =>
          typeof iss.input === "number"
            ? `${iss.input} is not a bridge priority: a multiple of 4096 in 0..61440 (default 32768)`
            : `expected a bridge priority (a multiple of 4096 in 0..61440), got ${showValue(iss.input)}`,
      })
      .min(0)
      .max(61440)
      .multipleOf(4096)
      .optional()
      .describe(
        "Bridge priority, a multiple of 4096 in 0..61440 (default 32768); the lowest priority (then the lowest MAC) is the root.",
      ),
  })
  .describe(
    "Spanning tree on the switch: it blocks the ports that would close a loop and reopens them when a link fails. A loop is accepted only when every switch on it runs it.",
  );

const lacpRate = z
  .enum(["fast", "slow"], { error: (iss) => `expected fast or slow, got ${showValue(iss.input)}` })
  .describe(
    "LACPDU rate asked of the partner: fast (1 s, timeout 3 s) or slow (30 s, timeout 90 s; default).",
  );

const lag = z
  .strictObject({
    members: z
      .array(switchPortName)
      .min(1, { error: "a LAG needs at least one member port" })
      .describe(
        "The switch ports bundled into this LAG; cable them as usual, configure the LAG under ports.NAME.",
      ),
    lacp: z
      .enum(["active", "passive", "off"], {
        error: (iss) => `expected active, passive or off, got ${showValue(iss.input)}`,
      })
      .optional()
      .describe(
        "LACP (IEEE 802.1AX): active sends LACPDUs, passive answers an active partner, off is a static LAG (default active).",
      ),
    rate: lacpRate.optional(),
    hash: z
      .enum(["l2", "l3", "l3l4"], { error: (iss) => `expected l2, l3 or l3l4, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "Transmit hash, as the Linux bonding driver's xmit_hash_policy: l2 = layer2, l3 = layer2+3, l3l4 = layer3+4 (default).",
      ),
    mlag: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "A multi-chassis LAG: the LAG of the same name on the other switch of the MLAG domain is its other half.",
      ),
  })
  .describe("A link aggregation group (port channel): several ports that act as one.");

/**
 * One next hop of `via`: an address; refused, it says that a list is taken too (zod reports a
 * union's one branch of the right type alone, so the union's own message would not be seen).
 */
const nextHop = text(IPV4_RE, (iss) =>
  typeof iss.input === "string" && CIDR_RE.test(iss.input)
    ? `${iss.input}: a next hop is an address without prefix length, e.g. ${iss.input.slice(0, iss.input.indexOf("/"))}`
    : `expected a next-hop address (e.g. 10.0.1.1) or a list of them, got ${showValue(iss.input)}${listHint(iss.input)}`,
);

const staticRoute = z
  .strictObject({
    to: cidr.describe("The destination prefix, e.g. 10.255.1.0/24 (0.0.0.0/0: the default route)."),
    via: z
      .union([nextHop, z.array(ipv4).min(1, { error: "via needs at least one next hop" })], {
        error: (iss) =>
          `expected a next-hop address or a list of them, got ${showValue(iss.input)}${listHint(iss.input)}`,
      })
      .describe(
        "The next hop, or several for ECMP (equal-cost multipath: a flow's 5-tuple picks one, as Linux's fib_multipath_hash_policy=1).",
      ),
  })
  .describe("A static route.");

const router = z
  .strictObject({
    interfaces: z
      .record(switchPortName, cidr)
      .describe(
        "The router's interfaces (ports) and their addresses: { eth0: 203.0.113.1/30, eth1: 10.0.0.1/24 }.",
      ),
    routes: z
      .array(staticRoute)
      .optional()
      .describe("Static routes (connected subnets are routed without one)."),
    loopback: cidr.optional().describe("A loopback address (/32)."),
    mac: macText
      .optional()
      .describe("The router's MAC (every interface's); assigned from the name when omitted."),
    nat: z
      .strictObject({
        outside: switchPortName.describe(
          "The interface facing the outside: packets routed out of it leave from its address.",
        ),
      })
      .optional()
      .describe(
        "Source NAT (masquerade, as iptables -t nat -j MASQUERADE): packets routed out of `outside` take its address and, where needed, another port; replies are translated back; unsolicited packets from outside reach no inside host.",
      ),
  })
  .describe("A standalone router: every interface is a routed port; it routes between them.");

const switchSpec = z
  .strictObject({
    ports: z
      .record(switchPortName, switchPort)
      .optional()
      .describe(
        "Per-port settings, keyed by port name. A port exists once a link names it; unconfigured ports are access ports in VLAN 1.",
      ),
    gateway: z
      .record(
        text(/^[0-9]+$/, (iss) => `expected a VLAN id as key, got ${showValue(iss.input)}`),
        z.union(
          [
            cidr,
            z.strictObject({
              ip: cidr.describe("The SVI's address and prefix length."),
              mtu: z
                .int({ error: (iss) => `expected an MTU in bytes (68..9216), got ${showValue(iss.input)}` })
                .min(68)
                .max(9216)
                .optional()
                .describe("The largest IPv4 packet routed out of this SVI (default 1500)."),
            }),
          ],
          {
            error: (iss) =>
              `expected an address like 192.168.10.1/24 or { ip, mtu }, got ${showValue(iss.input)}`,
          },
        ),
      )
      .optional()
      .describe(
        "The switch routes between its VLANs: one SVI per VLAN id (key), with the gateway address and prefix length (value), e.g. 10: 192.168.10.1/24.",
      ),
    mac: macText
      .optional()
      .describe("The switch's own MAC (used by its SVIs); assigned from the name when omitted."),
    macTableSize: macTableSize.optional(),
    macAgingSec: macAgingSec.optional(),
    loopback: cidr
      .optional()
      .describe("The switch's loopback address (a /32 it answers on any interface), e.g. 10.255.0.1/32."),
    vtep: z
      .strictObject({
        source: z
          .string({
            error: (iss) => `expected loopback or an address of the switch, got ${showValue(iss.input)}`,
          })
          .describe("The VTEP's underlay address: loopback (the switch's loopback) or one of its addresses."),
        vlanToVni: z
          .record(
            text(/^[0-9]+$/, (iss) => `expected a VLAN id as key, got ${showValue(iss.input)}`),
            z
              .int({ error: (iss) => `expected a VNI (1..16777215), got ${showValue(iss.input)}` })
              .min(1)
              .max(16_777_215),
          )
          .describe("Which local VLAN is which VXLAN segment: { 10: 5010 }."),
      })
      .optional()
      .describe(
        "A hardware VTEP (a ToR doing VXLAN): local VLANs bridged into VNIs, encapsulated from its own address.",
      ),
    routes: z
      .array(staticRoute)
      .optional()
      .describe("Static routes: { to: prefix, via: next hop or [next hops] } (several next hops: ECMP)."),
    lags: z
      .record(switchPortName, lag)
      .optional()
      .describe(
        "Link aggregation groups keyed by name (po1); each is configured as one port under ports.NAME.",
      ),
    stp: stp.optional(),
  })
  .describe("A physical switch.");

const sriov = z
  .strictObject({
    vfs: z
      .int({
        error: (iss) =>
          typeof iss.input === "number"
            ? `${iss.input} VFs is out of range: 0..512`
            : `expected a number of VFs, got ${showValue(iss.input)}`,
      })
      .min(0)
      .max(512)
      .describe("Virtual functions the NIC presents (each can be given to one VM NIC)."),
    maxVfs: z
      .int({
        error: (iss) =>
          typeof iss.input === "number"
            ? `${iss.input} is out of range for maxVfs: 1..512 (SR-IOV NICs present 128 to 512 VFs)`
            : `expected a number of VFs, got ${showValue(iss.input)}`,
      })
      .min(1)
      .max(512)
      .optional()
      .describe("The most VFs this NIC model supports (default 128; SR-IOV NICs offer 128 to 512)."),
  })
  .describe("SR-IOV (I/O pass-through): the NIC presents virtual functions that VMs use directly.");

const serverNic = z
  .union(
    [
      serverNicName.describe("A physical NIC by name; its MAC is assigned from the names."),
      z.strictObject({
        name: serverNicName.describe("The NIC's name, e.g. eth1."),
        mac: macText.optional().describe("The NIC's MAC; assigned from the names when omitted."),
        sriov: sriov.optional(),
      }),
    ],
    { error: (iss) => `expected a NIC name or { name, sriov }, got ${showValue(iss.input)}` },
  )
  .describe("A physical NIC: a name (eth0) or { name: eth1, sriov: { vfs: 8 } }.");

const teamingPolicy = z
  .enum(["originating-port", "source-mac", "ip-hash", "explicit-failover", "lacp"], {
    error: (iss) =>
      `expected originating-port, source-mac, ip-hash, explicit-failover or lacp, got ${showValue(iss.input)}`,
  })
  .describe(
    "vSphere load balancing: originating-port (default), source-mac, ip-hash (needs a port channel on the switch), explicit-failover (first active uplink), lacp (the uplinks form a LAG negotiated with the switch).",
  );

const teamingFields = {
  policy: teamingPolicy.optional(),
  active: z
    .array(serverNicName)
    .optional()
    .describe("Active uplinks in failover order (default: every uplink)."),
  standby: z
    .array(serverNicName)
    .optional()
    .describe("Standby uplinks, in order: each takes an active uplink's place when it fails."),
  failback: z
    .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
    .optional()
    .describe("A recovered active uplink takes its place back (default true)."),
  notifySwitches: z
    .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
    .optional()
    .describe("After a failover, send RARP frames so the switches learn where the VMs moved (default true)."),
};

const teaming = z
  .strictObject({
    ...teamingFields,
    lacp: z
      .strictObject({
        mode: z
          .enum(["active", "passive"], {
            error: (iss) => `expected active or passive, got ${showValue(iss.input)}`,
          })
          .optional()
          .describe("active sends LACPDUs (default); passive answers an active switch."),
        rate: lacpRate.optional(),
        hash: z
          .enum(["l2", "l3", "l3l4"], {
            error: (iss) => `expected l2, l3 or l3l4, got ${showValue(iss.input)}`,
          })
          .optional()
          .describe("The LAG's transmit hash (default l3l4)."),
      })
      .optional()
      .describe("With policy lacp: the host's LACP settings."),
  })
  .describe("NIC teaming (vSphere's teaming and failover policy) of the vswitch's uplinks.");

const portGroupTeaming = z
  .strictObject(teamingFields)
  .describe("The port group's own teaming, overriding the vswitch's (vSphere allows it per port group).");

/** A VXLAN network identifier (RFC 7348 §5: 24 bits; 0 is not used here). */
const vniId = z
  .int({
    error: (iss) =>
      typeof iss.input === "number"
        ? `${iss.input} is not a usable VNI: VXLAN network ids are 1..16777215 (24 bits)`
        : `expected a VNI (1..16777215), got ${showValue(iss.input)}`,
  })
  .min(1)
  .max(16_777_215);

// A port group's VLAN as vSphere's port group dialog takes it: "None (0)" is the untagged
// segment, 1..4094 a VLAN. 4095 (vSphere's "All", guest VLAN tagging) is not modelled.
const portGroupVlanId = z
  .int({
    error: (iss) =>
      typeof iss.input === "number"
        ? `${iss.input} is not a usable port group VLAN: 1..4094 for a VLAN the vswitch tags, or 0 (or no vlan at all) for an untagged port group${iss.input === 4095 ? " (4095, vSphere's guest VLAN tagging, is not supported)" : ""}`
        : `expected a VLAN id (1..4094, or 0 for untagged), got ${showValue(iss.input)}`,
  })
  .min(0)
  .max(4094);

const portGroup = z
  .strictObject({
    vlan: portGroupVlanId
      .optional()
      .describe(
        "The VLAN of the port group; the vswitch tags it on its uplinks (802.1Q). 0 or omitted (without vni): untagged, vSphere's VLAN ID 'None (0)': frames leave the uplinks untagged and untagged frames from them belong to it.",
      ),
    vni: vniId
      .optional()
      .describe(
        "A VXLAN-backed port group (an overlay segment, RFC 7348): its VMs' frames leave through the vswitch's VTEP, never tagged on the uplinks. Needs vtep on the vswitch.",
      ),
    security: security.optional(),
    teaming: portGroupTeaming.optional(),
  })
  .describe(
    "A port group: vswitch ports that share a VLAN (untagged without vlan, or a VXLAN VNI) and policies.",
  );

const vtep = z
  .strictObject({
    ip: cidr.describe("The VTEP's underlay address with prefix length, e.g. 10.100.0.11/24."),
    gateway: ipv4.optional().describe("The VTEP's default gateway on its subnet, e.g. 10.100.0.1."),
    vlan: vlanId.describe("The VLAN of the VTEP's vmkernel port on the uplinks (tagged, like a port group)."),
    mtu: z
      .int({ error: (iss) => `expected an MTU in bytes (68..9216), got ${showValue(iss.input)}` })
      .min(68)
      .max(9216)
      .optional()
      .describe(
        "The largest outer IPv4 packet the VTEP sends (default 1500). A VM's 1500-byte packet is 1550 in VXLAN: NSX asks 1600 of the underlay.",
      ),
  })
  .describe("The hypervisor's VXLAN tunnel endpoint (a vmkernel port), for port groups with a vni.");

const vswitch = z
  .strictObject({
    uplinks: z
      .array(serverNicName)
      .optional()
      .describe("Physical NICs of this server that carry the vswitch to the network; none = internal only."),
    portGroups: z
      .record(nodeName, portGroup)
      .optional()
      .describe("Port groups keyed by name; a VM NIC names one with portGroup."),
    vtep: vtep.optional(),
    security: security.optional().describe("Default security policy of the vswitch's port groups."),
    teaming: teaming.optional(),
    stormControl: stormControl
      .optional()
      .describe(
        "Storm control on each uplink: limits on what the network may make this vswitch flood to its VMs.",
      ),
    macTableSize: macTableSize.optional(),
    macAgingSec: macAgingSec.optional(),
  })
  .describe("A virtual switch (the role of Open vSwitch / a vSphere standard switch).");

const vmNic = z
  .strictObject({
    portGroup: z
      .string()
      .optional()
      .describe(
        "A port group of a vswitch on the same server: web, or vs0/web when several vswitches have it.",
      ),
    vf: serverNicName
      .optional()
      .describe("SR-IOV: a NIC of the same server with sriov; the VM gets the next free VF (pass-through)."),
    vlan: vlanId
      .optional()
      .describe("VF NICs only: the VLAN the VF tags its frames with (ip link ... vf N vlan)."),
    spoofCheck: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe("VF NICs only: drop frames whose source MAC is not the VF's (default true)."),
    ip: cidr.describe("The NIC's IPv4 address with prefix length, e.g. 192.168.10.11/24."),
    gateway: ipv4.optional().describe("Default gateway (an address in the NIC's subnet), e.g. 192.168.10.1."),
    mtu: z
      .int({ error: (iss) => `expected an MTU in bytes (68..9216), got ${showValue(iss.input)}` })
      .min(68)
      .max(9216)
      .optional()
      .describe("The NIC's MTU in the guest (default 1500), as ip link set eth0 mtu N."),
    mac: macText.optional().describe("The vNIC's MAC; assigned from the VM name when omitted."),
  })
  .describe("A VM NIC: on a port group ({ portGroup: web, ip }) or on an SR-IOV VF ({ vf: eth1, ip }).");

const vm = z
  .strictObject({
    nics: z
      .array(vmNic)
      .min(1, { error: "a VM needs at least one NIC" })
      .describe("The VM's NICs, eth0, eth1, ... in order."),
  })
  .describe("A virtual machine. Its name is unique in the whole file.");

const overlayVni = z
  .strictObject({
    replication: z
      .enum(["head-end"], { error: (iss) => `expected head-end, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "How broadcast, multicast and unknown unicast reach the other VTEPs: head-end (one unicast copy per remote VTEP, RFC 7348 §4.2). The default.",
      ),
    learning: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "Learn remote MACs from the outer source of decapsulated frames (flood and learn). Default true.",
      ),
    flood: z
      .array(ipv4)
      .optional()
      .describe(
        "The VTEPs that get flooded frames; default: every other VTEP with a port group of this VNI.",
      ),
    static: z
      .record(macText, ipv4)
      .optional()
      .describe('Static entries MAC -> remote VTEP address, e.g. { "02:00:00:00:10:01": 10.100.1.12 }.'),
    ageing: positiveInt("an ageing time in seconds", 1_000_000)
      .optional()
      .describe(
        "Seconds a learned MAC -> VTEP entry stays without a frame from that MAC (default 300, as Linux's vxlan ageing); then the MAC is flooded again. Static entries never age.",
      ),
  })
  .describe("One VNI's flooding, learning and ageing.");

const overlay = z
  .strictObject({
    vnis: z
      .record(
        z
          .string()
          .regex(/^[0-9]+$/, { error: (iss) => `expected a VNI (1..16777215), got ${showValue(iss.input)}` }),
        overlayVni,
      )
      .optional()
      .describe(
        "Per VNI: replication, learning, flood list, static MACs. A VNI not listed floods to every VTEP carrying it and learns.",
      ),
  })
  .describe("The VXLAN overlay (RFC 7348): how each VNI floods and learns.");

const server = z
  .strictObject({
    nics: z.array(serverNic).optional().describe("Physical NICs, e.g. [eth0, eth1]."),
    vswitches: z.record(nodeName, vswitch).optional().describe("Virtual switches keyed by name."),
    vms: z.record(nodeName, vm).optional().describe("Virtual machines keyed by name."),
  })
  .describe("A physical server (hypervisor host).");

const endpoint = text(
  /^[^:\s]+:[^:\s]+$/,
  (iss) => `expected node:port (e.g. server1:eth0 or tor1:eth1), got ${showValue(iss.input)}`,
).describe("node:port, where node is a switch or server and port a switch port or server NIC.");

const tunnel = z
  .strictObject({
    type: z
      .literal("gre", {
        error: (iss) => `expected gre (the tunnel types vnet builds), got ${showValue(iss.input)}`,
      })
      .describe("gre: Generic Routing Encapsulation (RFC 2784), IPv4 in IPv4."),
    endpoints: z
      .tuple([nodeName, nodeName], {
        error: (iss) => `expected the two routers or switches [a, b], got ${showValue(iss.input)}`,
      })
      .describe("The two devices the tunnel joins (routers, or switches with routed ports)."),
    ips: z
      .tuple([cidr, cidr], {
        error: (iss) => `expected the tunnel addresses [a/30, b/30], got ${showValue(iss.input)}`,
      })
      .describe("The tunnel interface's address on each end (one subnet), in the endpoints' order."),
    underlay: z
      .tuple([ipv4, ipv4], {
        error: (iss) => `expected the two underlay addresses [a, b], got ${showValue(iss.input)}`,
      })
      .optional()
      .describe(
        "The outer source and destination addresses, in the endpoints' order (default: each end's loopback, else its first routed interface).",
      ),
    mtu: z
      .int({ error: (iss) => `expected an MTU in bytes (68..9192), got ${showValue(iss.input)}` })
      .min(68)
      .max(9192)
      .optional()
      .describe("Largest inner packet (default 1476: 1500 less 24 bytes of outer IPv4 and GRE)."),
  })
  .describe("A point-to-point tunnel between two routers.");

const keyText = (what: string) =>
  text(
    /^[A-Za-z0-9+/]{43}=$/,
    (iss) =>
      `expected ${what} as 44 characters of base64 (wg genkey / wg pubkey), got ${showValue(iss.input)}`,
  );

const durationSec = z
  .union(
    [
      z.number().int().min(1).max(65535),
      text(/^[0-9]+ ?s$/, (iss) => `expected whole seconds like 25s, got ${showValue(iss.input)}`),
    ],
    {
      error: (iss) => `expected whole seconds like 25s (or a number of seconds), got ${showValue(iss.input)}`,
    },
  )
  .describe("Whole seconds: 25s or 25.");

const vpnPeer = z
  .strictObject({
    address: cidr.describe(
      "The gateway's address inside the tunnel (its WireGuard interface), e.g. 10.99.0.1/24; every peer of one VPN in one subnet.",
    ),
    listenPort: z
      .int({ error: (iss) => `expected a UDP port 1..65535, got ${showValue(iss.input)}` })
      .min(1)
      .max(65535)
      .optional()
      .describe("The UDP port the gateway listens on (default 51820)."),
    endpoint: text(
      /^[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]{1,5}$/,
      (iss) => `expected address:port like "198.51.100.1:51820", got ${showValue(iss.input)}`,
    )
      .optional()
      .describe(
        "Where the other peers reach this gateway: one of its own addresses and its listenPort. Without it (a site behind NAT) the others learn it from its first authenticated packet, as WireGuard roams.",
      ),
    networks: z
      .array(cidr)
      .optional()
      .describe(
        "The site networks behind this gateway, e.g. [10.1.0.0/16]: the others route them into the tunnel and accept them only from this peer (WireGuard's AllowedIPs, with the tunnel address).",
      ),
    keepalive: durationSec
      .optional()
      .describe(
        "This gateway sends a keepalive to its peers after this long without sending (PersistentKeepalive): keeps a NAT mapping open, e.g. 25s.",
      ),
    privateKey: keyText("a WireGuard private key")
      .optional()
      .describe("The gateway's private key; derived from the run's seed when omitted."),
    publicKey: keyText("a WireGuard public key")
      .optional()
      .describe("The public key the other peers expect (checked against privateKey when both are given)."),
    external: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "true: this gateway is a real WireGuard outside vnet (wireguard-go, the kernel, a cloud VPN), reached through an external port when the topology runs for real. vnet runs no gateway for it; its name need not be a router of the file; `vnet vpn export FILE NAME` prints its configuration.",
      ),
  })
  .describe("One VPN gateway (a router or routing switch) and what it brings to the VPN.");

const vpn = z
  .strictObject({
    name: nodeName.describe("The VPN's name, used in traces and `vnet show FILE vpn`."),
    type: z
      .literal("wireguard", {
        error: (iss) => `expected wireguard (the VPN type vnet builds), got ${showValue(iss.input)}`,
      })
      .describe("wireguard: the WireGuard protocol (Noise IK, ChaCha20-Poly1305 over UDP)."),
    peers: z
      .record(nodeName, vpnPeer)
      .describe("The gateways, keyed by router name; each gets a WireGuard interface (wg0, wg1, ...)."),
    hub: nodeName
      .optional()
      .describe(
        "Hub and spoke: the spokes peer only with this gateway, which forwards between them. Default: a full mesh (every gateway peers with every other).",
      ),
    mtu: z
      .int({ error: (iss) => `expected an MTU in bytes (576..9152), got ${showValue(iss.input)}` })
      .min(576)
      .max(9152)
      .optional()
      .describe(
        "The WireGuard interfaces' MTU (default 1420, as wg-quick: 1500 less 80 bytes of IPv6, UDP and WireGuard).",
      ),
  })
  .describe(
    "A VPN between sites: encrypted, authenticated tunnels between gateways over an untrusted network.",
  );

const mlagDomain = z
  .strictObject({
    domain: z
      .int({ error: (iss) => `expected an MLAG domain id (1..1000), got ${showValue(iss.input)}` })
      .min(1)
      .max(1000)
      .describe(
        "The domain id (vPC domain, MLAG domain-id); both switches present one LACP system derived from it.",
      ),
    switches: z
      .tuple([nodeName, nodeName], {
        error: (iss) => `expected the two switches of the pair [a, b], got ${showValue(iss.input)}`,
      })
      .describe("The two switches of the pair."),
    peerLink: switchPortName.describe(
      "A LAG of this name on both switches, cabled between them: the peer link.",
    ),
    keepalive: z
      .tuple([endpoint, endpoint], {
        error: (iss) => `expected the two keepalive ports [a:mgmt0, b:mgmt0], got ${showValue(iss.input)}`,
      })
      .optional()
      .describe(
        "A separate keepalive path: one port on each switch (management ports, not bridged), cabled to each other or through a management switch. Without it a peer-link failure cannot be told from a dead peer.",
      ),
    priority: z
      .record(
        nodeName,
        z
          .int({ error: (iss) => `expected a role priority 0..65535, got ${showValue(iss.input)}` })
          .min(0)
          .max(65535),
      )
      .optional()
      .describe("Role priority per switch: lower is primary (default 32768 each; then the lower MAC)."),
  })
  .describe("An MLAG (vPC) domain: two switches that present multi-chassis LAGs as one partner.");

const link = z
  .strictObject({
    endpoints: z
      .tuple([endpoint, endpoint], {
        error: (iss) => `expected two endpoints [node:port, node:port], got ${showValue(iss.input)}`,
      })
      .describe("The two ends of the cable, as containerlab writes them."),
    bandwidth: text(
      BANDWIDTH_RE,
      (iss) => `expected a bandwidth with a unit like 10Gbps, 1G, 100Mbps, got ${showValue(iss.input)}`,
    )
      .optional()
      .describe("Line rate, e.g. 10Gbps, 1G, 100Mbps (default 10Gbps)."),
    delay: text(
      DELAY_RE,
      (iss) => `expected a delay with a unit like 2us, 1ms, 500ns, got ${showValue(iss.input)}`,
    )
      .optional()
      .describe("One-way propagation delay, e.g. 2us, 1ms, 500ns (default 1us)."),
    mtu: z
      .int({
        error: (iss) =>
          typeof iss.input === "number"
            ? `MTU ${iss.input} is out of range: 68..9216 bytes`
            : `expected an MTU in bytes (68..9216), got ${showValue(iss.input)}`,
      })
      .min(68)
      .max(9216)
      .optional()
      .describe("Largest IP packet the link carries, in bytes (default 1500; 68..9216)."),
    loss: z
      .union([z.number().min(0).max(1), z.string().regex(PERCENT_RE)], {
        error: (iss) =>
          `expected a loss probability 0..1 or a percentage like "0.1%", got ${showValue(iss.input)}`,
      })
      .optional()
      .describe('Probability that a frame is lost: 0.001 or "0.1%" (default 0).'),
    up: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe("false: the cable starts unplugged (default true)."),
    queue: positiveInt("a queue length in frames", 1_000_000)
      .optional()
      .describe("Frames the sending end queues before it drops (default 1000)."),
  })
  .describe("A cable between two ports.");

const externalPort = z
  .strictObject({
    port: endpoint.describe(
      "The cable end that leaves vnet: a switch port or a server NIC (node:port) that no link of this file uses.",
    ),
    interface: text(
      /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/,
      (iss) =>
        `expected a Linux interface name (1-15 letters, digits, '_', '.', '-'), got ${showValue(iss.input)}`,
    )
      .optional()
      .describe(
        "In real mode (`vnet up`): the TAP device vnet creates for this port, for a real peer to plug in (an Open vSwitch bridge port, a namespace with the kernel's VXLAN or WireGuard). Default: x-NODE-PORT, cut to 15 characters.",
      ),
    netns: text(
      /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
      (iss) => `expected the name of a network namespace, got ${showValue(iss.input)}`,
    )
      .optional()
      .describe(
        "In real mode: move the TAP into this network namespace, which must exist (default: stay in vnet's).",
      ),
    mtu: z
      .int({ error: (iss) => `expected an MTU in bytes (68..9216), got ${showValue(iss.input)}` })
      .min(68)
      .max(9216)
      .optional()
      .describe("Largest IP packet the port carries (default 1500)."),
  })
  .describe(
    "A port joined to something outside vnet: in the simulator it has no cable; with `vnet up` it is a TAP device a real peer uses.",
  );

const faultTarget = (what: string) =>
  z
    .string({ error: (iss) => `expected ${what}, got ${showValue(iss.input)}` })
    .min(1, { error: `expected ${what}, got an empty text` });

const timeError: ErrorFn = (iss) =>
  `expected a time like 2s, 150ms, 10us (or a number of seconds), got ${showValue(iss.input)}`;

const fault = z
  .strictObject({
    at: z
      .union([z.number(), text(TIME_RE, timeError)], { error: timeError })
      .describe("When, from the start of the run: 2s, 150ms, 10us, 500ns, or a number of seconds."),
    down: faultTarget("a cable end node:port, e.g. esx1:eth0")
      .optional()
      .describe("Pulls the cable at this end (node:port, either end of a link): both ends lose carrier."),
    silent: z
      .boolean({ error: (iss) => `expected true or false, got ${showValue(iss.input)}` })
      .optional()
      .describe(
        "With down: the cable stops passing frames but both ends keep carrier (a failed transceiver, a cut fibre pair behind a media converter): only protocol timeouts (LACP, RSTP, MLAG hellos) notice. up restores it.",
      ),
    up: faultTarget("a cable end node:port, e.g. esx1:eth0")
      .optional()
      .describe(
        "Plugs the cable at this end back in (fine for a cable that is already up); also ends a tamper or replay on it.",
      ),
    tamper: faultTarget("a cable end node:port, e.g. internet:eth1")
      .optional()
      .describe(
        "An on-path attacker on this cable flips a bit of every UDP datagram's payload and fixes the UDP checksum: only end-to-end authentication (a VPN) notices. up ends it.",
      ),
    replay: faultTarget("a cable end node:port, e.g. internet:eth1")
      .optional()
      .describe(
        "An on-path attacker on this cable delivers a copy of every UDP datagram again 1 ms later (a replay). up ends it.",
      ),
    fail: faultTarget("a switch, server or VM name")
      .optional()
      .describe(
        "Fails a device: a switch loses all its cables, a server its NICs' cables, a VM its vNICs (down at the vswitch port or VF).",
      ),
    recover: faultTarget("a switch, server or VM name")
      .optional()
      .describe("Brings a failed device back: its cables (or vNICs) come up again."),
  })
  .describe(
    "One scheduled event of `vnet run`: at a time, exactly one of down, up, fail, recover, tamper, replay.",
  );

export const TopologyFileSchema = z
  .strictObject({
    name: z
      .string({ error: (iss) => `expected the topology's name, got ${showValue(iss.input)}` })
      .min(1, { error: "the topology's name must not be empty" })
      .superRefine(mustBePrintable("a name"))
      .describe("The topology's name."),
    description: z
      .string()
      .superRefine(mustBePrintable("a description", "\n\t"))
      .optional()
      .describe("What the topology shows."),
    switches: z.record(nodeName, switchSpec).optional().describe("Physical switches, keyed by name."),
    servers: z
      .record(nodeName, server)
      .optional()
      .describe("Physical servers (hypervisor hosts), keyed by name."),
    links: z.array(link).optional().describe("Cables between switch ports and server NICs."),
    routers: z.record(nodeName, router).optional().describe("Standalone routers, keyed by name."),
    tunnels: z.array(tunnel).optional().describe("Tunnels between routers (GRE)."),
    vpns: z
      .array(vpn)
      .optional()
      .describe("VPNs between sites (WireGuard): gateways, their tunnel addresses and site networks."),
    mlag: z
      .array(mlagDomain)
      .optional()
      .describe("MLAG (vPC) domains: pairs of switches whose LAGs with mlag: true are multi-chassis LAGs."),
    overlay: overlay.optional(),
    external: z
      .array(externalPort)
      .optional()
      .describe(
        "Ports joined to the world outside vnet (real peers: Open vSwitch, the kernel's VXLAN, wireguard-go) when the topology runs for real.",
      ),
    faults: z
      .array(fault)
      .optional()
      .describe(
        "Failures over time for `vnet run`: cables pulled and plugged, devices failed and recovered, each at a time from the start of the run.",
      ),
  })
  .describe(
    "A vnet topology (version 1): servers, switches, virtual switches, VMs and the links between them.",
  );

export type TopologyFile = z.infer<typeof TopologyFileSchema>;
export type SwitchFile = z.infer<typeof switchSpec>;
export type SwitchPortFile = z.infer<typeof switchPort>;
export type ServerFile = z.infer<typeof server>;
export type VswitchFile = z.infer<typeof vswitch>;
export type VmNicFile = z.infer<typeof vmNic>;
export type LinkFile = z.infer<typeof link>;
export type FaultFile = z.infer<typeof fault>;
export type SecurityFile = z.infer<typeof security>;
export type TeamingFile = z.infer<typeof teaming>;
export type PortGroupTeamingFile = z.infer<typeof portGroupTeaming>;
export type LagFile = z.infer<typeof lag>;
export type RouterFile = z.infer<typeof router>;
export type TunnelFile = z.infer<typeof tunnel>;
export type StaticRouteFile = z.infer<typeof staticRoute>;
export type MlagFile = z.infer<typeof mlagDomain>;

/** The topology file's JSON Schema (draft 2020-12), for editors. */
export function topologyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(TopologyFileSchema, { target: "draft-2020-12", io: "input" }) as Record<
    string,
    unknown
  >;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "vnet topology",
    ...schema,
  };
}
