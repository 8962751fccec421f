/**
 * The web page of `vnet ui`: the engine itself runs here, in the browser. It fetches the topology
 * text from the page's server, builds it with `Network.fromText`, and draws it with cytoscape
 * (servers as boxes holding their NICs, vswitches and VMs; racks and servers fold on large
 * networks). A trace between two VMs plays hop by hop (play, pause, step both ways): a token
 * moves along each link, ARP, echo and flood copies in their own colours, and the side panel
 * shows each hop's decision and the frame's layers as vnet's dissector reads them, with its bytes.
 * Cables and devices can be pulled and restored, MAC and ARP tables read, and a topology file
 * dropped on the page (its errors shown at their line and column). Preact renders the panels.
 */

import cytoscape from "cytoscape";
import { type ComponentChildren, render } from "preact";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { buildGraph } from "../analysis/graph.ts";
import type { TraceResult } from "../analysis/trace.ts";
import type { Diagnostic } from "../model/diagnostics.ts";
import { TopologyError } from "../model/diagnostics.ts";
import { formatSummary, summarize } from "../model/summary.ts";
import { Network } from "../network.ts";
import { hexLines, type LayerView, layerViews } from "./frame-view.ts";
import { GraphIndex, type HopView, relativeTime, viewHops } from "./hops.ts";
import { cyStyle } from "./style.ts";
import {
  analyse,
  buildView,
  defaultExpanded,
  expansionFor,
  type Structure,
  type View,
  type ViewNode,
} from "./view.ts";

/** Traces longer than this start with only the echo's own hops (floods are thousands). */
const ALL_HOPS_UP_TO = 300;
const STEP_MS = 520;

interface Loaded {
  name: string;
  text: string;
  net: Network;
  structure: Structure;
  index: GraphIndex;
  vms: string[];
  summary: string;
  loadMs: number;
}

interface Problem {
  name: string;
  text: string;
  message: string;
  diagnostics: readonly Diagnostic[];
}

interface TraceState {
  result: TraceResult;
  hops: HopView[];
  ms: number;
  note: string | null;
}

type Selection = { kind: "node" | "edge"; id: string } | null;

interface Timings {
  scriptStartMs: number;
  firstPictureMs: number | null;
  loadMs: number | null;
  traceMs: number | null;
  frames: number;
}

const timings: Timings = {
  scriptStartMs: performance.now(),
  firstPictureMs: null,
  loadMs: null,
  traceMs: null,
  frames: 0,
};

/** What the browser tests and the benchmark read (nothing here is needed by the page itself). */
interface UiHandle {
  cy: cytoscape.Core | null;
  timings: Timings;
  state: () => { step: number; steps: number; hop: number | null; playing: boolean };
  load: (name: string, text: string) => void;
  select: (id: string) => void;
}
const handle: UiHandle = {
  cy: null,
  timings,
  state: () => ({ step: -1, steps: 0, hop: null, playing: false }),
  load: () => {},
  select: () => {},
};
(window as unknown as { vnetUi: UiHandle }).vnetUi = handle;

function loadText(name: string, text: string): Loaded | Problem {
  const t0 = performance.now();
  let net: Network;
  try {
    net = Network.fromText(text, name);
  } catch (e) {
    if (e instanceof TopologyError) return { name, text, message: e.message, diagnostics: e.errors };
    return { name, text, message: e instanceof Error ? e.message : String(e), diagnostics: [] };
  }
  const graph = buildGraph(net.topology);
  const structure = analyse(graph);
  return {
    name,
    text,
    net,
    structure,
    index: new GraphIndex(graph),
    vms: net.vmNames(),
    summary: formatSummary(summarize(net.topology)),
    loadMs: performance.now() - t0,
  };
}

function isLoaded(x: Loaded | Problem | null): x is Loaded {
  return x !== null && "net" in x;
}

// ------------------------------------------------------------------------------------------
// The topology pane

/**
 * Zooms and pans so that these nodes fill the pane. From the layout's own boxes: cytoscape's
 * `fit` measures every label first, which takes most of a second on a large view.
 */
function fitView(cy: cytoscape.Core, nodes: readonly ViewNode[], padding = 36): void {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const n of nodes) {
    if (n.w === 0) continue;
    x1 = Math.min(x1, n.x - n.w / 2);
    y1 = Math.min(y1, n.y - n.h / 2);
    x2 = Math.max(x2, n.x + n.w / 2);
    y2 = Math.max(y2, n.y + n.h / 2);
  }
  if (!Number.isFinite(x1)) return;
  // Room for the compounds' padding and labels around the leaves.
  x1 -= 20;
  x2 += 20;
  y1 -= 34;
  y2 += 20;
  const w = cy.width() - 2 * padding;
  const h = cy.height() - 2 * padding;
  const zoom = Math.max(cy.minZoom(), Math.min(1.6, w / (x2 - x1), h / (y2 - y1)));
  cy.viewport({
    zoom,
    pan: { x: cy.width() / 2 - ((x1 + x2) / 2) * zoom, y: cy.height() / 2 - ((y1 + y2) / 2) * zoom },
  });
}

interface Marks {
  current: Set<string>;
  trail: Map<string, string>;
  path: Set<string>;
  drops: Set<string>;
  ignored: Set<string>;
  down: Set<string>;
  token: { from: string; to: string; cls: string; isCopy: boolean } | null;
}

/** Where to look: every node (null) or the view nodes showing these graph nodes; `n` counts requests. */
interface FitRequest {
  graphIds: string[] | null;
  n: number;
}

function GraphPane(props: {
  view: View;
  fit: FitRequest;
  marks: Marks;
  stepMs: number;
  onSelect: (s: Selection) => void;
  onToggle: (id: string) => void;
}) {
  const div = useRef<HTMLDivElement>(null);
  const cyRef = useRef<cytoscape.Core | null>(null);
  const { view, marks } = props;
  const onSelect = useRef(props.onSelect);
  const onToggle = useRef(props.onToggle);
  onSelect.current = props.onSelect;
  onToggle.current = props.onToggle;

  useLayoutEffect(() => {
    const cy = cytoscape({
      container: div.current,
      style: cyStyle(),
      minZoom: 0.02,
      maxZoom: 4,
      boxSelectionEnabled: false,
      autoungrabify: true,
    });
    cy.on("tap", "node", (e) => {
      if (e.target.id() !== "token") onSelect.current({ kind: "node", id: e.target.id() });
    });
    cy.on("tap", "edge", (e) => onSelect.current({ kind: "edge", id: e.target.id() }));
    cy.on("tap", (e) => {
      if (e.target === cy) onSelect.current(null);
    });
    cy.on("dbltap", "node", (e) => onToggle.current(e.target.id()));
    cyRef.current = cy;
    handle.cy = cy;
    return () => cy.destroy();
  }, []);

  const fitted = useRef(-1);
  useLayoutEffect(() => {
    const cy = cyRef.current!;
    if (fitted.current === props.fit.n) return;
    fitted.current = props.fit.n;
    const ids = props.fit.graphIds === null ? null : new Set(props.fit.graphIds.map(view.shownAs));
    fitView(cy, ids === null ? view.nodes : view.nodes.filter((n) => ids.has(n.id)));
  }, [props.fit, view]);

  // Layout effects: the picture changes in the same commit as the panel beside it.
  useLayoutEffect(() => {
    const cy = cyRef.current!;
    // Many edges: their labels only on the one selected or carrying the current hop.
    const isCrowded = view.edges.length > 60;
    cy.batch(() => {
      cy.elements().remove();
      cy.add([
        ...view.nodes.map((n) => ({
          group: "nodes" as const,
          data: {
            id: n.id,
            label: n.label,
            kind: n.kind,
            w: n.w,
            h: n.h,
            traceNames: n.traceNames,
            ...(n.parent === null ? {} : { parent: n.parent }),
          },
          position: { x: n.x, y: n.y },
          classes: n.kind,
        })),
        ...view.edges.map((e) => ({
          group: "edges" as const,
          data: {
            id: e.id,
            source: e.source,
            target: e.target,
            label: e.label,
            kind: e.kind,
            traceNames: e.traceNames,
          },
          classes: [e.kind, e.isDashed ? "dashed" : "", e.isLag ? "lag" : "", isCrowded ? "quiet" : ""].join(
            " ",
          ),
        })),
      ]);
    });
    if (timings.firstPictureMs === null)
      cy.one("render", () => {
        timings.firstPictureMs ??= performance.now();
      });
  }, [view]);

  useLayoutEffect(() => {
    const cy = cyRef.current!;
    cy.batch(() => {
      cy.elements().removeClass(
        "current trail-arp-request trail-arp-reply trail-echo-request trail-echo-reply trail-other trail-copy path dropped ignored down",
      );
      for (const id of marks.path) cy.getElementById(id).addClass("path");
      for (const [id, cls] of marks.trail) cy.getElementById(id).addClass(cls);
      for (const id of marks.down) cy.getElementById(id).addClass("down");
      for (const id of marks.ignored) cy.getElementById(id).addClass("ignored");
      for (const id of marks.drops) cy.getElementById(id).addClass("dropped");
      for (const id of marks.current) cy.getElementById(id).addClass("current");
    });
    let token = cy.getElementById("token");
    const t = marks.token;
    if (t === null) {
      token.remove();
      return;
    }
    const from = cy.getElementById(t.from);
    const to = cy.getElementById(t.to);
    if (from.empty() || to.empty()) {
      token.remove();
      return;
    }
    if (token.empty()) token = cy.add({ group: "nodes", data: { id: "token" }, classes: "token" });
    token.stop(true, false);
    token.classes(`token tok-${t.cls}${t.isCopy ? " copy" : ""}`);
    token.position({ ...from.position() });
    token.animate(
      { position: { ...to.position() } },
      { duration: props.stepMs * 0.8, easing: "ease-in-out-sine" },
    );
  }, [marks, view]);

  return <div id="cy" ref={div} />;
}

// ------------------------------------------------------------------------------------------
// Side panel pieces

function Verdict({ trace }: { trace: TraceResult }) {
  return (
    <div class={`verdict ${trace.delivered ? "ok" : "bad"}`} data-testid="verdict">
      <b>
        {trace.from} → {trace.to} ({trace.toIp}):{" "}
        {trace.delivered
          ? `delivered, round trip ${((trace.rttNs ?? 0) / 1000).toFixed(3)} µs`
          : "not delivered"}
      </b>
      <span data-testid="verdict-text">{trace.verdict}</span>
      {trace.failure?.device ? (
        <div class="note">
          refused at {trace.failure.device}
          {trace.failure.code ? ` (counter ${trace.failure.code})` : ""}
        </div>
      ) : null}
    </div>
  );
}

function FrameView({ bytes, caption }: { bytes: Uint8Array; caption: string }) {
  const layers = useMemo(() => layerViews(bytes), [bytes]);
  const [on, setOn] = useState<number | null>(null);
  const range: LayerView | null = on === null ? null : (layers[on] ?? null);
  const lines = hexLines(bytes);
  return (
    <div data-testid="frame">
      <div class="note">
        {caption}, {bytes.length} bytes
      </div>
      {layers.map((l, i) => (
        <details
          class={`layer${on === i ? " on" : ""}`}
          key={`${i}-${l.name}`}
          onMouseEnter={() => setOn(i)}
          onMouseLeave={() => setOn(null)}
          data-testid="layer"
        >
          <summary>
            <span class="name">{l.name}</span> <span class="muted">{l.title}</span>
          </summary>
          <div class="kv">
            {l.fields.flatMap(([k, v]) => [<span key={`k${k}`}>{k}</span>, <span key={`v${k}`}>{v}</span>])}
          </div>
        </details>
      ))}
      <div class="hex" data-testid="hex">
        {lines.map((line, li) => (
          <div key={line.offset}>
            <span class="off">{line.offset}</span>
            {line.cells.map((c, ci) => {
              const at = li * 16 + ci;
              const isOn = range !== null && at >= range.start && at < range.end;
              const sep = ci === 8 ? "  " : ci > 0 ? " " : "";
              return (
                <span key={ci}>
                  {sep}
                  {isOn ? <b>{c}</b> : c}
                </span>
              );
            })}
          </div>
        ))}
      </div>
    </div>
  );
}

function HopPanel({ trace, hop }: { trace: TraceState; hop: HopView }) {
  const h = trace.result.hops[hop.index];
  const bytesHop = hop.bytesHop === null ? null : trace.result.hops[hop.bytesHop];
  const caption =
    hop.bytesWhen === "here"
      ? "as this link carried it"
      : hop.bytesWhen === "arrived"
        ? `as it arrived (on ${bytesHop?.device})`
        : `as it was sent (on ${bytesHop?.device})`;
  const isDrop = h.action === "drop";
  return (
    <div class="hop" data-testid="hop">
      <div>
        <span class="dev" data-testid="hop-device">
          {h.device}
        </span>
        <span class="badge">{h.kind}</span>
        <span class={`badge${isDrop ? " drop" : ""}`} data-testid="hop-action">
          {h.action}
        </span>
        {hop.isFloodCopy ? <span class="badge copy">flood copy</span> : null}
      </div>
      <div class={`cls-${hop.cls}`} data-testid="hop-frame">
        {h.frame}
      </div>
      <div class="kv">
        <span>time</span>
        <span>{relativeTime(h.timeNs - trace.result.startNs)}</span>
        {h.in !== null ? [<span key="a">in</span>, <span key="b">{h.in}</span>] : null}
        {h.out !== null ? [<span key="c">out</span>, <span key="d">{h.out}</span>] : null}
        {h.vlan !== null ? [<span key="e">VLAN</span>, <span key="f">{h.vlan}</span>] : null}
        {h.frameBytes !== undefined
          ? [<span key="g">on the wire</span>, <span key="h">{h.frameBytes} bytes</span>]
          : null}
      </div>
      <div class={`reason${isDrop ? " drop" : ""}`} data-testid="hop-reason">
        {h.reason}
      </div>
      {bytesHop?.bytes !== undefined ? (
        <FrameView bytes={bytesHop.bytes} caption={`The frame ${caption}`} />
      ) : null}
    </div>
  );
}

function HopList(props: { trace: TraceState; steps: number[]; pos: number; onPick: (pos: number) => void }) {
  const { trace, steps, pos } = props;
  const ref = useRef<HTMLDivElement>(null);
  const lo = Math.max(0, pos - 100);
  const hi = Math.min(steps.length, lo + 200);
  useEffect(() => {
    // Scroll the list only (scrollIntoView would scroll the panel too).
    if (pos === 0 && ref.current !== null) ref.current.scrollTop = 0;
    const list = ref.current;
    const on = list?.querySelector<HTMLElement>(".on");
    if (list == null || on == null) return;
    if (on.offsetTop < list.scrollTop) list.scrollTop = on.offsetTop;
    else if (on.offsetTop + on.offsetHeight > list.scrollTop + list.clientHeight)
      list.scrollTop = on.offsetTop + on.offsetHeight - list.clientHeight;
  }, [pos, steps]);
  return (
    <div class="hops" ref={ref} data-testid="hop-list">
      {lo > 0 ? <div class="skip">… {lo} earlier</div> : null}
      {steps.slice(lo, hi).map((hi2, k) => {
        const h = trace.result.hops[hi2];
        const v = trace.hops[hi2];
        return (
          <button
            type="button"
            key={hi2}
            class={`hoprow ${lo + k === pos ? "on" : ""} ${h.action === "drop" ? "dropped" : ""}`}
            onClick={() => props.onPick(lo + k)}
            title={h.reason}
          >
            <span class={`cls-${v.cls}`}>●</span> {hi2 + 1}. {h.device} <span class="muted">{h.action}</span>
          </button>
        );
      })}
      {hi < steps.length ? <div class="skip">… {steps.length - hi} later</div> : null}
    </div>
  );
}

function Table({ rows }: { rows: Record<string, string | number | null>[] }) {
  if (rows.length === 0) return <div class="note">empty</div>;
  const cols = Object.keys(rows[0]);
  return (
    <div style={{ overflowX: "auto" }}>
      <table data-testid="table">
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 500).map((r, i) => (
            <tr key={i}>
              {cols.map((c) => (
                <td key={c}>{r[c] ?? ""}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > 500 ? <div class="note">first 500 of {rows.length} rows</div> : null}
    </div>
  );
}

function ProblemView({ problem }: { problem: Problem }) {
  const lines = problem.text.split(/\r?\n/);
  return (
    <div class="problem" data-testid="problem">
      <h2>{problem.name} cannot be loaded</h2>
      {problem.diagnostics.length === 0 ? <code>{problem.message}</code> : null}
      {problem.diagnostics.map((d, i) => (
        <div class="diag" key={i} data-testid="diagnostic">
          <code>
            {d.file}:{d.line}:{d.col}: {d.message}
          </code>
          {d.line > 0 && d.line <= lines.length ? (
            <div class="src">
              {d.line > 1 ? `${String(d.line - 1).padStart(4)} | ${lines[d.line - 2]}\n` : ""}
              {`${String(d.line).padStart(4)} | ${lines[d.line - 1]}\n`}
              <span class="caret">{`     | ${" ".repeat(Math.max(0, d.col - 1))}^`}</span>
            </div>
          ) : null}
        </div>
      ))}
      <p class="muted">Fix the file and drop it here again, or reload the page.</p>
    </div>
  );
}

// ------------------------------------------------------------------------------------------
// The page

function App() {
  const [doc, setDoc] = useState<Loaded | Problem | null>(null);
  const [fetchError, setFetchError] = useState<string | null>(null);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [pulled, setPulled] = useState<Set<string>>(new Set());
  const [failed, setFailed] = useState<Set<string>>(new Set());
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [traceError, setTraceError] = useState<string | null>(null);
  const [trace, setTrace] = useState<TraceState | null>(null);
  const [isEchoOnly, setEchoOnly] = useState(false);
  const [pos, setPos] = useState(0);
  const [isPlaying, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const [tab, setTab] = useState<"trace" | "inspect">("trace");
  const [selection, setSelection] = useState<Selection>(null);
  const [table, setTable] = useState<{
    title: string;
    rows: Record<string, string | number | null>[];
  } | null>(null);
  const [isDragging, setDragging] = useState(false);
  const [fit, setFit] = useState<FitRequest>({ graphIds: null, n: 0 });
  const fileInput = useRef<HTMLInputElement>(null);

  const open = useCallback((name: string, text: string) => {
    const d = loadText(name, text);
    timings.loadMs = isLoaded(d) ? d.loadMs : null;
    setDoc(d);
    setTrace(null);
    setTable(null);
    setSelection(null);
    setPulled(new Set());
    setFailed(new Set());
    setPlaying(false);
    setFit((f) => ({ graphIds: null, n: f.n + 1 }));
    if (isLoaded(d)) {
      setExpanded(defaultExpanded(d.structure));
      setFrom(d.vms[0] ?? "");
      setTo(d.vms[1] ?? d.vms[0] ?? "");
    }
  }, []);
  handle.load = open;

  useEffect(() => {
    fetch("/topology.json")
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${r.status} ${r.statusText}`))))
      .then((j: { name: string; text: string }) => open(j.name, j.text))
      .catch((e: unknown) => setFetchError(`the topology could not be fetched: ${String(e)}`));
  }, [open]);

  const loaded = isLoaded(doc) ? doc : null;
  const view = useMemo(
    () => (loaded === null ? null : buildView(loaded.structure, expanded)),
    [loaded, expanded],
  );

  const steps = useMemo(() => {
    if (trace === null) return [];
    return trace.hops.filter((h) => !isEchoOnly || h.isOnPath).map((h) => h.index);
  }, [trace, isEchoOnly]);
  const hopNow =
    trace !== null && steps.length > 0 ? trace.hops[steps[Math.min(pos, steps.length - 1)]] : null;
  const stepMs = STEP_MS / speed;
  handle.state = () => ({ step: pos, steps: steps.length, hop: hopNow?.index ?? null, playing: isPlaying });

  // Playing: one step per tick, stopping at the end.
  useEffect(() => {
    if (!isPlaying) return;
    if (pos >= steps.length - 1) {
      setPlaying(false);
      return;
    }
    const t = setTimeout(() => setPos((p) => p + 1), stepMs);
    return () => clearTimeout(t);
  }, [isPlaying, pos, steps.length, stepMs]);
  useEffect(() => {
    if (!isPlaying) return;
    let id = 0;
    const tick = () => {
      timings.frames++;
      id = requestAnimationFrame(tick);
    };
    id = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(id);
  }, [isPlaying]);

  const cableState = useCallback((net: Network, nextPulled: Set<string>, nextFailed: Set<string>) => {
    for (const l of net.links()) {
      const isDown = nextPulled.has(l.name) || l.ends.some((e) => nextFailed.has(e.slice(0, e.indexOf(":"))));
      if (isDown === l.isUp) net.setLinkUp(l.name, !isDown);
    }
  }, []);

  const runTrace = useCallback(
    (a: string, b: string, note: string | null = null) => {
      if (loaded === null) return;
      setTraceError(null);
      const t0 = performance.now();
      let result: TraceResult;
      try {
        result = loaded.net.trace(a.trim(), b.trim(), { withBytes: true });
      } catch (e) {
        setTraceError(e instanceof Error ? e.message : String(e));
        return;
      }
      const ms = performance.now() - t0;
      timings.traceMs = ms;
      const hops = viewHops(loaded.index, result);
      setTrace({ result, hops, ms, note });
      setEchoOnly(result.hops.length > ALL_HOPS_UP_TO);
      setPos(0);
      setTab("trace");
      // Open the racks and servers the echo crosses, so the path is drawn between real devices.
      const onPath = hops.filter((h) => h.isOnPath);
      const ids = onPath
        .flatMap((h) => [...h.nodes, h.fromNode, h.toNode])
        .filter((x): x is string => x !== null);
      const need = expansionFor(loaded.structure, ids);
      if (need.some((id) => !expanded.has(id))) setExpanded(new Set([...expanded, ...need]));
      // On a large network, look at the path (the whole picture would show it as a thread).
      if (loaded.structure.graph.nodes.length > 300) setFit((f) => ({ graphIds: ids, n: f.n + 1 }));
    },
    [loaded, expanded],
  );

  const marks = useMemo((): Marks => {
    const m: Marks = {
      current: new Set(),
      trail: new Map(),
      path: new Set(),
      drops: new Set(),
      ignored: new Set(),
      down: new Set(),
      token: null,
    };
    if (loaded === null || view === null) return m;
    const node = (id: string) => view.shownAs(id);
    const edge = (id: string) => view.edgeShownAs(id);
    // Cables down, by the graph's trace names of cables.
    const downNames = new Set(
      loaded.net
        .links()
        .filter((l) => !l.isUp)
        .map((l) => {
          const [a, b] = l.ends;
          return a < b ? `${a}<->${b}` : `${b}<->${a}`;
        }),
    );
    if (downNames.size > 0)
      for (const e of loaded.structure.graph.edges)
        if (e.kind === "cable" && e.traceNames.some((t) => downNames.has(t))) {
          const v = edge(e.id);
          if (v !== null) m.down.add(v);
        }
    for (const f of failed) for (const id of loaded.index.device(f)) m.down.add(node(id));
    for (const f of failed) if (loaded.structure.members.has(`srv:${f}`)) m.down.add(node(`srv:${f}`));
    if (trace === null || hopNow === null) return m;
    for (const h of trace.hops) {
      if (!h.isOnPath) continue;
      for (const id of h.nodes) m.path.add(node(id));
      for (const id of h.edges) {
        const v = edge(id);
        if (v !== null) m.path.add(v);
      }
    }
    const hasEcho = trace.hops.some((h) => h.cls === "echo-request");
    const upTo = steps.slice(0, Math.min(pos, steps.length - 1) + 1);
    for (const i of upTo) {
      const h = trace.hops[i];
      const cls = h.isFloodCopy ? "trail-copy" : `trail-${h.cls}`;
      for (const id of h.nodes) m.trail.set(node(id), `trail-${h.cls}`);
      for (const id of h.edges) {
        const v = edge(id);
        if (v !== null) m.trail.set(v, cls);
      }
      // A copy some VM or port ignored is not the exchange's fate: only the echo's drops are red.
      if (trace.result.hops[i].action === "drop")
        for (const id of h.nodes) (h.isOnPath || !hasEcho ? m.drops : m.ignored).add(node(id));
    }
    if (!trace.result.delivered && trace.result.failure?.device && pos >= steps.length - 1)
      for (const id of loaded.index.device(trace.result.failure.device)) m.drops.add(node(id));
    for (const id of hopNow.nodes) m.current.add(node(id));
    for (const id of hopNow.edges) {
      const v = edge(id);
      if (v !== null) m.current.add(v);
    }
    if (hopNow.isLink && hopNow.fromNode !== null && hopNow.toNode !== null) {
      const a = node(hopNow.fromNode);
      const b = node(hopNow.toNode);
      if (a !== b) m.token = { from: a, to: b, cls: hopNow.cls, isCopy: hopNow.isFloodCopy };
    }
    return m;
  }, [loaded, view, trace, hopNow, steps, pos, failed, pulled]);

  const toggleExpand = useCallback(
    (id: string) => {
      if (loaded === null) return;
      const s = loaded.structure;
      const isGroup = s.members.has(id) || s.rackById.has(id);
      if (!isGroup) return;
      const next = new Set(expanded);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      setExpanded(next);
    },
    [loaded, expanded],
  );

  const select = useCallback((s: Selection) => {
    setSelection(s);
    setTable(null);
    if (s !== null) setTab("inspect");
  }, []);
  handle.select = (id) => select({ kind: "node", id });

  /** Applies the pulled cables and failed devices, then re-traces the shown trace saying why. */
  const applyFailures = (nextPulled: Set<string>, nextFailed: Set<string>, why: string) => {
    if (loaded === null) return;
    setPulled(nextPulled);
    setFailed(nextFailed);
    cableState(loaded.net, nextPulled, nextFailed);
    if (trace !== null) runTrace(trace.result.from, trace.result.to, `re-traced after ${why}`);
  };
  const toggled = (set: Set<string>, name: string, isIn: boolean) => {
    const next = new Set(set);
    if (isIn) next.add(name);
    else next.delete(name);
    return next;
  };
  const setCable = (name: string, isPulled: boolean) =>
    applyFailures(
      toggled(pulled, name, isPulled),
      failed,
      `${isPulled ? "pulling" : "plugging back"} ${name}`,
    );
  const setDevice = (name: string, isFailed: boolean) =>
    applyFailures(pulled, toggled(failed, name, isFailed), `${isFailed ? "failing" : "restoring"} ${name}`);

  // Keyboard: space plays or pauses, arrows step.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (trace === null || (e.target as HTMLElement).tagName === "INPUT") return;
      if (e.key === "ArrowRight") setPos((p) => Math.min(steps.length - 1, p + 1));
      else if (e.key === "ArrowLeft") setPos((p) => Math.max(0, p - 1));
      else if (e.key === " ") setPlaying((p) => !p);
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [trace, steps.length]);

  // A topology file dropped anywhere on the page.
  useEffect(() => {
    const over = (e: DragEvent) => {
      e.preventDefault();
      setDragging(true);
    };
    const leave = (e: DragEvent) => {
      if (e.relatedTarget === null) setDragging(false);
    };
    const drop = (e: DragEvent) => {
      e.preventDefault();
      setDragging(false);
      const f = e.dataTransfer?.files[0];
      if (f !== undefined) f.text().then((t) => open(f.name, t));
    };
    window.addEventListener("dragover", over);
    window.addEventListener("dragleave", leave);
    window.addEventListener("drop", drop);
    return () => {
      window.removeEventListener("dragover", over);
      window.removeEventListener("dragleave", leave);
      window.removeEventListener("drop", drop);
    };
  }, [open]);

  const header = (
    <header>
      <h1>{doc?.name ?? "vnet"}</h1>
      <span class="summary" title={loaded?.summary}>
        {loaded !== null
          ? `${loaded.summary} · built in the browser in ${loaded.loadMs.toFixed(0)} ms`
          : doc !== null
            ? "errors in the file"
            : "loading…"}
      </span>
      <button type="button" onClick={() => fileInput.current?.click()} title="or drop a file on the page">
        Open file…
      </button>
      <input
        type="file"
        ref={fileInput}
        accept=".yaml,.yml,text/yaml"
        style={{ display: "none" }}
        onChange={(e) => {
          const f = (e.currentTarget as HTMLInputElement).files?.[0];
          if (f !== undefined) f.text().then((t) => open(f.name, t));
        }}
      />
      <button
        type="button"
        disabled={doc === null}
        onClick={() => doc !== null && open(doc.name, doc.text)}
        title="build the network again from its file: tables empty, every cable up"
      >
        Reset
      </button>
      <button
        type="button"
        disabled={view === null}
        onClick={() => setFit((f) => ({ graphIds: null, n: f.n + 1 }))}
      >
        Fit
      </button>
    </header>
  );

  let pane: ComponentChildren;
  if (fetchError !== null) pane = <div class="problem">{fetchError}</div>;
  else if (doc !== null && !isLoaded(doc)) pane = <ProblemView problem={doc} />;
  else if (view !== null)
    pane = (
      <>
        <GraphPane
          view={view}
          fit={fit}
          marks={marks}
          stepMs={stepMs}
          onSelect={select}
          onToggle={toggleExpand}
        />
        <div class="legend">
          <span>
            <i style={{ background: "var(--arp)" }} />
            ARP
          </span>
          <span>
            <i style={{ background: "var(--echo)" }} />
            echo request
          </span>
          <span>
            <i style={{ background: "var(--reply)" }} />
            echo reply
          </span>
          <span>
            <i class="ring" />
            flood copy
          </span>
          <span>
            <i class="ignored" />
            copy ignored
          </span>
          <span>
            <i style={{ background: "var(--drop)" }} />
            drop / down
          </span>
        </div>
        <div class="hint">double-click a server or rack to open or fold it · scroll to zoom, drag to pan</div>
      </>
    );

  const player =
    trace === null ? null : (
      <div class="player" data-testid="player">
        <button type="button" title="first hop" onClick={() => setPos(0)} disabled={pos === 0}>
          |◀
        </button>
        <button
          type="button"
          title="step back (←)"
          data-testid="step-back"
          onClick={() => setPos((p) => Math.max(0, p - 1))}
          disabled={pos === 0}
        >
          ◀
        </button>
        <button
          type="button"
          class="primary"
          data-testid="play"
          title="play or pause (space)"
          onClick={() => {
            if (!isPlaying && pos >= steps.length - 1) setPos(0);
            setPlaying(!isPlaying);
          }}
        >
          {isPlaying ? "❚❚ Pause" : "▶ Play"}
        </button>
        <button
          type="button"
          title="step forward (→)"
          data-testid="step-forward"
          onClick={() => setPos((p) => Math.min(steps.length - 1, p + 1))}
          disabled={pos >= steps.length - 1}
        >
          ▶
        </button>
        <button
          type="button"
          title="last hop"
          onClick={() => setPos(steps.length - 1)}
          disabled={pos >= steps.length - 1}
        >
          ▶|
        </button>
        <select
          value={speed}
          data-testid="speed"
          title="speed"
          onChange={(e) => setSpeed(Number((e.currentTarget as HTMLSelectElement).value))}
        >
          <option value={0.5}>0.5×</option>
          <option value={1}>1×</option>
          <option value={2}>2×</option>
          <option value={4}>4×</option>
        </select>
        <span class="pos" data-testid="position">
          hop {steps.length === 0 ? 0 : (steps[pos] ?? 0) + 1} of {trace.result.hops.length}
        </span>
        {steps.length < trace.result.hops.length ? (
          <span class="muted">
            (step {pos + 1} of {steps.length})
          </span>
        ) : null}
      </div>
    );

  const traceTab = (
    <>
      {loaded === null && doc !== null ? (
        <p class="note">Open a topology that loads to trace in it.</p>
      ) : null}
      <section style={{ display: loaded === null ? "none" : undefined }}>
        <h2>Trace one ping</h2>
        <datalist id="vm-names">
          {(loaded?.vms ?? []).slice(0, 2000).map((v) => (
            <option key={v} value={v} />
          ))}
        </datalist>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            runTrace(from, to);
          }}
        >
          <input
            type="text"
            list="vm-names"
            value={from}
            placeholder="from VM"
            aria-label="from VM"
            data-testid="from"
            onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)}
          />
          <span class="muted">→</span>
          <input
            type="text"
            list="vm-names"
            value={to}
            placeholder="to VM or address"
            aria-label="to VM or address"
            data-testid="to"
            onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)}
          />
          <button type="submit" class="primary" disabled={loaded === null} data-testid="trace">
            Trace
          </button>
        </form>
        {traceError !== null ? (
          <div class="error-line" data-testid="trace-error">
            {traceError}
          </div>
        ) : null}
      </section>
      {trace !== null ? (
        <section>
          <Verdict trace={trace.result} />
          <div class="note" data-testid="trace-note">
            {trace.note !== null ? `${trace.note}; ` : ""}
            {trace.result.hops.length} hops, traced in {trace.ms.toFixed(0)} ms
          </div>
          {player}
          <label class="note row">
            <input
              type="checkbox"
              checked={isEchoOnly}
              data-testid="echo-only"
              onChange={(e) => {
                setEchoOnly((e.currentTarget as HTMLInputElement).checked);
                setPos(0);
              }}
            />
            only the echo's own hops (leave out ARP and flood copies)
          </label>
          {hopNow !== null ? <HopPanel trace={trace} hop={hopNow} /> : null}
          <h2>Hops</h2>
          <HopList trace={trace} steps={steps} pos={pos} onPick={setPos} />
        </section>
      ) : (
        <p class="note">
          Pick two VMs (or a VM and an address) and trace: the ping's frames play hop by hop, ARP and flooding
          included. <kbd>space</kbd> plays, <kbd>←</kbd> <kbd>→</kbd> step.
        </p>
      )}
    </>
  );

  const inspectTab =
    loaded === null ? null : (
      <Inspect
        loaded={loaded}
        view={view}
        selection={selection}
        pulled={pulled}
        failed={failed}
        table={table}
        setTable={setTable}
        setCable={setCable}
        setDevice={setDevice}
        traceFrom={(vm) => {
          setFrom(vm);
          setTab("trace");
        }}
        traceTo={(vm) => {
          setTo(vm);
          setTab("trace");
        }}
        toggle={toggleExpand}
        expanded={expanded}
      />
    );

  return (
    <>
      {header}
      <main>
        <div id="graph-pane">
          {pane}
          {isDragging ? <div class="drop-zone">Drop a topology file (YAML) to open it</div> : null}
        </div>
        <aside>
          <div class="tabs">
            <button type="button" class={tab === "trace" ? "on" : ""} onClick={() => setTab("trace")}>
              Trace
            </button>
            <button
              type="button"
              class={tab === "inspect" ? "on" : ""}
              data-testid="inspect-tab"
              onClick={() => setTab("inspect")}
            >
              Inspect
            </button>
          </div>
          <div class="scroll">{tab === "trace" ? traceTab : inspectTab}</div>
        </aside>
      </main>
    </>
  );
}

function Inspect(props: {
  loaded: Loaded;
  view: View | null;
  selection: Selection;
  pulled: Set<string>;
  failed: Set<string>;
  table: { title: string; rows: Record<string, string | number | null>[] } | null;
  setTable: (t: { title: string; rows: Record<string, string | number | null>[] } | null) => void;
  setCable: (name: string, isPulled: boolean) => void;
  setDevice: (name: string, isFailed: boolean) => void;
  traceFrom: (vm: string) => void;
  traceTo: (vm: string) => void;
  toggle: (id: string) => void;
  expanded: Set<string>;
}) {
  const { loaded, view, selection, table } = props;
  const net = loaded.net;
  const cables = net.links();
  if (selection === null || view === null)
    return (
      <section>
        <h2>Inspect</h2>
        <p class="note">
          Click a device for its MAC and ARP tables, to fail it or to trace from it; click a cable to pull it.
        </p>
        <h2>Cables</h2>
        <CableList cables={cables} setCable={props.setCable} />
      </section>
    );
  const show = (what: "fdb" | "arp", device: string) => {
    try {
      props.setTable({
        title: `${what === "fdb" ? "MAC table" : "ARP cache"} of ${device}`,
        rows: net.show(what, device),
      });
    } catch (e) {
      props.setTable({ title: e instanceof Error ? e.message : String(e), rows: [] });
    }
  };
  const tableView =
    table === null ? null : (
      <>
        <h2>{table.title}</h2>
        <Table rows={table.rows} />
      </>
    );
  if (selection.kind === "edge") {
    const e = view.edges.find((x) => x.id === selection.id);
    if (e === undefined) return null;
    const names = new Set(e.traceNames);
    const mine = cables.filter((c) => {
      const [a, b] = c.ends;
      return names.has(a < b ? `${a}<->${b}` : `${b}<->${a}`);
    });
    return (
      <section>
        <h2>{e.kind === "cable" ? "Cable" : e.kind}</h2>
        <div style={{ whiteSpace: "pre-wrap" }}>{e.label}</div>
        {mine.length > 0 ? <CableList cables={mine} setCable={props.setCable} /> : null}
      </section>
    );
  }
  const s = loaded.structure;
  const id = selection.id;
  const g = s.nodeById.get(id);
  const rack = s.rackById.get(id);
  const serverName = s.members.has(id) ? id.slice(4) : null;
  const title = g?.label[0] ?? rack?.label ?? serverName ?? id;
  const device = g?.traceNames[0] ?? serverName;
  const canFail = (g !== undefined && (g.kind === "switch" || g.kind === "router")) || serverName !== null;
  const isFailed = device !== null && device !== undefined && props.failed.has(device);
  return (
    <section>
      <h2>{g?.kind ?? (rack !== undefined ? "rack" : "server")}</h2>
      <div class="dev" style={{ fontWeight: 600, fontSize: "14px" }} data-testid="selected">
        {title}
      </div>
      {g !== undefined ? (
        <div class="note" style={{ whiteSpace: "pre-wrap" }}>
          {g.label.slice(1).join("\n")}
        </div>
      ) : null}
      <div class="row" style={{ marginTop: "8px" }}>
        {g?.kind === "vm" ? (
          <>
            <button type="button" onClick={() => props.traceFrom(title)}>
              Trace from here
            </button>
            <button type="button" onClick={() => props.traceTo(title)}>
              Trace to here
            </button>
          </>
        ) : null}
        {device !== undefined && device !== null && g?.kind !== "vf" ? (
          <>
            <button type="button" data-testid="show-fdb" onClick={() => show("fdb", device)}>
              MAC table
            </button>
            <button type="button" data-testid="show-arp" onClick={() => show("arp", device)}>
              ARP table
            </button>
          </>
        ) : null}
        {canFail && device !== undefined && device !== null ? (
          <button
            type="button"
            class={isFailed ? "" : "danger"}
            data-testid="fail-device"
            onClick={() => props.setDevice(device, !isFailed)}
          >
            {isFailed ? "Restore" : "Fail"} {device}
          </button>
        ) : null}
        {rack !== undefined || serverName !== null ? (
          <button type="button" onClick={() => props.toggle(id)}>
            {props.expanded.has(id) ? "Fold" : "Open"}
          </button>
        ) : null}
      </div>
      {tableView}
    </section>
  );
}

function CableList(props: {
  cables: { name: string; ends: [string, string]; isUp: boolean }[];
  setCable: (name: string, isPulled: boolean) => void;
}) {
  const shown = props.cables.slice(0, 200);
  return (
    <div>
      {shown.map((c) => (
        <div class="row" key={c.name} style={{ justifyContent: "space-between", padding: "2px 0" }}>
          <span style={{ color: c.isUp ? undefined : "var(--drop)" }}>
            {c.ends[0]} — {c.ends[1]} {c.isUp ? "" : "(down)"}
          </span>
          <button
            type="button"
            class={c.isUp ? "danger" : ""}
            data-testid={`cable-${c.name}`}
            onClick={() => props.setCable(c.name, c.isUp)}
          >
            {c.isUp ? "Pull" : "Plug back"}
          </button>
        </div>
      ))}
      {props.cables.length > shown.length ? (
        <div class="note">{props.cables.length - shown.length} more: click one on the picture</div>
      ) : null}
    </div>
  );
}

render(<App />, document.body);
