//! The timeline page (`rtsim run ... --timeline out.html`): one file with
//! no network access, in the spirit of Jepsen's timeline.html. A lane per
//! tab and one for the server, time across; roles and page states as
//! coloured spans, requests as bars from send to answer coloured by outcome,
//! faults and split-brain windows as bands over the lanes they touch,
//! violations as red markers. Hover shows an item; a click shows the trace
//! lines it was read from; the wheel zooms, a drag pans, a double click fits
//! the whole run, and the violation list jumps to each one.
//!
//! The page sets `data-rendered="ok"` on its body once drawn, and
//! `data-error` if a script fails, which is what `tests/timeline.rs` reads
//! in headless Chromium.

use super::View;

/// The page for `view`.
pub fn render(view: &View) -> String {
    let data = serde_json::to_string(view)
        .expect("a view serialises")
        // A `</script>` inside the data must not end the script element.
        .replace("</", "<\\/");
    TEMPLATE
        .replace("{{title}}", &escape(&view.title))
        .replace("{{data}}", &data)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}}</title>
<style>
body { font: 12px system-ui, sans-serif; margin: 0; color: #222; background: #fff; }
header { padding: 8px 12px; border-bottom: 1px solid #ddd; }
header h1 { font-size: 15px; margin: 0 0 4px 0; }
#controls button, #controls input { font: inherit; }
#controls input { width: 6em; }
#legend span { display: inline-block; margin-right: 10px; }
#legend i { display: inline-block; width: 12px; height: 10px; margin-right: 3px; vertical-align: middle; }
#chart { position: relative; overflow-x: hidden; cursor: grab; }
#chart svg { display: block; }
#tip { position: fixed; pointer-events: none; background: #ffe; border: 1px solid #aa8; padding: 4px 6px;
       max-width: 640px; display: none; white-space: pre-wrap; z-index: 2; }
#details { border-top: 1px solid #ddd; padding: 6px 12px; font: 11px ui-monospace, monospace; white-space: pre-wrap;
           max-height: 30vh; overflow: auto; }
#violations { padding: 4px 12px; max-height: 20vh; overflow: auto; }
#violations a { color: #b00; cursor: pointer; display: block; }
.lanename { font: 11px ui-monospace, monospace; }
.leader { fill: #2e7d32; } .follower { fill: #a5d6a7; } .claiming { fill: #fbc02d; } .solo { fill: #1565c0; }
.hidden { fill: #9e9e9e; opacity: .6; } .frozen { fill: #4fc3f7; opacity: .8; } .degraded { fill: #ef6c00; opacity: .7; }
.down { fill: #424242; }
.ok { fill: #78909c; } .refused { fill: #8d6e63; } .failed { fill: #e53935; } .aborted { fill: #ce93d8; } .pending { fill: #ffcc80; }
.fault { fill: #000; opacity: .07; } .split-brain { fill: #d50000; opacity: .18; }
.violation { fill: #d50000; } .gap { fill: #6a1b9a; } .recover { fill: #00838f; } .breaker { fill: #e65100; }
.banner { fill: #5d4037; } .signed-out { fill: #000; } .closed { fill: #000; } .lifecycle { fill: #607d8b; }
.evicted { fill: #795548; } .cap { fill: #ff6f00; } .heal { fill: #2e7d32; }
.axis { stroke: #ccc; } .axis text { fill: #666; stroke: none; }
</style>
</head>
<body>
<header>
<h1 id="title"></h1>
<div id="controls">
from <input id="from" type="number" step="0.1"> s to <input id="to" type="number" step="0.1"> s
<button id="apply">show</button> <button id="fit">whole run</button>
<span id="span"></span> · wheel zooms, drag pans, double click fits, click shows trace lines
</div>
<div id="legend"></div>
</header>
<div id="chart"></div>
<div id="violations"></div>
<div id="details">Click an item to see the trace lines it was read from.</div>
<div id="tip"></div>
<script type="application/json" id="data">{{data}}</script>
<script>
"use strict";
window.addEventListener("error", e => { document.body.dataset.error = String(e.message); });
const view = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg";
const LABEL_W = 170, AXIS_H = 22;
const ROW_H = { role: 12, page: 9, marks: 11, "up/down": 12 };
const rowH = name => ROW_H[name] || 7;
let t0 = 0, t1 = Math.max(view.end, 1);
const chart = document.getElementById("chart"), tip = document.getElementById("tip");

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function secs(ms) { return (ms / 1000).toFixed(3) + " s"; }
function describe(it) {
  const when = it.start === it.end ? "at " + secs(it.start) : secs(it.start) + " to " + secs(it.end) + " (" + (it.end - it.start) + " ms)";
  return it.label + "\n" + when;
}
function showLines(it) {
  const d = document.getElementById("details");
  d.textContent = describe(it) + "\n\n" + it.lines.map(n => "trace line " + (n + 1) + ": " + (view.lines[n] || "")).join("\n");
}
function hover(node, it) {
  node.addEventListener("mousemove", e => {
    tip.style.display = "block"; tip.textContent = describe(it);
    tip.style.left = Math.min(e.clientX + 12, window.innerWidth - 660) + "px"; tip.style.top = (e.clientY + 12) + "px";
  });
  node.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  node.addEventListener("click", e => { e.stopPropagation(); showLines(it); });
}

function layout() {
  let y = AXIS_H;
  const lanes = view.lanes.map(lane => {
    const rows = lane.rows.map(r => { const top = y; y += rowH(r.name) + 1; return { top, h: rowH(r.name), row: r }; });
    const laneTop = rows[0].top, laneBottom = y;
    y += 5;
    return { lane, rows, top: laneTop, bottom: laneBottom };
  });
  return { lanes, height: y };
}
const L = layout();

function draw() {
  const width = Math.max(chart.clientWidth, 600);
  const plotW = width - LABEL_W - 10;
  const x = t => LABEL_W + (t - t0) / (t1 - t0) * plotW;
  chart.textContent = "";
  const svg = el("svg", { width, height: L.height }, chart);
  // The time axis.
  const axis = el("g", { class: "axis" }, svg);
  const stepChoices = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000, 60000, 120000, 300000];
  const step = stepChoices.find(s => (t1 - t0) / s <= 12) || 600000;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    el("line", { x1: x(t), x2: x(t), y1: AXIS_H - 4, y2: L.height }, axis);
    el("text", { x: x(t) + 2, y: 12 }, axis).textContent = (t / 1000) + " s";
  }
  // Bands behind the lanes they cover.
  for (const b of view.bands) {
    if (b.end < t0 || b.start > t1) continue;
    for (const i of b.lanes) {
      const ln = L.lanes[i];
      const w = Math.max(x(Math.min(b.end, t1)) - x(Math.max(b.start, t0)), 2);
      const r = el("rect", { x: x(Math.max(b.start, t0)), y: ln.top - 2, width: w, height: ln.bottom - ln.top + 2, class: b.class }, svg);
      hover(r, { start: b.start, end: b.end, label: b.label, lines: b.lines });
    }
  }
  let violations = 0;
  for (const ln of L.lanes) {
    el("text", { x: 4, y: ln.top + 10, class: "lanename" }, svg).textContent = ln.lane.name;
    el("line", { x1: LABEL_W, x2: width, y1: ln.bottom + 2, y2: ln.bottom + 2, stroke: "#eee" }, svg);
    for (const r of ln.rows) {
      for (const it of r.row.items) {
        if (it.end < t0 || it.start > t1) continue;
        let node;
        if (it.start === it.end) {
          const cx = x(it.start);
          node = el("rect", { x: cx - 2, y: r.top, width: 4, height: r.h, class: it.class }, svg);
          if (it.class === "violation") {
            violations++;
            node.setAttribute("data-oracle", it.label.split(" ")[0]);
            el("line", { x1: cx, x2: cx, y1: ln.top, y2: ln.bottom, stroke: "#d50000", "stroke-width": 1, class: "violation-line" }, svg);
          }
        } else {
          const a = x(Math.max(it.start, t0)), b = x(Math.min(it.end, t1));
          node = el("rect", { x: a, y: r.top, width: Math.max(b - a, 1), height: r.h, class: it.class }, svg);
        }
        hover(node, it);
      }
    }
  }
  document.getElementById("from").value = (t0 / 1000).toFixed(1);
  document.getElementById("to").value = (t1 / 1000).toFixed(1);
  document.getElementById("span").textContent = "showing " + ((t1 - t0) / 1000).toFixed(1) + " s of " + (view.end / 1000).toFixed(1) + " s";
  document.body.dataset.markers = String(violations);
}

function zoomTo(a, b) {
  const min = 5;
  if (b - a < min) { const m = (a + b) / 2; a = m - min / 2; b = m + min / 2; }
  t0 = Math.max(0, a); t1 = Math.min(Math.max(view.end, 1), b);
  draw();
}
chart.addEventListener("wheel", e => {
  e.preventDefault();
  const rect = chart.getBoundingClientRect();
  const plotW = rect.width - LABEL_W - 10;
  const at = t0 + Math.max(0, e.clientX - rect.left - LABEL_W) / plotW * (t1 - t0);
  const f = e.deltaY > 0 ? 1.25 : 0.8;
  zoomTo(at - (at - t0) * f, at + (t1 - at) * f);
}, { passive: false });
let drag = null;
chart.addEventListener("mousedown", e => { drag = { x: e.clientX, t0, t1 }; });
window.addEventListener("mouseup", () => { drag = null; });
window.addEventListener("mousemove", e => {
  if (!drag) return;
  const plotW = chart.clientWidth - LABEL_W - 10;
  const dt = (e.clientX - drag.x) / plotW * (drag.t1 - drag.t0);
  const len = drag.t1 - drag.t0;
  let a = Math.max(0, drag.t0 - dt);
  a = Math.min(a, Math.max(view.end, 1) - len);
  t0 = a; t1 = a + len; draw();
});
chart.addEventListener("dblclick", () => zoomTo(0, view.end));
document.getElementById("fit").onclick = () => zoomTo(0, view.end);
document.getElementById("apply").onclick = () =>
  zoomTo(parseFloat(document.getElementById("from").value) * 1000, parseFloat(document.getElementById("to").value) * 1000);
window.addEventListener("resize", draw);

document.getElementById("title").textContent = view.title;
const legend = [["leader", "leader"], ["follower", "follower"], ["claiming", "claiming"], ["solo", "solo"],
  ["hidden", "hidden"], ["frozen", "frozen"], ["degraded", "degraded"], ["ok", "request ok"], ["failed", "request failed"],
  ["aborted", "aborted"], ["pending", "no answer"], ["fault", "fault"], ["split-brain", "two leaders"], ["violation", "violation"],
  ["gap", "gap"], ["recover", "hard recover"], ["breaker", "breaker open"]];
const lg = document.getElementById("legend");
for (const [cls, name] of legend) {
  const s = document.createElement("span");
  const sw = document.createElementNS(NS, "svg"); sw.setAttribute("width", 12); sw.setAttribute("height", 10);
  el("rect", { width: 12, height: 10, class: cls }, sw);
  s.appendChild(sw); s.appendChild(document.createTextNode(" " + name)); lg.appendChild(s);
}
const vl = document.getElementById("violations");
const found = [];
for (const ln of view.lanes) for (const r of ln.rows) for (const it of r.items) if (it.class === "violation") found.push(it);
found.sort((a, b) => a.start - b.start);
if (found.length) {
  const h = document.createElement("b"); h.textContent = found.length + " violations (click to go there):"; vl.appendChild(h);
}
for (const it of found) {
  const a = document.createElement("a");
  a.className = "violation-link";
  a.textContent = secs(it.start) + "  " + it.label;
  a.onclick = () => { zoomTo(it.start - 5000, it.start + 5000); showLines(it); };
  vl.appendChild(a);
}
draw();
document.body.dataset.rendered = "ok";
</script>
</body>
</html>
"##;
