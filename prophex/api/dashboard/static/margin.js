// The portfolio-margin lab: edits a book in the schema of `prophex margin`, recomputes it on
// the server (POST /v1/margin/requirement, debounced) and shows every figure of the waterfall.
"use strict";

(() => {
  const { usd, num, pct, el, api, problemText, chart, debounce } = PX;
  const STORE = "prophex.marginLab.v1";
  const DEFAULT_BOOK = "reference-8-cluster";
  const $ = (id) => document.getElementById(id);

  /** Lab state: the book (YAML schema), the CLI options, the what-if row. Persisted. */
  let state = null;
  let last = null; // last successful requirement answer
  let inflight = null; // AbortController of the running recompute
  let ticket = 0; // answers to stale requests are dropped
  let edits = 0; // edits so far: "busy" clears only when the answer covers the latest edit
  let hierarchy = null;

  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(state)); } catch (_) { /* private mode */ }
  }
  function restore() {
    try { return JSON.parse(localStorage.getItem(STORE) || "null"); } catch (_) { return null; }
  }

  function settings() {
    const b = state.book;
    b.settings = b.settings || {};
    b.settings.addons = b.settings.addons || {};
    return b.settings;
  }

  function contractsById() {
    const out = {};
    for (const c of state.book.contracts || []) out[c.id] = c;
    return out;
  }

  function clusterOf(c) {
    if (!c) return "";
    if (c.cluster) return c.cluster;
    if (hierarchy && c.underlying) {
      const stack = [hierarchy.tree];
      while (stack.length) {
        const n = stack.pop();
        if (n.kind === "cluster" && (n.underlyings || []).includes(c.underlying)) return n.name;
        stack.push(...(n.children || []));
      }
    }
    return c.underlying || "";
  }

  function maxLoss(p, c) {
    const price = p.price !== undefined && p.price !== null ? p.price : c ? c.price : 0;
    return p.contracts * (p.side === "long" ? price : 1 - price);
  }

  // ------------------------------------------------------------------ controls -> state

  function bindControls() {
    $("paths").addEventListener("change", () => { state.paths = Number($("paths").value); changed(); });
    $("seed").addEventListener("input", () => {
      const v = Number($("seed").value);
      if (Number.isInteger(v) && v >= 0) { state.seed = v; changed(); }
    });
    $("alpha").addEventListener("input", () => {
      const v = Number($("alpha").value);
      if (v > 0.5 && v < 1) { settings().alpha = v; changed(); }
    });
    $("rule").addEventListener("change", () => { state.rule = $("rule").value; changed(); });
    for (const id of ["rho-within", "rho-cross"]) $(id).addEventListener("input", onRho);
    for (const key of ["beta", "gamma", "lam", "mu"]) {
      $(key).addEventListener("input", () => {
        const v = Number($(key).value);
        if ($(key).value !== "" && v >= 0 && v <= 100) {
          settings().addons[key] = Number((v / 100).toPrecision(12));
          changed();
        }
      });
    }
    $("add-position").addEventListener("click", () => {
      const qty = Number($("add-qty").value);
      if (!(qty > 0) || !$("add-contract").value) return;
      state.book.positions.push({ contract: $("add-contract").value, side: $("add-side").value, contracts: qty });
      renderPositions();
      changed();
    });
    for (const id of ["wi-contract", "wi-side", "wi-qty"]) {
      $(id).addEventListener("input", () => {
        state.whatIf = { contract: $("wi-contract").value, side: $("wi-side").value, contracts: Number($("wi-qty").value) };
        save();
        whatIfSoon();
      });
    }
    $("load-example").addEventListener("click", () => loadExample($("example").value));
    $("new-book").addEventListener("click", () => {
      useBook({ name: "my-book", settings: {}, contracts: [], positions: [] });
      $("contracts-box").open = true;
    });
    $("c-kind").addEventListener("change", contractWhere);
    $("add-contract-btn").addEventListener("click", addContract);
    $("yaml-file").addEventListener("change", loadYamlFile);
    $("export-yaml").addEventListener("click", exportYaml);
    $("account-form").addEventListener("submit", (e) => { e.preventDefault(); loadAccount(); });
  }

  /** The factor model needs rho_within >= rho_cross: a violating drag is shown and refused. */
  function onRho() {
    const within = Number($("rho-within").value);
    const cross = Number($("rho-cross").value);
    $("rho-within-out").textContent = within.toFixed(2);
    $("rho-cross-out").textContent = cross.toFixed(2);
    const bad = within < cross;
    $("rho-within").setAttribute("aria-invalid", bad ? "true" : "false");
    $("rho-cross").setAttribute("aria-invalid", bad ? "true" : "false");
    if (bad) {
      $("rho-error").textContent =
        `Refused: ρ within (${within.toFixed(2)}) must be ≥ ρ across (${cross.toFixed(2)}); ` +
        "the figures below still use the last valid pair.";
      return;
    }
    $("rho-error").textContent = "";
    settings().rho_within = within;
    settings().rho_cross = cross;
    changed();
  }

  // ------------------------------------------------------------------ state -> controls

  function renderSettings() {
    const s = settings();
    $("paths").value = String(state.paths);
    $("seed").value = String(state.seed);
    $("alpha").value = String(s.alpha ?? 0.99);
    $("rule").value = state.rule;
    const within = s.rho_within ?? (hierarchy ? hierarchy.rho_within : 0.68);
    const cross = s.rho_cross ?? (hierarchy ? hierarchy.rho_cross : 0.35);
    $("rho-within").value = String(within);
    $("rho-cross").value = String(cross);
    $("rho-within-out").textContent = Number(within).toFixed(2);
    $("rho-cross-out").textContent = Number(cross).toFixed(2);
    $("rho-error").textContent = "";
    const defaults = { beta: 0.1, gamma: 0.25, lam: 0, mu: 0.05 };
    for (const key of Object.keys(defaults)) {
      const v = s.addons[key] ?? defaults[key];
      $(key).value = String(Number((v * 100).toPrecision(10)));
    }
    $("book-name").textContent = `Book: ${state.book.name || "book"} · ${state.book.positions.length} positions · ${state.book.contracts.length} contracts`;
  }

  function contractOptions(select, selected) {
    select.replaceChildren(...state.book.contracts.map((c) =>
      el("option", { value: c.id, selected: c.id === selected }, c.id)));
  }

  function renderPositions() {
    const byId = contractsById();
    const body = $("positions").querySelector("tbody");
    body.replaceChildren();
    state.book.positions.forEach((p, i) => {
      const c = byId[p.contract];
      const side = el("select", { "aria-label": `Side of position ${i + 1} (${p.contract})` },
        el("option", { selected: p.side === "long" }, "long"), el("option", { selected: p.side === "short" }, "short"));
      side.addEventListener("change", () => { p.side = side.value; renderPositions(); changed(); });
      const qty = el("input", { type: "number", min: "0", step: "1", value: p.contracts, "aria-label": `Contracts of position ${i + 1} (${p.contract})` });
      qty.addEventListener("input", () => {
        const v = Number(qty.value);
        if (v > 0) { p.contracts = v; qty.removeAttribute("aria-invalid"); changed(); } else qty.setAttribute("aria-invalid", "true");
      });
      const price = el("input", { type: "number", min: "0.001", max: "0.999", step: "0.001", value: p.price ?? "", placeholder: c ? String(c.price) : "", "aria-label": `Entry price of position ${i + 1} (${p.contract})` });
      price.addEventListener("input", () => {
        const v = Number(price.value);
        if (price.value === "") { delete p.price; changed(); } else if (v > 0 && v < 1) { p.price = v; changed(); }
      });
      const remove = el("button", { type: "button", class: "icon", "aria-label": `Remove position ${p.contract}`, "data-contract": p.contract }, "✕");
      remove.addEventListener("click", () => { state.book.positions.splice(i, 1); renderPositions(); changed(); });
      body.append(el("tr", { "data-contract": p.contract },
        el("td", {}, p.contract), el("td", {}, clusterOf(c)), el("td", {}, side), el("td", {}, qty),
        el("td", {}, price), el("td", {}, usd(maxLoss(p, c))), el("td", {}, remove)));
    });
    contractOptions($("add-contract"), $("add-contract").value);
    const wi = state.whatIf || {};
    contractOptions($("wi-contract"), wi.contract);
    $("wi-side").value = wi.side || "long";
    $("wi-qty").value = String(wi.contracts || 0);
    renderContracts();
    renderSettings();
  }

  function renderContracts() {
    const body = $("contracts").querySelector("tbody");
    body.replaceChildren(...state.book.contracts.map((c) => {
      const detail = c.kind === "threshold" ? `${c.underlying} ${c.direction} ${num(c.strike)}`
        : c.kind === "parlay" ? `legs ${c.legs.join(" & ")}` : c.group ? `group ${c.group}` : "";
      const price = el("input", { type: "number", min: "0.001", max: "0.999", step: "0.001", value: c.price, "aria-label": `Price of ${c.id}` });
      price.addEventListener("change", () => {
        const v = Number(price.value);
        if (v > 0 && v < 1) { c.price = v; renderPositions(); changed(); }
      });
      const used = state.book.positions.some((p) => p.contract === c.id) ||
        state.book.contracts.some((o) => (o.legs || []).includes(c.id));
      const remove = el("button", { type: "button", class: "icon", "aria-label": `Remove contract ${c.id}`, disabled: used, title: used ? "held or used as a parlay leg" : null }, "✕");
      remove.addEventListener("click", () => {
        state.book.contracts = state.book.contracts.filter((o) => o.id !== c.id);
        renderPositions();
        changed();
      });
      return el("tr", { "data-contract": c.id }, el("td", {}, c.id), el("td", {}, c.kind), el("td", {}, clusterOf(c)), el("td", {}, detail), el("td", {}, price), el("td", {}, remove));
    }));
  }

  /** The cluster (or, for thresholds, underlying) choices that fit the chosen contract kind. */
  function contractWhere() {
    if (!hierarchy) return;
    const kind = $("c-kind").value;
    const clusters = [];
    const stack = [hierarchy.tree];
    while (stack.length) {
      const n = stack.pop();
      if (n.kind === "cluster") clusters.push(n);
      stack.push(...(n.children || []));
    }
    const choices = kind === "threshold"
      ? clusters.filter((n) => n.model === "threshold").flatMap((n) => n.underlyings)
      : clusters.filter((n) => n.model === kind).map((n) => n.name);
    $("c-where-label").textContent = kind === "threshold" ? "Underlying" : "Cluster";
    $("c-where").replaceChildren(...choices.sort().map((v) => el("option", { value: v }, v)));
    for (const [id, needed] of [["c-strike", kind === "threshold"], ["c-direction", kind === "threshold"], ["c-group", kind === "exclusive"], ["c-legs", kind === "parlay"]]) {
      $(id).disabled = !needed;
    }
  }

  function addContract() {
    const id = $("c-id").value.trim();
    const kind = $("c-kind").value;
    const price = Number($("c-price").value);
    const fail = (text) => { $("contract-error").textContent = text; };
    if (!id) return fail("A contract needs an id.");
    if (state.book.contracts.some((c) => c.id === id)) return fail(`Contract ${id} already exists.`);
    if (!(price > 0 && price < 1)) return fail("The price of YES must be in (0, 1).");
    const c = { id, kind };
    if (kind === "threshold") {
      const strike = Number($("c-strike").value);
      if (!(strike > 0)) return fail("A threshold contract needs a strike > 0.");
      Object.assign(c, { underlying: $("c-where").value, strike, direction: $("c-direction").value });
    } else {
      c.cluster = $("c-where").value;
      if (kind === "exclusive") {
        if (!$("c-group").value.trim()) return fail("An exclusive contract needs a group.");
        c.group = $("c-group").value.trim();
      }
      if (kind === "parlay") {
        c.legs = $("c-legs").value.split(",").map((x) => x.trim()).filter(Boolean);
        if (!c.legs.length) return fail("A parlay needs at least one leg.");
      }
    }
    c.price = price;
    fail("");
    state.book.contracts.push(c);
    $("c-id").value = "";
    renderPositions();
    $("add-contract").value = id;
    changed();
  }

  function renderTree() {
    if (!hierarchy) return;
    const figures = {};
    for (const c of (last && last.clusters) || []) figures[c.name] = c;
    const node = (n) => {
      const li = el("li");
      if (n.kind === "cluster") {
        const f = figures[n.name];
        li.append(el("span", { class: "cluster" }, n.name), el("span", { class: "figs" },
          `${n.model}${n.underlyings && n.underlyings.length ? " · " + n.underlyings.join(", ") : ""}` +
          (f ? ` · gross ${usd(f.gross)} · ES ${usd(f.es)}` : " · no position")));
      } else {
        li.append(el("span", {}, `${n.name} `), el("span", { class: "badge" }, n.kind || ""));
        li.append(el("ul", { class: "tree" }, ...(n.children || []).map(node)));
      }
      return li;
    };
    $("tree").replaceChildren(el("ul", { class: "tree" }, ...hierarchy.tree.children.map(node)));
  }

  // ------------------------------------------------------------------ recompute

  function request(book) {
    return { book, paths: state.paths, seed: state.seed, rule: state.rule };
  }

  const recomputeSoon = debounce(recompute, 250);
  const whatIfSoon = debounce(whatIf, 300);

  /** Every edit lands here: persist, then recompute (debounced, or at once on page load). */
  function changed(now = false) {
    edits += 1;
    save();
    $("run-info").classList.add("busy");
    if (now) recompute(); else recomputeSoon();
  }

  async function recompute() {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const mine = ++ticket;
    const covers = edits;
    $("run-info").classList.add("busy");
    try {
      const result = await api("/v1/margin/requirement", { method: "POST", body: request(state.book), signal: inflight.signal });
      if (mine !== ticket) return;
      last = result;
      $("error-box").textContent = "";
      renderResult(result);
      whatIf();
    } catch (err) {
      if (err.name === "AbortError" || mine !== ticket) return;
      $("error-box").textContent = "Not recomputed: " + problemText(err);
    } finally {
      if (mine === ticket && covers === edits) $("run-info").classList.remove("busy");
    }
  }

  let whatIfTicket = 0;
  async function whatIf() {
    const wi = state.whatIf;
    const mine = ++whatIfTicket;
    if (!last) return;
    $("wi-before").textContent = usd(last.pm);
    $("wi-fc-before").textContent = usd(last.full_collateral);
    if (!wi || !(wi.contracts > 0) || !wi.contract) {
      for (const id of ["wi-after", "wi-change", "wi-fc-after", "wi-fc-change"]) $(id).textContent = "–";
      return;
    }
    const book = { ...state.book, positions: [...state.book.positions, { contract: wi.contract, side: wi.side, contracts: wi.contracts }] };
    try {
      const after = await api("/v1/margin/requirement", { method: "POST", body: request(book) });
      if (mine !== whatIfTicket) return;
      $("wi-after").textContent = usd(after.pm);
      $("wi-change").textContent = signed(after.pm - last.pm);
      $("wi-fc-after").textContent = usd(after.full_collateral);
      $("wi-fc-change").textContent = signed(after.full_collateral - last.full_collateral);
    } catch (err) {
      $("wi-after").textContent = problemText(err);
    }
  }

  function signed(x) {
    return (x > 0 ? "+" : x < 0 ? "−" : "") + usd(Math.abs(x));
  }

  // ------------------------------------------------------------------ result -> view

  function renderResult(r) {
    $("kpi-fc").textContent = usd(r.full_collateral);
    $("kpi-pm").textContent = usd(r.pm);
    $("kpi-pm-sub").textContent = `± ${usd(r.pm_se)} (MC s.e.) · exchange ${r.pm_usd} USD${r.capped_at_fc ? " · capped at FC" : ""}`;
    $("kpi-release").textContent = pct(r.release);
    $("kpi-binding").textContent = r.binding_label;
    $("kpi-binding-tile").className = "kpi binding-" + r.binding;
    $("kpi-binding-tile").dataset.binding = r.binding;
    $("kpi-binding-sub").textContent = `base ${usd(r.base.value)} · top-2 floor ${usd(r.floor_top2.value)} · minimum ${usd(r.min_margin)}`;
    const p = r.params;
    $("run-info").textContent = `${num(p.paths)} paths · seed ${p.seed} · α ${p.alpha} · ρ ${p.rho_within}/${p.rho_cross} · rule ${p.rule} · server ${r.server_ms} ms`;
    $("run-info").dataset.paths = p.paths;
    renderClusters(r);
    renderWaterfall(r);
    renderRules(r);
    renderCorrelation(r);
    renderDistribution("chart-dist-risk", "dist-risk-note", r.distributions.risk_assets, r.params.alpha, "risk assets (crypto, equity, macro)");
    renderDistribution("chart-dist-book", "dist-book-note", r.distributions.book, r.params.alpha, "whole book");
    renderTree();
    $("yaml-out").value = toYaml(state.book);
    $("yaml-command").textContent = `Same figures: prophex margin book.yaml --paths ${state.paths} --seed ${state.seed} --rule ${state.rule}`;
  }

  function renderClusters(r) {
    const top = new Set(r.floor_top2.clusters);
    $("clusters").querySelector("tbody").replaceChildren(...r.clusters.map((c) => el("tr", { "data-cluster": c.name },
      el("td", {}, c.name, top.has(c.name) ? el("span", { class: "badge", title: "one of the two largest ES (top-2 floor)" }, " top-2") : ""),
      el("td", {}, usd(c.gross)), el("td", {}, usd(c.es)), el("td", {}, c.gross > 0 ? pct(c.es / c.gross, 0) : "–"),
      el("td", {}, "± " + num(c.es_se, 1)))),
      el("tr", { class: "total" }, el("td", {}, "Sum"), el("td", {}, usd(r.full_collateral)), el("td", {}, usd(r.sum_es)),
        el("td", {}, r.full_collateral > 0 ? pct(r.sum_es / r.full_collateral, 0) : "–"), el("td", {}, "")));
    chart("chart-clusters", {
      type: "bar",
      data: {
        labels: r.clusters.map((c) => c.name),
        datasets: [
          { label: "gross (max loss), USD", data: r.clusters.map((c) => c.gross), backgroundColor: "#b8c4d6" },
          { label: "stressed loss (99% ES), USD", data: r.clusters.map((c) => c.es), backgroundColor: "#1f5fbf" },
        ],
      },
      options: { scales: { y: { title: { display: true, text: "USD" } } } },
    });
  }

  function renderWaterfall(r) {
    const steps = r.waterfall;
    const body = $("waterfall").querySelector("tbody");
    body.replaceChildren(...steps.map((s) => el("tr", {}, el("td", {}, s.step),
      el("td", {}, s.step.startsWith("gross") ? "" : signed(s.change)), el("td", {}, usd(s.total)))));
    for (const [name, value] of Object.entries(r.addons)) {
      if (name !== "total") body.append(el("tr", {}, el("td", {}, `  of which ${name}`), el("td", {}, signed(value)), el("td", {}, "")));
    }
    body.append(el("tr", { class: "total" }, el("td", {}, "Portfolio margin"), el("td", {}, ""), el("td", {}, usd(r.pm))));
    const bars = steps.map((s) => s.step.startsWith("gross") ? [0, s.total] : [s.total - s.change, s.total]);
    bars.push([0, r.pm]);
    chart("chart-waterfall", {
      type: "bar",
      data: {
        labels: [...steps.map((s) => s.step.replace(" (full collateralization)", "").replace("cap at full collateralization", "cap at FC")), "portfolio margin"],
        datasets: [{
          label: "USD", data: bars,
          backgroundColor: bars.map((b, i) => i === 0 || i === bars.length - 1 ? "#1f5fbf" : b[1] < b[0] ? "#1b7f3b" : "#b42318"),
        }],
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { title: { display: true, text: "USD" } } } },
    });
  }

  function renderRules(r) {
    const b = r.base;
    const row = (name, value, se, attrs = {}) => el("tr", attrs, el("td", {}, name), el("td", {}, value), el("td", {}, se));
    $("rules").querySelector("tbody").replaceChildren(
      row("Sum of cluster ES (no diversification)", usd(r.sum_es), ""),
      row("Base, square-root rule √(ESᵀ R ES)", usd(b.sqrt), "± " + num(b.sqrt_se, 1), { id: "base-sqrt-row", "data-value": b.sqrt }),
      row("Base, joint Monte-Carlo 99% ES", usd(b.joint), "± " + num(b.joint_se, 1), { id: "base-joint-row", "data-value": b.joint }),
      row("Square-root understatement", signed(r.sqrt_understatement.joint_minus_sqrt), pct(r.sqrt_understatement.share_of_joint) + " of joint"),
      row(`Top-2 floor (${r.floor_top2.clusters.join(" + ")})`, usd(r.floor_top2.value), "± " + num(r.floor_top2.se, 1)),
      row("Minimum margin (μ × FC)", usd(r.min_margin), ""),
      row(`Core = max(base [${b.rule}], floor, minimum)`, usd(r.core), ""),
    );
    $("rules-note").textContent = `The exchange margins with the ${b.rule === "joint" ? "joint Monte-Carlo base" : "square-root base (selected)"}; ` +
      "the square-root rule treats cluster losses as Gaussian and understates the tail of binary books.";
  }

  function heat(v) {
    const a = Math.max(0, Math.min(1, Math.abs(v)));
    return v >= 0 ? `rgba(31,95,191,${(a * 0.55).toFixed(2)})` : `rgba(180,35,24,${(a * 0.55).toFixed(2)})`;
  }

  function renderCorrelation(r) {
    const names = r.correlation.clusters;
    const table = $("corr");
    table.querySelector("thead").replaceChildren(el("tr", {}, el("th", {}, ""), ...names.map((n) => el("th", { scope: "col" }, n))));
    table.querySelector("tbody").replaceChildren(...r.correlation.matrix.map((row, i) => el("tr", {},
      el("th", { scope: "row" }, names[i]), ...row.map((v) => el("td", { style: `background:${heat(v)}` }, v.toFixed(2))))));
  }

  function renderDistribution(canvas, noteId, d, alpha, title) {
    if (!d) {
      chart(canvas, { type: "bar", data: { labels: [], datasets: [] } });
      $(noteId).textContent = `No ${title} positions.`;
      return;
    }
    const centers = d.counts.map((_, i) => (d.edges[i] + d.edges[i + 1]) / 2);
    const level = (alpha * 100).toFixed(1).replace(/\.0$/, "");
    chart(canvas, {
      type: "bar",
      data: { datasets: [{ label: "share of paths", data: centers.map((x, i) => ({ x, y: d.counts[i] / d.paths })), backgroundColor: "#8fa7c9", barPercentage: 1, categoryPercentage: 1 }] },
      options: {
        parsing: false,
        scales: {
          x: { type: "linear", title: { display: true, text: "loss at settlement, USD" }, min: d.edges[0], max: d.edges[d.edges.length - 1] },
          y: { type: "logarithmic", title: { display: true, text: "share of paths (log)" } },
        },
        plugins: {
          legend: { display: false },
          vlines: { lines: [
            { value: d.var, color: "#9a6700", dash: [6, 4], label: `VaR ${level}% ${usd(d.var)}` },
            { value: d.es, color: "#b42318", label: `ES ${level}% ${usd(d.es)}` },
          ] },
        },
      },
    });
    $(noteId).textContent = `${title}: mean loss ${usd(d.mean)}, P(loss > 0) ${pct(d.p_loss)}, VaR ${usd(d.var)}, ES ${usd(d.es)} ± ${num(d.es_se, 1)} (MC s.e.) over ${num(d.paths)} paths.`;
  }

  // ------------------------------------------------------------------ YAML in and out

  /** YAML of the book in the schema `prophex margin` reads (flow mappings, exact numbers). */
  function toYaml(book) {
    const scalar = (v) => {
      if (typeof v === "number") return String(v);
      if (typeof v === "boolean") return String(v);
      if (v === null || v === undefined) return "null";
      return JSON.stringify(String(v)); // a JSON string is a valid YAML double-quoted scalar
    };
    const flow = (obj) => "{" + Object.entries(obj).filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? "[" + v.map(scalar).join(", ") + "]" : typeof v === "object" ? flow(v) : scalar(v)}`).join(", ") + "}";
    const s = book.settings || {};
    const lines = [
      `# Exported by the Prophex margin lab. Figures: prophex margin <file> --paths ${state.paths} --seed ${state.seed} --rule ${state.rule}`,
      `name: ${scalar(book.name || "book")}`,
    ];
    if (book.description) lines.push(`description: ${scalar(book.description)}`);
    lines.push("settings:");
    for (const [k, v] of Object.entries(s)) {
      if (v === null || v === undefined) continue;
      lines.push(`  ${k}: ${typeof v === "object" ? flow(v) : scalar(v)}`);
    }
    lines.push("contracts:");
    for (const c of book.contracts) lines.push(`  - ${flow(c)}`);
    lines.push(book.positions.length ? "positions:" : "positions: []");
    for (const p of book.positions) lines.push(`  - ${flow(p)}`);
    return lines.join("\n") + "\n";
  }

  function exportYaml() {
    const text = toYaml(state.book);
    $("yaml-out").value = text;
    $("yaml-out").closest("details").open = true;
    const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/yaml" })), download: `${(state.book.name || "book").replace(/[^\w.-]+/g, "_")}.yaml` });
    document.body.append(a);
    a.click();
    a.remove();
  }

  async function loadYamlFile(event) {
    const file = event.target.files[0];
    if (!file) return;
    try {
      const parsed = await api("/v1/margin/parse", { method: "POST", body: { yaml: await file.text() } });
      useBook(parsed.book);
    } catch (err) {
      $("error-box").textContent = "Book not loaded: " + problemText(err);
    }
  }

  async function loadExample(name, now = false) {
    try {
      const data = await api(`/v1/margin/books/${encodeURIComponent(name)}`);
      useBook(data.book, now);
    } catch (err) {
      $("error-box").textContent = "Book not loaded: " + problemText(err);
    }
  }

  async function loadAccount() {
    const key = $("account-key").value.trim();
    if (!key) { $("error-box").textContent = "Enter the account's API key first."; return; }
    try {
      const data = await api("/v1/account/margin-book", { key });
      useBook(data.book);
      $("book-name").textContent += ` · isolated margin locked ${usd(data.isolated_margin)}`;
    } catch (err) {
      $("error-box").textContent = "Account book not loaded: " + problemText(err);
    }
  }

  function useBook(book, now = false) {
    book.settings = book.settings || {};
    book.positions = book.positions || [];
    book.contracts = book.contracts || [];
    state.book = book;
    state.whatIf = { contract: book.contracts.length ? book.contracts[0].id : "", side: "long", contracts: 0 };
    renderPositions();
    changed(now);
  }

  // ------------------------------------------------------------------ start

  async function start() {
    bindControls();
    const [h, books] = await Promise.all([api("/v1/margin/hierarchy"), api("/v1/margin/books")]);
    hierarchy = h;
    $("example").replaceChildren(...books.items.map((n) => el("option", { value: n, selected: n === DEFAULT_BOOK }, n)));
    const saved = restore();
    if (saved && saved.book && Array.isArray(saved.book.positions)) {
      state = { paths: 100000, seed: 0, rule: "joint", whatIf: null, ...saved };
      renderPositions();
      changed(true);
    } else {
      state = { paths: 100000, seed: 0, rule: "joint", book: null, whatIf: null };
      await loadExample(DEFAULT_BOOK, true);
    }
    renderTree();
    contractWhere();
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.ready = "true";
  }

  window.marginLab = { get state() { return state; }, get last() { return last; }, toYaml: () => toYaml(state.book) };
  start().catch((err) => { $("error-box").textContent = "Lab failed to start: " + problemText(err); });
})();
