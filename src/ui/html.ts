/**
 * The web page's HTML shell and style sheet, as `vnet ui` serves it: a header, the topology pane
 * and the side panel, filled by the bundled script (`/app.js`, built from `src/ui/app.tsx`).
 * Nothing here loads from anywhere but the page's own server (the server's Content Security
 * Policy says so too). Browser-safe text; the server (`src/cli/ui.ts`) imports it.
 */

const CSS = `
:root {
  --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --panel: #f8fafc; --accent: #2563eb;
  --arp: #d97706; --echo: #2563eb; --reply: #059669; --other: #7c3aed; --drop: #dc2626;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink);
}
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { display: flex; flex-direction: column; background: #fff; }
header { display: flex; align-items: center; gap: 12px; padding: 6px 12px; border-bottom: 1px solid var(--line); background: #fff; }
header h1 { font-size: 15px; margin: 0; font-weight: 600; }
header .summary { color: var(--muted); flex: 1; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
button, select, input { font: inherit; }
button { border: 1px solid var(--line); background: #fff; border-radius: 5px; padding: 3px 9px; cursor: pointer; color: var(--ink); }
button:hover:not(:disabled) { border-color: #9fb3c8; background: #f0f4f8; }
button:disabled { opacity: .45; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover:not(:disabled) { background: #1d4ed8; }
button.danger { color: var(--drop); }
main { flex: 1; display: flex; min-height: 0; }
#graph-pane { flex: 1; position: relative; min-width: 0; background: #fcfdfe; }
#cy { position: absolute; inset: 0; }
.legend { position: absolute; left: 10px; bottom: 8px; background: rgba(255,255,255,.92); border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; color: var(--muted); font-size: 11px; display: flex; gap: 10px; flex-wrap: wrap; max-width: calc(100% - 20px); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; vertical-align: -1px; }
.legend i.ring { background: #fff !important; border: 2px solid var(--arp); }
.legend i.ignored { background: #fff !important; border: 2px dotted var(--muted); border-radius: 2px; }
.hint { position: absolute; right: 10px; bottom: 8px; color: var(--muted); font-size: 11px; background: rgba(255,255,255,.9); padding: 2px 6px; border-radius: 4px; }
aside { width: 440px; border-left: 1px solid var(--line); background: var(--panel); display: flex; flex-direction: column; min-height: 0; }
.tabs { display: flex; border-bottom: 1px solid var(--line); }
.tabs button { border: 0; border-radius: 0; background: transparent; padding: 8px 14px; color: var(--muted); border-bottom: 2px solid transparent; }
.tabs button.on { color: var(--ink); border-bottom-color: var(--accent); font-weight: 600; }
.scroll { overflow: auto; flex: 1; padding: 10px 12px 16px; }
section { margin-bottom: 12px; }
h2 { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 10px 0 6px; font-weight: 600; }
.row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.row input[type=text] { flex: 1; min-width: 90px; padding: 4px 7px; border: 1px solid var(--line); border-radius: 5px; background: #fff; }
.error-line { color: var(--drop); margin-top: 6px; }
.verdict { border-radius: 6px; padding: 8px 10px; border: 1px solid; margin-top: 8px; }
.verdict.ok { border-color: #a7f3d0; background: #ecfdf5; }
.verdict.bad { border-color: #fecaca; background: #fef2f2; }
.verdict b { display: block; margin-bottom: 2px; }
.verdict.ok b { color: #047857; } .verdict.bad b { color: var(--drop); }
.player { display: flex; gap: 4px; align-items: center; margin-top: 8px; }
.player .pos { margin-left: auto; color: var(--muted); font-variant-numeric: tabular-nums; }
.hop { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin-top: 8px; }
.hop .dev { font-weight: 600; font-size: 14px; }
.badge { display: inline-block; border-radius: 9px; padding: 0 7px; font-size: 11px; font-weight: 600; color: #fff; background: var(--muted); margin-left: 4px; vertical-align: 1px; }
.badge.drop { background: var(--drop); } .badge.copy { background: #fff; color: var(--arp); border: 1px solid var(--arp); }
.cls-arp-request, .cls-arp-reply { color: var(--arp); } .cls-echo-request { color: var(--echo); } .cls-echo-reply { color: var(--reply); } .cls-other { color: var(--other); }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin-top: 4px; }
.kv span:nth-child(odd) { color: var(--muted); }
.reason { margin-top: 6px; }
.reason.drop { color: var(--drop); font-weight: 600; }
.layer { border-top: 1px solid var(--line); padding: 4px 0; cursor: default; }
.layer:hover, .layer.on { background: #eff6ff; }
.layer summary { cursor: pointer; }
.layer .name { font-weight: 600; }
.hex { font: 11px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; margin-top: 6px; white-space: pre; overflow-x: auto; }
.hex .off { color: var(--muted); margin-right: 8px; }
.hex b { font-weight: normal; background: #bfdbfe; }
.hops { position: relative; font-size: 12px; border: 1px solid var(--line); border-radius: 6px; background: #fff; max-height: 260px; overflow: auto; }
.hops .hoprow { display: block; width: 100%; text-align: left; border: 0; border-radius: 0; background: none; padding: 1px 8px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.hops .hoprow:hover { background: #f0f4f8; }
.hops .hoprow.on { background: #dbeafe; }
.hops .hoprow.dropped { color: var(--drop); }
.hops .skip { color: #9aa5b1; padding: 1px 8px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; background: #fff; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; }
.problem { position: absolute; inset: 0; overflow: auto; padding: 24px 32px; background: #fff; }
.problem h2 { color: var(--drop); font-size: 13px; text-transform: none; letter-spacing: 0; }
.diag { margin: 10px 0 16px; }
.diag code { display: block; }
.src { font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f8fafc; border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; margin-top: 4px; white-space: pre; overflow-x: auto; }
.src .caret { color: var(--drop); }
.drop-zone { position: absolute; inset: 8px; border: 3px dashed var(--accent); border-radius: 12px; background: rgba(37,99,235,.07); display: flex; align-items: center; justify-content: center; font-size: 18px; color: var(--accent); pointer-events: none; z-index: 5; }
.muted { color: var(--muted); }
.note { color: var(--muted); font-size: 12px; margin-top: 4px; }
kbd { font: 11px ui-monospace, monospace; border: 1px solid var(--line); border-bottom-width: 2px; border-radius: 3px; padding: 0 3px; background: #fff; }
`;

/** The page; `title` is the topology file's name (escaped here). */
export function pageHtml(title: string): string {
  const safe = title.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${safe} - vnet</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<noscript>vnet's page runs the engine in the browser: it needs JavaScript.</noscript>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
}
