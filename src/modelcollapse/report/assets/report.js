// Draws the report's figures as SVG from the JSON embedded in the page; no libraries, no network.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const DIVERGING = [[33, 102, 172], [247, 247, 247], [178, 24, 43]];
  const colour = Object.create(null);  // workflow labels are untrusted: "__proto__" is a label like any other
  data.workflows.forEach(function (w, i) { colour[w] = PALETTE[i % PALETTE.length]; });
  const hidden = new Set();
  const tip = document.getElementById("tooltip");

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function present(v) { return v !== null && v !== undefined && isFinite(v); }
  function fmt(v) {
    if (!present(v)) return "–";
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(+v.toPrecision(4));
  }
  function escapeText(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  function show(evt, lines) {
    tip.innerHTML = lines.join("<br>");
    tip.style.display = "block";
    const right = evt.clientX + 14 + tip.offsetWidth > document.documentElement.clientWidth;  // keep it on screen
    tip.style.left = (right ? evt.pageX - 14 - tip.offsetWidth : evt.pageX + 14) + "px";
    tip.style.top = (evt.pageY + 14) + "px";
  }
  function hide() { tip.style.display = "none"; }

  // Scales and ticks -------------------------------------------------------
  function scale(lo, hi, a, b, log) {
    let l = log ? Math.log10(lo) : lo, h = log ? Math.log10(hi) : hi;
    if (h === l) { l -= 0.5; h += 0.5; }
    const f = function (v) { return a + (b - a) * ((log ? Math.log10(v) : v) - l) / (h - l); };
    return f;
  }
  function linearTicks(lo, hi, n) {
    const raw = (hi - lo) / n;
    if (!(raw > 0)) return [lo];
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw; });
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }
  function ticks(lo, hi, log, n) {
    if (log) {
      const out = [];
      for (let p = Math.ceil(Math.log10(lo) - 1e-9); p <= Math.floor(Math.log10(hi) + 1e-9); p++) out.push(Math.pow(10, p));
      if (out.length >= 2) return out;
    }
    return linearTicks(lo, hi, n);
  }
  function path(xs, ys, X, Y, ok) {
    let d = "", pen = false;
    for (let i = 0; i < xs.length; i++) {
      if (!ok(ys[i])) { pen = false; continue; }
      d += (pen ? "L" : "M") + X(xs[i]).toFixed(1) + "," + Y(ys[i]).toFixed(1);
      pen = true;
    }
    return d;
  }

  // Metric vs generation ----------------------------------------------------
  function drawChart(fig, chart) {
    fig.querySelectorAll("svg").forEach(function (s) { s.remove(); });
    const W = 420, H = 250, m = { l: 60, r: 12, t: 8, b: 34 };
    const svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "aria-label": chart.title }, fig);
    const shown = chart.series.filter(function (s) { return !s.workflow || !hidden.has(s.workflow); });
    const hue = function (s) { return s.workflow ? colour[s.workflow] || "#333" : PALETTE[chart.series.indexOf(s) % PALETTE.length]; };
    const xlog = chart.xscale === "log1p";  // sizes with a zero: log(1 + x)
    const xt = function (v) { return xlog ? Math.log10(1 + v) : v; };
    const xs = [].concat.apply([], chart.series.map(function (s) { return s.x; }));
    const ys = [];
    const centres = [];
    shown.forEach(function (s) {
      ["y", "lo", "hi", "theory"].forEach(function (k) { (s[k] || []).forEach(function (v) { if (present(v)) ys.push(v); }); });
      s.y.forEach(function (v) { if (present(v)) centres.push(v); });
    });
    let xlo = Math.min.apply(null, xs.map(xt)), xhi = Math.max.apply(null, xs.map(xt));
    if (xhi === xlo) { xlo -= 1; xhi += 1; }
    let ylo = ys.length ? Math.min.apply(null, ys) : 0, yhi = ys.length ? Math.max.apply(null, ys) : 1;
    const cmin = Math.min.apply(null, centres), cmax = Math.max.apply(null, centres);
    const log = centres.length > 0 && cmin > 0 && cmax / cmin > 100;
    if (log) { ylo = Math.max(ylo, cmin / 10); } else { const pad = (yhi - ylo) * 0.05 || Math.abs(yhi) * 0.05 || 1; ylo -= pad; yhi += pad; }
    const ok = function (v) { return present(v) && (!log || v > 0); };
    const X0 = scale(xlo, xhi, m.l, W - m.r, false), Y = scale(ylo, yhi, H - m.b, m.t, log);
    const X = function (v) { return X0(xt(v)); };
    const axis = el("g", { class: "axis" }, svg);
    ticks(ylo, yhi, log, 5).forEach(function (v) {
      el("line", { class: "gridline", x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }, axis);
      el("text", { x: m.l - 4, y: Y(v) + 4, "text-anchor": "end" }, axis).textContent = fmt(v);
    });
    const xticks = xlog ? Array.from(new Set(xs)).sort(function (a, b) { return a - b; })
      : linearTicks(xlo, xhi, 6).filter(function (v) { return chart.xlabel || v === Math.round(v); });
    xticks.forEach(function (v) {
      el("text", { x: X(v), y: H - m.b + 14, "text-anchor": "middle" }, axis).textContent = String(v);
    });
    el("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, axis);
    el("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }, axis);
    el("text", { x: (m.l + W - m.r) / 2, y: H - 4, "text-anchor": "middle" }, axis).textContent = chart.xlabel || "generation";
    el("text", { x: 12, y: (m.t + H - m.b) / 2, "text-anchor": "middle", transform: "rotate(-90 12 " + (m.t + H - m.b) / 2 + ")" }, axis).textContent = chart.ylabel;
    shown.forEach(function (s, k) {
      const c = hue(s);
      const g = el("g", s.workflow ? { class: "series", "data-workflow": s.workflow } : { class: "series" }, svg);
      if (!s.workflow) {  // a legend for series that the workflow switches do not name
        const label = el("text", { x: W - m.r - 4, y: m.t + 12 + 13 * k, "text-anchor": "end" }, g);
        label.textContent = s.name;
        const end = W - m.r - 8 - label.getComputedTextLength();
        el("line", { x1: end - 14, x2: end, y1: m.t + 8 + 13 * k, y2: m.t + 8 + 13 * k, stroke: c, "stroke-width": 2 }, g);
      }
      const up = path(s.x, s.hi, X, Y, ok), down = path(s.x.slice().reverse(), s.lo.slice().reverse(), X, Y, ok);
      if (up && down && up.indexOf("M", 1) < 0 && down.indexOf("M", 1) < 0) el("path", { d: up + "L" + down.slice(1) + "Z", fill: c, "fill-opacity": 0.15, stroke: "none" }, g);
      el("path", { d: path(s.x, s.y, X, Y, ok), fill: "none", stroke: c, "stroke-width": 1.6 }, g);
      if (s.theory) el("path", { class: "theory", d: path(s.x, s.theory, X, Y, ok), fill: "none", stroke: "#111", "stroke-width": 1, "stroke-dasharray": "5 3" }, g);
    });
    const guide = el("line", { class: "guide", y1: m.t, y2: H - m.b, visibility: "hidden" }, svg);
    const hit = el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: "transparent" }, svg);
    const gens = Array.from(new Set(xs)).sort(function (a, b) { return a - b; });
    hit.addEventListener("mousemove", function (evt) {
      const box = svg.getBoundingClientRect();
      const px = (evt.clientX - box.left) * W / box.width;
      let g = gens[0];
      gens.forEach(function (v) { if (Math.abs(X(v) - px) < Math.abs(X(g) - px)) g = v; });
      guide.setAttribute("x1", X(g)); guide.setAttribute("x2", X(g)); guide.setAttribute("visibility", "visible");
      const lines = ["<b>" + escapeText(chart.xlabel || "generation") + " " + fmt(g) + "</b>"];
      shown.forEach(function (s) {
        const i = s.x.indexOf(g);
        if (i < 0) return;
        const spread = s.statistic.indexOf("median") === 0 ? " [" + fmt(s.lo[i]) + ", " + fmt(s.hi[i]) + "]" : " ± " + fmt(s.se[i]);
        let line = '<span style="color:' + hue(s) + '">■</span> ' + escapeText(s.workflow || s.name) + ": " + fmt(s.y[i]) + spread;
        if (s.theory && present(s.theory[i])) line += " (theory " + fmt(s.theory[i]) + ")";
        lines.push(line);
      });
      show(evt, lines);
    });
    hit.addEventListener("mouseleave", function () { guide.setAttribute("visibility", "hidden"); hide(); });
  }

  // Real-synthetic grids ------------------------------------------------------
  function mix(stops, t) {
    t = Math.max(0, Math.min(1, t));
    const p = t * (stops.length - 1), i = Math.min(Math.floor(p), stops.length - 2), f = p - i;
    const c = stops[i].map(function (v, k) { return Math.round(v + f * (stops[i + 1][k] - v)); });
    return "rgb(" + c.join(",") + ")";
  }
  function drawGrid(figure, g) {
    const fig = figure.querySelector(".heat");
    fig.querySelectorAll("svg, .grid-controls").forEach(function (s) { s.remove(); });
    const mode = fig.dataset.mode || "mean";
    const controls = document.createElement("div");
    controls.className = "grid-controls";
    const other = g.ratio ? "ratio to real-only" : "change from real-only";
    [["mean", "mean"], ["relative", other]].forEach(function (opt) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio"; input.name = g.id; input.value = opt[0]; input.checked = mode === opt[0];
      input.addEventListener("change", function () { fig.dataset.mode = opt[0]; drawGrid(figure, g); });
      label.appendChild(input); label.appendChild(document.createTextNode(" " + opt[1] + "  "));
      controls.appendChild(label);
    });
    fig.appendChild(controls);
    const cw = 76, ch = 30, m = { l: 70, t: 8, b: 44 };
    const W = m.l + cw * g.syns.length + 10, H = m.t + ch * g.reals.length + m.b;
    const svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: Math.min(W * 1.25, 1100), role: "img", "aria-label": g.title }, fig);
    const value = function (c) {
      if (mode === "mean") return c.mean;
      if (!present(c.base) || !present(c.mean)) return null;
      return g.ratio ? c.ratio : c.mean - c.base;
    };
    const cells = g.cells.filter(function (c) { return g.reals.indexOf(c.r) >= 0 && g.syns.indexOf(c.s) >= 0; });
    const vals = cells.map(value).filter(present);
    const positive = vals.length > 0 && Math.min.apply(null, vals) > 0;
    const tx = function (v) { return mode === "mean" ? (positive ? Math.log(v) : v) : (g.ratio ? Math.log(v) : v); };
    const t = vals.map(tx);
    const lo = Math.min.apply(null, t), hi = Math.max.apply(null, t);
    const paint = function (v) {
      if (!present(v) || (g.ratio && mode !== "mean" && v <= 0)) return "#fff";
      const u = tx(v);
      if (mode === "mean") return mix(VIRIDIS, hi > lo ? (u - lo) / (hi - lo) : 0.5);
      const r = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
      return mix(DIVERGING, 0.5 + 0.5 * u / r);
    };
    g.reals.forEach(function (r, i) {
      const y = m.t + ch * (g.reals.length - 1 - i);
      el("text", { x: m.l - 6, y: y + ch / 2 + 4, "text-anchor": "end" }, svg).textContent = String(r);
    });
    g.syns.forEach(function (s, j) {
      el("text", { x: m.l + cw * j + cw / 2, y: m.t + ch * g.reals.length + 14, "text-anchor": "middle" }, svg).textContent = String(s);
    });
    el("text", { x: m.l + cw * g.syns.length / 2, y: H - 8, "text-anchor": "middle" }, svg).textContent = "N_syn (synthetic points)";
    el("text", { x: 12, y: m.t + ch * g.reals.length / 2, "text-anchor": "middle", transform: "rotate(-90 12 " + (m.t + ch * g.reals.length / 2) + ")" }, svg).textContent = "N_real";
    cells.forEach(function (c) {
      const i = g.reals.indexOf(c.r), j = g.syns.indexOf(c.s);
      const x = m.l + cw * j, y = m.t + ch * (g.reals.length - 1 - i);
      const v = value(c);
      const rect = el("rect", { class: "cell", x: x, y: y, width: cw - 1, height: ch - 1, fill: paint(v), "data-r": c.r, "data-s": c.s }, svg);
      const dark = mode === "mean" && present(v) && (hi > lo ? (tx(v) - lo) / (hi - lo) : 0.5) < 0.55;
      el("text", { x: x + cw / 2, y: y + ch / 2 + 4, "text-anchor": "middle", style: "pointer-events:none;fill:" + (dark ? "#fff" : "#111") }, svg).textContent = fmt(v);
      rect.addEventListener("mousemove", function (evt) {
        const lines = ["<b>N_real " + c.r + ", N_syn " + c.s + "</b>", escapeText(g.ylabel) + ": " + fmt(c.mean) + " ± " + fmt(c.se)];
        if (present(c.pred)) lines.push("theory " + fmt(c.pred) + ", z = " + fmt(c.z));
        if (present(c.base)) lines.push("real-only (N_syn 0): " + fmt(c.base) + (g.ratio ? ", ratio " + fmt(c.ratio) : ", change " + fmt(c.mean - c.base)));
        show(evt, lines);
      });
      rect.addEventListener("mouseleave", hide);
    });
  }

  // Wiring --------------------------------------------------------------------
  const charts = {}, grids = {};
  data.charts.forEach(function (c) { charts[c.id] = c; });
  data.grids.forEach(function (g) {
    grids[g.id] = g;
    g.curves.forEach(function (c) { charts[c.id] = c; });
  });
  function drawAll() {
    document.querySelectorAll("figure.chart").forEach(function (fig) { drawChart(fig, charts[fig.dataset.chart]); });
  }
  document.querySelectorAll(".swatch").forEach(function (s) { s.style.background = colour[s.dataset.workflow]; });
  document.querySelectorAll(".wf-toggle").forEach(function (box) {
    box.addEventListener("change", function () {
      if (box.checked) hidden.delete(box.value); else hidden.add(box.value);
      drawAll();
    });
  });
  document.querySelectorAll("figure.grid-figure").forEach(function (fig) { drawGrid(fig, grids[fig.dataset.grid]); });
  drawAll();
  document.body.dataset.rendered = "true";
})();
