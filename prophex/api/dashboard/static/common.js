// Shared helpers of the dashboard pages: formatting, the problem+json-aware fetch, charts.
"use strict";

const PX = (() => {
  const usd0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const usd2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  /** USD with thousands separators; decimals only under 100. */
  function usd(x) {
    if (x === null || x === undefined || x === "") return "–";
    const v = Number(x);
    return (Math.abs(v) < 100 && v !== Math.round(v) ? usd2 : usd0).format(v) + " USD";
  }
  function num(x, digits = 0) {
    if (x === null || x === undefined) return "–";
    return Number(x).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function pct(x, digits = 1) {
    if (x === null || x === undefined) return "–";
    return (Number(x) * 100).toFixed(digits) + "%";
  }
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  class ApiError extends Error {
    constructor(problem, status) {
      super(problem.detail || problem.title || "HTTP " + status);
      this.problem = problem;
      this.status = status;
      this.code = problem.code || "HTTP_" + status;
    }
  }

  /** fetch JSON; a problem+json answer becomes an ApiError carrying its code and field. */
  async function api(path, { method = "GET", body, key, signal } = {}) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Authorization"] = "Bearer " + key;
    const res = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { detail: text }; }
    if (!res.ok) throw new ApiError(data || {}, res.status);
    return data;
  }

  function problemText(err) {
    if (err instanceof ApiError) {
      const field = err.problem.field ? ` (field ${err.problem.field})` : "";
      return `${err.code}${field}: ${err.message}`;
    }
    return String(err && err.message ? err.message : err);
  }

  /** A Chart.js plugin drawing labelled vertical lines at x values (VaR, ES). */
  const vlines = {
    id: "vlines",
    afterDatasetsDraw(chart, _args, opts) {
      const lines = (opts && opts.lines) || [];
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      lines.forEach((line, i) => {
        const x = scales.x.getPixelForValue(line.value);
        if (!isFinite(x)) return;
        ctx.strokeStyle = line.color;
        ctx.lineWidth = 2;
        ctx.setLineDash(line.dash || []);
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.font = "12px sans-serif";
        const label = line.label;
        const w = ctx.measureText(label).width;
        const tx = x + 4 + w <= chartArea.right ? x + 4 : Math.max(chartArea.left, x - 4 - w);
        const ty = chartArea.top + 12 + i * 15;
        ctx.fillStyle = "rgba(255,255,255,0.85)";
        ctx.fillRect(tx - 2, ty - 11, w + 4, 14);
        ctx.fillStyle = line.color;
        ctx.fillText(label, tx, ty);
      });
      ctx.restore();
    },
  };
  if (window.Chart) {
    Chart.register(vlines);
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.size = 11;
  }

  /** Create or update a chart on a canvas (keeps one Chart per canvas). */
  const charts = {};
  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), config);
    return charts[id];
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  return { usd, num, pct, el, api, ApiError, problemText, chart, debounce };
})();
