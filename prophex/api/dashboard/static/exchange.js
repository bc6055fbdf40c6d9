// Exchange view: markets, insurance fund and solvency, liquidations and resolutions, an account.
// Live through the public WebSocket /v1/stream (snapshot + numbered deltas, gap detection by
// seq, resync from the journal, reconnect); REST reads happen only on load and when an event
// says something changed. There is no polling loop.
"use strict";

(() => {
  const { usd, num, pct, el, api, problemText, chart, debounce } = PX;
  const $ = (id) => document.getElementById(id);
  const markets = {}; // id -> market view
  const lastSeq = {}; // id -> last applied stream seq
  const prices = {}; // id -> [{x, y}]
  let selected = null;
  let ws = null;
  let retry = 0;
  const KEY_STORE = "prophex.exchange.key";

  // ------------------------------------------------------------------ markets

  function renderMarkets() {
    const ids = Object.keys(markets).sort();
    $("markets").querySelector("tbody").replaceChildren(...ids.map((id) => {
      const m = markets[id];
      const pick = el("button", { type: "button", class: "secondary", "aria-label": `Chart ${id}`, "aria-pressed": id === selected ? "true" : "false" }, id);
      pick.addEventListener("click", () => selectMarket(id));
      return el("tr", { "data-market": id },
        el("td", { title: m.question }, pick),
        el("td", {}, el("span", { class: "badge" + (m.status === "open" ? " good" : "") }, m.status + (m.outcome ? ` (${m.outcome})` : ""))),
        el("td", { class: "price-a" }, Number(m.price_a).toFixed(4)),
        el("td", { class: "price-b" }, Number(m.price_b).toFixed(4)),
        el("td", {}, `${usd(m.real_oi_a)} / ${usd(m.virtual_oi)}`),
        el("td", {}, `${usd(m.real_oi_b)} / ${usd(m.virtual_oi)}`),
        el("td", {}, usd(m.caps.market_cap)),
        el("td", {}, usd(m.caps.market_headroom)),
        el("td", {}, usd(m.caps.wallet_cap)),
        el("td", {}, usd(m.volume)));
    }));
    const open = ids.filter((id) => markets[id].status === "open");
    $("kpi-markets").textContent = String(open.length);
    $("kpi-markets-sub").textContent = `${ids.length} markets in all`;
    const oi = ids.reduce((s, id) => s + Number(markets[id].real_oi_a) + Number(markets[id].real_oi_b), 0);
    $("kpi-oi").textContent = usd(oi);
    $("kpi-oi-sub").textContent = "long A + long B, real positions only";
  }
  const renderMarketsSoon = debounce(renderMarkets, 50);

  async function refreshMarket(id) {
    try { markets[id] = await api(`/v1/markets/${encodeURIComponent(id)}`); renderMarketsSoon(); } catch (err) { showError(err); }
  }
  const refreshers = {};
  function refreshMarketSoon(id) {
    if (!refreshers[id]) refreshers[id] = debounce(() => refreshMarket(id), 150);
    refreshers[id]();
  }

  async function loadMarkets() {
    let cursor = null;
    do {
      const page = await api("/v1/markets?limit=500" + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
      for (const m of page.items) markets[m.id] = m;
      cursor = page.next_cursor;
    } while (cursor);
    renderMarkets();
  }

  async function selectMarket(id) {
    selected = id;
    $("price-market").textContent = id;
    renderMarkets();
    if (!prices[id]) {
      const points = [];
      let cursor = null;
      do {
        const page = await api(`/v1/markets/${encodeURIComponent(id)}/prices?limit=500` + (cursor ? `&cursor=${cursor}` : ""));
        for (const p of page.items) points.push({ x: p.txn_seq, y: Number(p.price_a) });
        cursor = page.next_cursor;
      } while (cursor);
      prices[id] = points;
    }
    drawPrices();
  }

  function drawPrices() {
    if (!selected) return;
    const pts = prices[selected] || [];
    chart("chart-price", {
      type: "line",
      data: { datasets: [{ label: `price of A (${selected})`, data: pts, borderColor: "#1f5fbf", pointRadius: 2, stepped: true }] },
      options: {
        parsing: false,
        scales: { x: { type: "linear", title: { display: true, text: "journal transaction #" } },
          y: { min: 0, max: 1, title: { display: true, text: "price of A (probability)" } } },
      },
    });
  }

  // ------------------------------------------------------------------ fund and solvency

  async function loadFund() {
    const [fund, flows] = await Promise.all([api("/v1/insurance-fund"), allFlows()]);
    $("kpi-fund").textContent = usd(fund.balance);
    $("kpi-fund-sub").textContent = `seed ${usd(fund.seed)} · coverage ${Number(fund.coverage_ratio).toFixed(2)}× · caps ×${Number(fund.cap_multiplier).toFixed(2)}`;
    let balance = 0;
    const series = flows.map((f) => {
      balance += (f.direction === "inflow" ? 1 : -1) * Number(f.amount);
      return { x: f.txn_seq, y: balance };
    });
    chart("chart-fund", {
      type: "line",
      data: { datasets: [{ label: "fund balance, USD", data: series, borderColor: "#1b7f3b", pointRadius: 1, stepped: true }] },
      options: { parsing: false, scales: { x: { type: "linear", title: { display: true, text: "journal transaction #" } }, y: { title: { display: true, text: "USD" } } } },
    });
    const inflow = flows.filter((f) => f.direction === "inflow").reduce((s, f) => s + Number(f.amount), 0);
    const draws = flows.filter((f) => f.direction === "draw").reduce((s, f) => s + Number(f.amount), 0);
    $("fund-note").textContent = `${flows.length} postings: inflows ${usd(inflow)}, draws ${usd(draws)}; bad debt so far ${usd(fund.bad_debt_total)}.`;
    $("flows").querySelector("tbody").replaceChildren(...flows.slice().reverse().slice(0, 200).map((f) => el("tr", {},
      el("td", {}, f.txn_seq), el("td", {}, f.kind), el("td", {}, f.market || ""),
      el("td", { class: "pos" }, f.direction === "inflow" ? usd(f.amount) : ""), el("td", { class: "neg" }, f.direction === "draw" ? usd(f.amount) : ""))));
  }
  const loadFundSoon = debounce(() => loadFund().catch(showError), 300);

  async function allFlows() {
    const out = [];
    let cursor = null;
    do {
      const page = await api("/v1/insurance-fund/flows?limit=500" + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
      out.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return out;
  }

  async function loadSolvency() {
    const r = await api("/v1/insurance-fund/solvency");
    const mc = r.monte_carlo;
    $("kpi-depletion").textContent = pct(mc.depletion_probability, 2);
    $("kpi-depletion-sub").textContent = `${num(mc.paths)} paths, seed ${mc.seed} · p99 shortfall ${usd(mc.shortfall_p99)}`;
    const cov = (c) => (c === null ? "∞ (no shortfall)" : `${Number(c).toFixed(2)}×`);
    $("solvency").querySelector("tbody").replaceChildren(...r.markets.map((m) => el("tr", {},
      el("td", {}, m.market), el("td", {}, usd(m.if_a.shortfall)), el("td", {}, cov(m.coverage_if_a)),
      el("td", {}, usd(m.if_b.shortfall)), el("td", {}, cov(m.coverage_if_b)))));
    const caps = r.caps_covering_p99;
    $("solvency-note").textContent = `Fund ${usd(r.insurance_fund)} vs worst case of all open markets ${usd(r.worst_case_total)} (coverage ${r.coverage_worst_total ?? "∞"}). ` +
      `Mean shortfall ${usd(mc.mean_shortfall)}, max ${usd(mc.max_shortfall)}; correlation model: ${mc.correlation}. ` +
      `Caps keeping the p99 shortfall covered: wallet ${caps.wallet_cap === null ? "–" : usd(caps.wallet_cap)}, market OI ${caps.market_oi_cap === null ? "–" : usd(caps.market_oi_cap)}.`;
  }
  const loadSolvencySoon = debounce(() => loadSolvency().catch(showError), 1000);

  // ------------------------------------------------------------------ feed

  function feedItem(kind, d, live) {
    const text = kind === "liquidation"
      ? `Liquidation on ${d.market}: side ${d.side}, notional ${usd(d.notional)}, margin seized ${usd(d.seized_margin)} at mark ${Number(d.mark_price).toFixed(4)}, bad debt ${usd(d.bad_debt)}`
      : `${d.kind === "void" ? "Voided" : "Resolved"} ${d.market}${d.outcome ? ": " + d.outcome + " wins" : ""} · ${d.positions_settled} positions settled, fund draw ${usd(d.fund_draw)}, haircuts ${usd(d.haircut_total)}`;
    return el("li", { "data-kind": kind, "data-market": d.market, "data-txn": d.txn_seq },
      el("span", { class: "badge" + (kind === "liquidation" ? " bad" : "") }, kind), " ", text, live ? el("span", { class: "badge good" }, " live") : "");
  }
  const seenFeed = new Set();
  function addFeed(kind, d, live) {
    const key = `${kind}:${d.txn_seq}`;
    if (seenFeed.has(key)) return;
    seenFeed.add(key);
    $("feed").prepend(feedItem(kind, d, live));
  }

  async function loadFeed() {
    const [liq, res] = await Promise.all([api("/v1/feeds/liquidations?limit=200"), api("/v1/feeds/resolutions?limit=200")]);
    const all = [...liq.items.map((d) => ["liquidation", d]), ...res.items.map((d) => ["resolution", d])];
    all.sort((a, b) => a[1].txn_seq - b[1].txn_seq);
    for (const [kind, d] of all) addFeed(kind, d, false);
  }

  // ------------------------------------------------------------------ account

  async function loadAccount() {
    const key = $("account-key").value.trim();
    if (!key) return;
    try {
      const [acct, pos] = await Promise.all([api("/v1/account", { key }), api("/v1/positions?limit=500", { key })]);
      const pm = acct.margin_mode === "portfolio" ? await api("/v1/account/margin", { key }) : null;
      sessionStorage.setItem(KEY_STORE, key);
      renderPortfolioMargin(pm);
      $("account-summary").textContent = `Account ${acct.account}: wallet ${usd(acct.wallet_balance)}, margin locked ${usd(acct.margin_locked)}, unrealized PnL ${usd(acct.unrealized_pnl)}, equity ${usd(acct.equity)} · ${acct.open_positions} open positions (${acct.margin_mode} margin).`;
      $("account-positions").querySelector("tbody").replaceChildren(...pos.items.map((p) => {
        const mark = Number(p.mark_price);
        // a portfolio position has no margin of its own: the account is liquidated as a whole
        const liq = pm !== null || p.liquidation_price === null ? null : Number(p.liquidation_price);
        const dist = pm !== null ? "account-wide (above)" : liq === null ? "never (unlevered)" : `${(mark - liq).toFixed(4)} (${pct((mark - liq) / mark)})`;
        return el("tr", { "data-position": p.id }, el("td", {}, p.id), el("td", {}, p.market), el("td", {}, p.side),
          el("td", {}, usd(p.notional)), el("td", {}, usd(p.margin)), el("td", {}, p.effective_leverage ? `${Number(p.effective_leverage).toFixed(2)}×` : "–"),
          el("td", {}, p.entry_price ?? "–"), el("td", {}, mark.toFixed(4)), el("td", {}, liq === null ? "–" : liq.toFixed(4)), el("td", {}, dist),
          el("td", { class: Number(p.unrealized_pnl) >= 0 ? "pos" : "neg" }, usd(p.unrealized_pnl)));
      }));
      $("error-box").textContent = "";
    } catch (err) {
      $("account-summary").textContent = "";
      renderPortfolioMargin(null);
      showError(err);
    }
  }

  /** A decimal string of the API shown exactly (every digit it has), thousands grouped. */
  function exactUsd(s) {
    if (s === null || s === undefined) return "–";
    const [whole, frac] = String(s).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const grouped = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return `${sign}${grouped}${frac === undefined ? "" : "." + frac} USD`;
  }

  const BINDING = {
    base: "correlations (base)", top2_floor: "top-2 concentration floor",
    min_margin: "minimum margin", none: "none (empty book)",
  };

  // Portfolio accounts: the requirement breakdown of GET /v1/account/margin (null hides it).
  function renderPortfolioMargin(m) {
    $("account-margin").hidden = m === null;
    if (m === null) return;
    const tile = (figure, label, value, sub, cls) => el("div", { class: "kpi" + (cls ? " " + cls : ""), "data-figure": figure },
      el("div", { class: "label" }, label), el("div", { class: "value" }, value), el("div", { class: "sub" }, sub));
    const addons = Object.entries(m.addons).map(([k, v]) => `${k} ${exactUsd(v)}`).join(" · ") || "no add-ons";
    const distance = Number(m.distance_to_liquidation);
    $("account-margin-figures").replaceChildren(
      tile("locked", "Locked margin", exactUsd(m.locked), `pm_margin lock; requirement at the last order ${exactUsd(m.last_requirement)}`),
      tile("requirement", "Requirement now", exactUsd(m.requirement), `± ${exactUsd(m.requirement_se)} (SE) at current marks, epoch ${m.epoch}`),
      tile("full_collateral", "Full collateral", exactUsd(m.full_collateral), `${m.positions} positions: the most the book can lose`),
      tile("binding", "Binding control", BINDING[m.binding] || m.binding,
        `base ${exactUsd(m.base_joint)} (joint; square root ${exactUsd(m.base_sqrt)}) · top-2 floor ${exactUsd(m.floor_top2)} · minimum ${exactUsd(m.min_margin)} · ${addons}`, "binding-" + m.binding),
      tile("unrealized_loss", "Unrealized loss", exactUsd(m.unrealized_loss), "cost − value at the marks (negative: a gain)"),
      tile("equity", "Equity", exactUsd(m.equity), `wallet ${exactUsd(m.wallet)} + locked − unrealized loss`),
      tile("distance_to_liquidation", "Distance to liquidation", exactUsd(m.distance_to_liquidation), "locked − unrealized loss: liquidated at 0", distance > 0 ? "" : "binding-min_margin"),
    );
    $("account-clusters").querySelector("tbody").replaceChildren(...m.clusters.map((c) => el("tr", { "data-cluster": c.cluster },
      el("td", {}, c.cluster || "(no cluster)"), el("td", {}, exactUsd(c.gross)), el("td", {}, exactUsd(c.es)), el("td", {}, "± " + exactUsd(c.es_se)))));
    $("account-margin-note").textContent = `Expected shortfall per cluster by Monte-Carlo (${num(m.paths)} paths); sum of cluster ES ${exactUsd(m.sum_es)}. ` +
      "Requirement = max(base, top-2 floor, minimum margin) + add-ons, capped at full collateral, rounded up to the micro-dollar. " +
      "Portfolio positions carry no margin of their own: the account is liquidated as a whole when its unrealized loss reaches the lock.";
  }
  const loadAccountSoon = debounce(loadAccount, 300);

  // ------------------------------------------------------------------ stream

  function send(msg) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); }

  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/v1/stream`);
    ws.onopen = () => {
      retry = 0;
      setStatus("live");
      const fresh = [];
      for (const id of Object.keys(markets)) {
        if (lastSeq[id]) send({ op: "resync", market: id, from_seq: lastSeq[id] + 1 }); // after a drop
        else fresh.push(id);
      }
      if (fresh.length) send({ op: "subscribe", markets: fresh });
    };
    ws.onmessage = (e) => onMessage(JSON.parse(e.data));
    ws.onclose = () => {
      setStatus("disconnected, reconnecting");
      const wait = Math.min(10000, 500 * 2 ** retry++);
      setTimeout(connect, wait);
    };
  }

  function setStatus(text) {
    $("stream-status").textContent = "stream: " + text;
    document.body.dataset.stream = text;
  }

  function onMessage(msg) {
    const id = msg.market;
    switch (msg.type) {
      case "snapshot":
        markets[id] = msg.data;
        lastSeq[id] = msg.seq;
        renderMarketsSoon();
        return;
      case "heartbeat":
        for (const [m, seq] of Object.entries(msg.seqs)) {
          if (seq > (lastSeq[m] || 0)) resync(m); // we missed the tail
        }
        return;
      case "resynced":
        delete resyncing[id];
        setStatus("live");
        return;
      case "pong":
        return;
      case "error":
        showError(new Error(`${msg.code}: ${msg.detail}`));
        return;
      default:
        if (typeof msg.seq !== "number") return;
    }
    const prev = lastSeq[id] || 0;
    if (msg.seq <= prev) return; // already applied
    if (msg.seq > prev + 1) { resync(id); return; } // gap: replay from the journal
    lastSeq[id] = msg.seq;
    apply(msg);
  }

  const resyncing = {};
  let resyncs = 0;
  function resync(id) {
    if (resyncing[id] === lastSeq[id]) return; // already asked from this point
    resyncing[id] = lastSeq[id];
    resyncs += 1;
    setStatus(`gap on ${id}, resyncing`);
    send({ op: "resync", market: id, from_seq: (lastSeq[id] || 0) + 1 });
  }

  function apply(msg) {
    const id = msg.market;
    const d = msg.data;
    const m = markets[id];
    if (m && d.price_a) { m.price_a = d.price_a; m.price_b = d.price_b; renderMarketsSoon(); }
    if (d.price_a && prices[id]) { prices[id].push({ x: d.txn_seq, y: Number(d.price_a) }); if (id === selected) drawPrices(); }
    if (msg.type === "liquidation") addFeed("liquidation", d, true);
    if (msg.type === "resolution") addFeed("resolution", d, true);
    refreshMarketSoon(id); // OI, caps, volume, status
    if (msg.type !== "trade" || Number(d.fee) > 0) loadFundSoon();
    if (msg.type !== "status") loadSolvencySoon();
    if ($("account-key").value) loadAccountSoon();
  }

  function showError(err) { $("error-box").textContent = problemText(err); }

  async function start() {
    $("account-form").addEventListener("submit", (e) => { e.preventDefault(); loadAccount(); });
    $("rerun-solvency").addEventListener("click", () => loadSolvency().catch(showError));
    await loadMarkets();
    connect();
    await Promise.all([loadFund(), loadFeed(), loadSolvency()]);
    const open = Object.keys(markets).sort().find((id) => markets[id].status === "open") || Object.keys(markets).sort()[0];
    if (open) await selectMarket(open);
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) { $("account-key").value = key; await loadAccount(); }
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.ready = "true";
  }

  // For the browser tests: the state, and a way to feed a message as if the server sent it.
  window.exchangeView = { markets, lastSeq, inject: onMessage, get resyncs() { return resyncs; } };
  start().catch(showError);
})();
