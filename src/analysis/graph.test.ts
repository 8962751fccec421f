/**
 * The picture's model (`buildGraph`, `markTrace`) on the example topologies, and its three
 * renderings: DOT (checked by Graphviz when installed), Mermaid, SVG (well-formed XML);
 * escaping, and determinism (same topology, same bytes).
 */

import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadTopologyFile, loadTopologyText } from "../model/load.ts";
import { Network } from "../network.ts";
import {
  buildGraph,
  dotString,
  formatVlanList,
  markTrace,
  mermaidText,
  type TopologyGraph,
  toDot,
  toMermaid,
  toSvg,
  xmlEscape,
} from "./graph.ts";

const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));
const SEED = example("seed-datacenter.yaml");
const VPN = example("vpn-sites.yaml");

const graphOf = (file: string) => buildGraph(loadTopologyFile(file).topology);
const traced = (file: string, from: string, to: string) => {
  const net = Network.fromLoaded(loadTopologyFile(file));
  return markTrace(buildGraph(net.topology), net.trace(from, to));
};
const node = (g: TopologyGraph, id: string) => {
  const n = g.nodes.find((x) => x.id === id);
  if (n === undefined) throw new Error(`no node ${id}`);
  return n;
};
const edgeBetween = (g: TopologyGraph, a: string, b: string) =>
  g.edges.filter((e) => (e.from === a && e.to === b) || (e.from === b && e.to === a));

const hasGraphviz = (() => {
  try {
    execFileSync("dot", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
  what: string;
}

/** The rectangles of an SVG's edge labels, and those labels must not cover: boxes, server titles. */
function svgBoxes(svg: string): { labels: Rect[]; covered: Rect[] } {
  const num = (attrs: string, k: string) => Number(new RegExp(`\\b${k}="([-0-9.]+)"`).exec(attrs)?.[1]);
  const rect = (attrs: string, what: string): Rect => ({
    x: num(attrs, "x"),
    y: num(attrs, "y"),
    w: num(attrs, "width"),
    h: num(attrs, "height"),
    what,
  });
  const labels = [...svg.matchAll(/<g class="edge-label"><rect ([^>]*)\/>\n<text[^>]*>([^<]*)</g)].map((m) =>
    rect(m[1], `label "${m[2]}"`),
  );
  const covered = [
    ...[...svg.matchAll(/<g class="node [^"]*"><rect ([^>]*)\/>\n<text[^>]*>([^<]*)</g)].map((m) =>
      rect(m[1], `box ${m[2]}`),
    ),
    // A title's text: 11px monospace, its baseline at y.
    ...[...svg.matchAll(/<g class="server"><rect [^>]*\/><text ([^>]*)>([^<]*)<\/text>/g)].map((m) => ({
      x: num(m[1], "x"),
      y: num(m[1], "y") - 11,
      w: m[2].length * 6.6,
      h: 14,
      what: `title ${m[2]}`,
    })),
  ];
  return { labels, covered };
}

const overlaps = (a: Rect, b: Rect) =>
  Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) > 0.5 &&
  Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) > 0.5;

/** A small well-formedness check: every tag closes in order, attributes quoted, entities known. */
function checkXml(text: string): void {
  const stack: string[] = [];
  const body = text.replace(/^<\?xml[^>]*\?>/, "");
  const re =
    /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:#\d+|amp|lt|gt|quot|apos);)/g;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    if (m[2] === undefined)
      throw new Error(`stray ${m[0]} at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (m[1] === "/") {
      const open = stack.pop();
      if (open !== m[2]) throw new Error(`</${m[2]}> closes <${open}>`);
    } else if (m[4] !== "/") stack.push(m[2]);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join("> <")}>`);
}

describe("graph model", () => {
  it("seed data center: every server a cluster holding its NICs, vswitches, VFs and VMs", () => {
    const g = graphOf(SEED);
    expect(g.clusters.map((c) => c.label)).toEqual(["server1", "server2"]);
    for (const [id, cluster] of [
      ["vs:server1/vs0", "srv:server1"],
      ["vs:server2/vs0", "srv:server2"],
      ["nic:server1/eth0", "srv:server1"],
      ["nic:server1/eth1", "srv:server1"],
      ["vf:server1/eth1/vf0", "srv:server1"],
      ["vf:server1/eth1/vf1", "srv:server1"],
      ["vm:web1", "srv:server1"],
      ["vm:db1", "srv:server1"],
      ["vm:sriov2", "srv:server1"],
      ["vm:web3", "srv:server2"],
      ["vm:db2", "srv:server2"],
      ["sw:tor1", null],
    ] as const)
      expect(node(g, id).cluster, id).toBe(cluster);
    expect(node(g, "vs:server1/vs0").label).toEqual(["vs0", "web: VLAN 10", "db: VLAN 20"]);
    expect(node(g, "nic:server1/eth1").label).toEqual(["eth1", "SR-IOV 2/8 VFs"]);
    expect(node(g, "sw:tor1").label).toContain("SVI vlan20 192.168.20.1/24");
    expect(edgeBetween(g, "vm:db1", "vs:server1/vs0")[0].label).toEqual(["eth0: db (VLAN 20)"]);
    expect(edgeBetween(g, "vm:sriov1", "vf:server1/eth1/vf0")[0].label).toEqual(["eth0: VLAN 10"]);
    expect(edgeBetween(g, "vs:server1/vs0", "nic:server1/eth0")[0].kind).toBe("uplink");
  });

  it("every cable is an edge labelled with its ports and the switch port's VLANs", () => {
    const t = loadTopologyFile(SEED).topology;
    const g = buildGraph(t);
    const cables = g.edges.filter((e) => e.kind === "cable");
    expect(cables.length).toBe(t.links.length);
    expect(cables.map((e) => e.label)).toEqual([
      ["server1:eth0 -- tor1:eth1", "eth1: trunk 10,20"],
      ["server2:eth0 -- tor1:eth2", "eth2: trunk 10,20"],
      ["server1:eth1 -- tor1:eth3", "eth3: trunk 10"],
    ]);
    expect(cables[2].from).toBe("nic:server1/eth1");
    expect(cables[2].to).toBe("sw:tor1");
  });

  it("vpn sites: routers, access ports, and the VPN as a dashed edge between its gateways", () => {
    const g = graphOf(VPN);
    expect(node(g, "sw:hq-gw").kind).toBe("router");
    expect(node(g, "sw:branch-cpe").label).toContain("NAT out eth0");
    expect(edgeBetween(g, "sw:hq-gw", "sw:hq-sw")[0].label).toContain("hq-sw eth1: access 10");
    const vpn = g.edges.filter((e) => e.kind === "vpn");
    expect(vpn).toHaveLength(1);
    expect(vpn[0]).toMatchObject({ from: "sw:hq-gw", to: "sw:branch-gw", isDashed: true });
    expect(vpn[0].label[0]).toBe("VPN hq-branch (WireGuard)");
  });

  it("VLAN lists fold runs", () => {
    expect(formatVlanList([20, 10, 11, 12, 13, 30, 31])).toBe("10-13,20,30,31");
  });
});

describe("trace over the graph", () => {
  it("web1 -> db1: out to the gateway on tor1 and back; web2, server2 and the VFs off the path", () => {
    const g = traced(SEED, "web1", "db1");
    const onPath = g.nodes.filter((n) => n.mark === "path").map((n) => n.id);
    expect(onPath).toEqual(["sw:tor1", "nic:server1/eth0", "vs:server1/vs0", "vm:web1", "vm:db1"]);
    const pathEdges = g.edges.filter((e) => e.mark === "path").map((e) => `${e.from}--${e.to}`);
    expect(pathEdges).toEqual([
      "vs:server1/vs0--nic:server1/eth0",
      "vm:web1--vs:server1/vs0",
      "vm:db1--vs:server1/vs0",
      "nic:server1/eth0--sw:tor1",
    ]);
    expect(g.caption).toBe("trace web1 -> db1: delivered");
  });

  it("sriov1 -> sriov2: the NIC's VFs, no vswitch", () => {
    const g = traced(SEED, "sriov1", "sriov2");
    const onPath = g.nodes.filter((n) => n.mark !== null).map((n) => n.id);
    expect(onPath).toContain("vf:server1/eth1/vf0");
    expect(onPath).toContain("vf:server1/eth1/vf1");
    expect(onPath).not.toContain("vs:server1/vs0");
    expect(onPath).not.toContain("sw:tor1");
  });

  it("a drop is red: no route on tor1", () => {
    const g = traced(SEED, "web1", "10.9.9.9");
    expect(node(g, "sw:tor1").mark).toBe("drop");
    expect(node(g, "vm:web2").mark).toBe(null);
    expect(g.caption).toContain("not delivered");
    expect(toDot(g)).toContain('"sw:tor1" [label="tor1');
    expect(toSvg(g)).toContain('class="node switch drop"');
  });

  it("hq1 -> br1 over the VPN: the VPN edge, both sites' cables and the internet it was encrypted across", () => {
    const g = traced(VPN, "hq1", "br1");
    expect(g.edges.find((e) => e.kind === "vpn")?.mark).toBe("path");
    expect(edgeBetween(g, "sw:branch-gw", "sw:br-sw")[0].mark).toBe("path");
    // The echo crossed the internet as WireGuard transport data.
    expect(edgeBetween(g, "sw:hq-gw", "sw:internet")[0].mark).toBe("path");
    expect(g.nodes.find((n) => n.id === "sw:branch-cpe")?.mark).toBe("path");
  });
});

describe("renderings", () => {
  const g = traced(SEED, "web1", "db1");

  it("DOT: clusters for servers, undirected edges with labels", () => {
    const dot = toDot(g);
    expect(dot.startsWith('graph "seed-datacenter" {')).toBe(true);
    expect(dot).toContain('subgraph "cluster_0" {\n    label="server1";');
    expect(dot).toContain(
      '"nic:server1/eth0" -- "sw:tor1" [label="server1:eth0 -- tor1:eth1\\neth1: trunk 10,20"',
    );
  });

  const dotCheck = hasGraphviz
    ? "DOT is accepted by Graphviz (dot -Tsvg)"
    : "DOT not checked by dot -Tsvg: Graphviz is not installed";
  it.skipIf(!hasGraphviz)(dotCheck, () => {
    for (const f of [SEED, VPN]) {
      const svg = execFileSync("dot", ["-Tsvg"], { input: toDot(graphOf(f)) }).toString();
      expect(svg).toContain("<svg");
    }
  });

  it("SVG is well-formed, with a box per server and node", () => {
    for (const graph of [g, graphOf(VPN), traced(VPN, "hq1", "br1")]) {
      const svg = toSvg(graph);
      checkXml(svg);
      expect(svg.match(/<g class="server">/g)?.length).toBe(graph.clusters.length);
      expect(svg.match(/<g class="node /g)?.length).toBe(graph.nodes.length);
    }
  });

  it("Mermaid: a flowchart with a subgraph per server, every edge, styles for the path", () => {
    const mmd = toMermaid(g);
    const lines = mmd.trimEnd().split("\n");
    expect(lines.slice(0, 4)).toEqual([
      "---",
      'title: "trace web1 -> db1: delivered"',
      "---",
      "flowchart TB",
    ]);
    expect(lines.filter((l) => /^ {2}subgraph c\d+\["/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => l === "  end")).toHaveLength(2);
    expect(lines.filter((l) => /^ {2}n\d+ (---|-\.-|===)(\|"[^"]*"\|)? n\d+$/.test(l))).toHaveLength(
      g.edges.length,
    );
    expect(lines.filter((l) => l.startsWith("  linkStyle "))).toHaveLength(4);
    // Labels hold no raw quote, bracket or pipe that would end them early.
    for (const l of lines.slice(4))
      for (const m of l.matchAll(/"([^"]*)"/g)) expect(m[1].replaceAll("<br/>", "")).not.toMatch(/[|<>]/);
  });

  it("escaping: XML, DOT and Mermaid quoting", () => {
    expect(xmlEscape(`a<b & "c" 'd'>`)).toBe("a&#60;b &#38; &#34;c&#34; &#39;d&#39;&#62;");
    expect(dotString(['say "hi"\\', "two"])).toBe('"say \\"hi\\"\\\\\\ntwo"');
    expect(mermaidText(['a "b" <c> | #d'])).toBe('"a #34;b#34; #60;c#62; #124; #35;d"');
  });

  it("names with quotes and markup survive every format", () => {
    const text = `name: 'a"<b>&c'\nswitches:\n  sw1: {}\nservers:\n  h1:\n    nics: [eth0]\n    vms:\n      vm1: { nics: [{ vf: eth0, ip: 10.0.0.1/24 }] }\n`;
    const loaded = loadTopologyText(
      text.replace("nics: [eth0]", "nics: [{ name: eth0, sriov: { vfs: 2 } }]"),
      "t.yaml",
    );
    const graph = buildGraph(loaded.topology);
    checkXml(toSvg(graph));
    expect(toSvg(graph)).toContain("<title>a&#34;&#60;b&#62;&#38;c</title>");
    expect(toDot(graph)).toContain('graph "a\\"<b>&c" {');
  });

  it("SVG edge labels cover no box, no server's title and (but for one crowded file) no other label", () => {
    const fixture = (name: string) =>
      fileURLToPath(new URL(`../../test/scenarios/topologies/${name}`, import.meta.url));
    const examples = readdirSync(fileURLToPath(new URL("../../examples/", import.meta.url)))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => [f, graphOf(example(f))] as const);
    const cases = [
      // From an outside user's tour: two NICs' cable labels ran into each other, vNIC labels
      // wider than their VMs collided, a cable label hid a server's title.
      ["vlans-two-servers.yaml traced", traced(fixture("vlans-two-servers.yaml"), "web1", "db1")],
      ["leafspine-vxlan.yaml", graphOf(fixture("leafspine-vxlan.yaml"))],
      ...examples,
    ] as const;
    for (const [name, graph] of cases) {
      const { labels, covered } = svgBoxes(toSvg(graph));
      const hits: string[] = [];
      labels.forEach((a, i) => {
        for (const b of covered) if (overlaps(a, b)) hits.push(`${a.what} over ${b.what}`);
        // mlag.yaml: three cables between the MLAG peers and LAGs crossing under them in a
        // narrow picture; its labels may touch one another (never a box or a title).
        if (name !== "mlag.yaml")
          for (const b of labels.slice(i + 1)) if (overlaps(a, b)) hits.push(`${a.what} over ${b.what}`);
      });
      expect(hits, name).toEqual([]);
    }
  });

  it("is deterministic: two builds and renderings give the same bytes", () => {
    for (const f of [toDot, toMermaid, toSvg]) {
      expect(f(traced(SEED, "web1", "db1"))).toBe(f(g));
      expect(f(graphOf(VPN))).toBe(f(graphOf(VPN)));
    }
  });
});
