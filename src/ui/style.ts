/**
 * The look of the topology pane (cytoscape's style sheet): devices by kind, servers and racks as
 * boxes, cables and overlays, and what a trace adds: the echo's path in pale blue underneath, the
 * trail of the hops played so far in the colour of their frame (ARP amber, echo request blue,
 * reply green, flood copies dashed), the current hop outlined, drops and downed cables in red, and
 * the token that travels along each link. Browser-safe data.
 */

import type cytoscape from "cytoscape";

const C = {
  ink: "#1f2933",
  muted: "#7b8794",
  line: "#9aa5b1",
  arp: "#d97706",
  echo: "#2563eb",
  reply: "#059669",
  other: "#7c3aed",
  drop: "#dc2626",
  path: "#bfdbfe",
};

export function cyStyle(): cytoscape.StylesheetJson {
  return [
    {
      selector: "node",
      style: {
        shape: "round-rectangle",
        width: "data(w)",
        height: "data(h)",
        label: "data(label)",
        "text-wrap": "wrap",
        "text-valign": "center",
        "text-halign": "center",
        "font-size": 10,
        "font-family": "system-ui, sans-serif",
        color: C.ink,
        "background-color": "#ffffff",
        "border-width": 1,
        "border-color": C.line,
        "min-zoomed-font-size": 6,
      },
    },
    { selector: "node.vm", style: { "background-color": "#f0f9ff", "border-color": "#7dd3fc" } },
    { selector: "node.vswitch", style: { "background-color": "#f5f3ff", "border-color": "#a78bfa" } },
    { selector: "node.nic", style: { "background-color": "#fefce8", "border-color": "#eab308" } },
    {
      selector: "node.vf",
      style: { "background-color": "#fff7ed", "border-color": "#fb923c", shape: "rectangle" },
    },
    {
      selector: "node.switch",
      style: { "background-color": "#ecfdf5", "border-color": "#10b981", "border-width": 1.5 },
    },
    {
      selector: "node.router",
      style: {
        "background-color": "#ecfeff",
        "border-color": "#06b6d4",
        "border-width": 1.5,
        shape: "round-octagon",
      },
    },
    {
      selector: "node.server-collapsed",
      style: { "background-color": "#f8fafc", "border-color": "#64748b", "border-width": 1.5 },
    },
    {
      selector: "node.rack-collapsed",
      style: {
        "background-color": "#f1f5f9",
        "border-color": "#475569",
        "border-width": 2,
        "font-weight": "bold",
      },
    },
    {
      selector: ":parent",
      style: {
        "background-color": "#f8fafc",
        "background-opacity": 0.7,
        "border-color": "#94a3b8",
        "border-width": 1,
        padding: "14px",
        "text-valign": "top",
        "text-halign": "center",
        "font-size": 11,
        "font-weight": "bold",
        color: "#475569",
        "text-margin-y": -2,
      },
    },
    {
      selector: "node.rack:parent",
      style: { "background-color": "#f1f5f9", "border-style": "dashed", "border-color": "#64748b" },
    },
    {
      selector: "edge",
      style: {
        width: 1.5,
        "line-color": C.line,
        "curve-style": "straight",
        label: "data(label)",
        "font-size": 8,
        "text-wrap": "wrap",
        color: C.muted,
        "text-background-color": "#ffffff",
        "text-background-opacity": 0.85,
        "text-background-padding": "1px",
        "min-zoomed-font-size": 7,
      },
    },
    { selector: "edge.quiet", style: { label: "" } },
    { selector: "edge.quiet:selected, edge.quiet.current", style: { label: "data(label)" } },
    { selector: "edge.vnic, edge.uplink, edge.vf", style: { width: 1, "line-color": "#cbd5e1" } },
    { selector: "edge.lag", style: { width: 3 } },
    { selector: "edge.dashed", style: { "line-style": "dashed" } },
    { selector: "edge.tunnel, edge.vpn", style: { "line-color": "#a78bfa", "curve-style": "bezier" } },
    // A trace: the echo's path underneath, then the trail, then the current hop.
    { selector: "edge.path", style: { "line-color": C.path, width: 5 } },
    { selector: "node.path", style: { "border-color": "#60a5fa", "border-width": 2 } },
    { selector: "edge.trail-arp-request, edge.trail-arp-reply", style: { "line-color": C.arp, width: 3 } },
    { selector: "edge.trail-echo-request", style: { "line-color": C.echo, width: 4 } },
    { selector: "edge.trail-echo-reply", style: { "line-color": C.reply, width: 4 } },
    { selector: "edge.trail-other", style: { "line-color": C.other, width: 3 } },
    {
      selector: "edge.trail-copy",
      style: { "line-color": C.arp, width: 2, "line-style": "dashed", "line-dash-pattern": [4, 3] },
    },
    {
      selector: "node.trail-arp-request, node.trail-arp-reply",
      style: { "border-color": C.arp, "border-width": 2 },
    },
    { selector: "node.trail-echo-request", style: { "border-color": C.echo, "border-width": 2.5 } },
    { selector: "node.trail-echo-reply", style: { "border-color": C.reply, "border-width": 2.5 } },
    { selector: "node.trail-other", style: { "border-color": C.other, "border-width": 2 } },
    {
      selector: "node.current",
      style: {
        "border-color": C.ink,
        "border-width": 3.5,
        "underlay-color": "#fde68a",
        "underlay-opacity": 0.8,
        "underlay-padding": 6,
      },
    },
    {
      selector: "edge.current",
      style: { "underlay-color": "#fde68a", "underlay-opacity": 0.9, "underlay-padding": 5 },
    },
    {
      selector: "node.ignored",
      style: { "border-color": C.muted, "border-style": "dotted", "border-width": 2 },
    },
    { selector: "node.dropped", style: { "border-color": C.drop, "border-width": 3.5, color: C.drop } },
    { selector: "edge.down", style: { "line-color": C.drop, "line-style": "dashed", width: 2.5 } },
    {
      selector: "node.down",
      style: { "border-color": C.drop, "border-style": "dashed", "background-color": "#fef2f2" },
    },
    {
      selector: "node.token",
      style: {
        width: 16,
        height: 16,
        shape: "ellipse",
        label: "",
        "border-width": 2,
        "border-color": "#ffffff",
        "z-index": 999,
        "z-compound-depth": "top",
      },
    },
    { selector: "node.tok-arp-request, node.tok-arp-reply", style: { "background-color": C.arp } },
    { selector: "node.tok-echo-request", style: { "background-color": C.echo } },
    { selector: "node.tok-echo-reply", style: { "background-color": C.reply } },
    { selector: "node.tok-other", style: { "background-color": C.other } },
    {
      selector: "node.token.copy",
      style: { "background-color": "#ffffff", "border-color": C.arp, "border-width": 3 },
    },
  ];
}
