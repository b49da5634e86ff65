/*
 * Tollgate usage dashboard: reads /api/v1/usage/* with the key the user typed (kept in
 * sessionStorage) and draws it with Chart.js (window.Chart, served by the gateway). Plain browser
 * JavaScript, no build step, no outside requests.
 *
 * body[data-state]: starting | login | loading | ready | unavailable | error
 */
(function () {
  "use strict";

  var STORAGE_KEY = "tollgate.dashboard.key";
  var API = "/api/v1/usage/";
  var RANGES = [1, 7, 30, 90];
  var PALETTE = ["#2f6fed", "#f08c2e", "#22a36b", "#c8372d", "#8754d6", "#1fa2b8", "#d6458f", "#7a8599", "#b8a21f", "#4c5fd5"];

  var state = {
    days: 7,
    tenant: "", // the admin's narrowing ("" = all tenants)
    knownTenants: [],
    seq: 0,
    retry: 0,
    charts: {},
  };

  var $ = function (id) { return document.getElementById(id); };

  // ---- key storage -------------------------------------------------------------------------

  function storedKey() {
    try { return sessionStorage.getItem(STORAGE_KEY) || ""; } catch (_) { return ""; }
  }
  function storeKey(key) {
    try {
      if (key) sessionStorage.setItem(STORAGE_KEY, key);
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch (_) { /* storage off: the key lives until the page closes */ }
  }

  // ---- API ---------------------------------------------------------------------------------

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }

  function api(path, params) {
    var url = new URL(API + path, location.origin);
    Object.keys(params).forEach(function (k) { url.searchParams.set(k, String(params[k])); });
    var headers = { accept: "application/json" };
    var key = storedKey();
    if (key) headers.authorization = "Bearer " + key;
    return fetch(url, { headers: headers, cache: "no-store", credentials: "omit" }).then(
      function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          if (res.ok && body) return body;
          var e = (body && body.error) || {};
          throw new ApiError(res.status, e.code || "http_" + res.status, e.message || res.statusText || "HTTP " + res.status);
        });
      },
      function (err) {
        throw new ApiError(0, "network_error", "Could not reach the gateway: " + (err && err.message ? err.message : err));
      },
    );
  }

  // ---- who is signed in (named admins: name, role, tenant; see GET /api/v1/admin/whoami) --------

  function showIdentity() {
    var key = storedKey();
    var el = $("identity");
    if (state.identityKey === key) return;
    state.identityKey = key;
    el.hidden = true;
    delete document.body.dataset.role;
    if (!key) return;
    if (key.indexOf("tg-") === 0) {
      el.textContent = "virtual key";
      el.hidden = false;
      return;
    }
    var headers = { accept: "application/json", authorization: "Bearer " + key };
    fetch(new URL("/api/v1/admin/whoami", location.origin), { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (me) {
        if (!me || state.identityKey !== key) return;
        // The page shows usage only: what every role that may sign in here is allowed to read.
        el.textContent = me.name + " · " + me.role + (me.tenant ? " (" + me.tenant + ")" : "");
        el.title = me.permissions.map(function (p) { return p.permission; }).join(", ");
        document.body.dataset.role = me.role;
        el.hidden = false;
      }, function () {});
  }

  // ---- formatting --------------------------------------------------------------------------

  var nf = new Intl.NumberFormat(undefined);
  var compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  var pctFmt = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });

  function usd(v) {
    // Costs are exact to the nano-dollar: small ones keep their digits ($0.0000135), not $0.00.
    var digits = v !== 0 && Math.abs(v) < 0.01 ? 9 : Math.abs(v) < 10 ? 4 : 2;
    return new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: digits }).format(v);
  }
  function int(v) { return nf.format(v); }
  function tokens(v) { return v >= 1e6 ? compact.format(v) : nf.format(v); }
  function pct(v) { return pctFmt.format(v); }
  function ms(v) { return v >= 10000 ? (v / 1000).toFixed(1) + " s" : nf.format(Math.round(v)) + " ms"; }

  var dayLabel = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", month: "short", day: "numeric" });
  var hourLabel = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  function bucketLabel(iso, interval) {
    var d = new Date(iso);
    return interval === "hour" ? hourLabel.format(d) : dayLabel.format(d);
  }
  function groupName(v) { return v === "" || v === null || v === undefined ? "(none)" : String(v); }

  // ---- page states -------------------------------------------------------------------------

  function setState(s) { document.body.dataset.state = s; }

  function showChrome(on) {
    ["range", "refresh", "signout", "scope"].forEach(function (id) { $(id).hidden = !on; });
  }

  function showLogin(message) {
    state.seq++; // drop answers still on their way
    clearTimeout(state.retry);
    destroyCharts();
    $("content").hidden = true;
    $("notice").hidden = true;
    showChrome(false);
    $("identity").hidden = true;
    state.identityKey = undefined;
    $("login").hidden = false;
    var err = $("login-error");
    err.textContent = message || "";
    err.hidden = !message;
    setState("login");
    $("key").value = "";
    $("key").focus();
  }

  function showNotice(title, message, kind) {
    var n = $("notice");
    n.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = title;
    n.appendChild(strong);
    n.appendChild(document.createTextNode(message));
    n.dataset.kind = kind;
    n.hidden = false;
  }

  // ---- loading -----------------------------------------------------------------------------

  function load() {
    var seq = ++state.seq;
    clearTimeout(state.retry);
    $("login").hidden = true;
    setState("loading");
    var p = { days: state.days };
    if (state.tenant) p.tenant = state.tenant;
    var grouped = function (name) { return api(name, Object.assign({ limit: 10 }, p)); };
    // The summary first: a refused key or an analytics outage answers once, not six times.
    return api("summary", p).then(function (summary) {
      if (seq !== state.seq) return null;
      // The provider SLA panel: its own failure shows in the panel, never blanks the page.
      var sla = api("providers/sla", Object.assign({ interval: "day" }, p)).catch(function (e) { return { error: e }; });
      return Promise.all([summary, api("timeseries", p), grouped("by-customer"), grouped("by-provider"), grouped("by-model"), grouped("by-service"), grouped("by-tenant"), sla]);
    }).then(
      function (r) {
        if (!r || seq !== state.seq) return;
        render({ summary: r[0], series: r[1], customers: r[2], providers: r[3], models: r[4], services: r[5], tenants: r[6] });
        showIdentity();
        renderSla(r[7]);
        setState("ready");
      },
      function (err) {
        if (seq !== state.seq) return;
        failed(err, seq);
      },
    );
  }

  function failed(err, seq) {
    if (!(err instanceof ApiError)) err = new ApiError(0, "page_error", String(err && err.message ? err.message : err));
    if (err.code === "tenant_forbidden" && state.tenant) {
      // A virtual key opened a link narrowed to another tenant: show its own instead.
      state.tenant = "";
      writeHash();
      load();
      return;
    }
    if (err.status === 401 || (err.status === 403 && err.code !== "tenant_forbidden")) {
      var hadKey = storedKey() !== "";
      storeKey("");
      // Nothing typed yet: just ask. A key that was refused: say why.
      showLogin(hadKey || err.code !== "missing_admin_key" ? err.message + " (" + err.code + ")" : "");
      return;
    }
    showChrome(true);
    $("content").hidden = true;
    if (err.status === 503 && err.code === "analytics_disabled") {
      showNotice("Analytics is off on this gateway.", " " + err.message + ". Start the gateway with TOLLGATE_ANALYTICS=on (embedded chDB) or set CLICKHOUSE_URL to see usage here.", err.code);
      setState("unavailable");
    } else if (err.status === 503) {
      showNotice("The analytics store is not ready yet.", " " + err.message + ". Retrying in a few seconds…", err.code);
      setState("unavailable");
      state.retry = setTimeout(function () { if (seq === state.seq) load(); }, 5000);
    } else {
      showNotice("Could not load usage.", " " + err.message + " (" + err.code + ")", err.code);
      setState("error");
    }
  }

  // ---- rendering ---------------------------------------------------------------------------

  function render(d) {
    var s = d.summary.data;
    $("notice").hidden = true;
    $("content").hidden = false;
    // The range the numbers are for (the API's own from/to), for whoever reads the page.
    $("content").dataset.from = d.summary.from;
    $("content").dataset.to = d.summary.to;
    showChrome(true);
    renderScope(d.summary.tenant, d.tenants.data);
    if (s.requests === 0) showNotice("No requests in this range.", " Pick a longer range, or send some traffic through the gateway.", "empty");

    card("requests", s.requests, int(s.requests), s.requests ? pct(1 - s.error_rate) + " succeeded" : "");
    card("cost_usd", s.cost_usd, usd(s.cost_usd), s.requests ? usd(s.cost_usd / s.requests) + " per request" : "");
    card("tokens", s.input_tokens + s.output_tokens, tokens(s.input_tokens + s.output_tokens), "in " + tokens(s.input_tokens) + " · out " + tokens(s.output_tokens) + " · cached " + tokens(s.cached_tokens));
    card("cache_hit_rate", s.cache_hit_rate, pct(s.cache_hit_rate), "of requests answered from cache · saved " + usd(s.saved_usd || 0));
    card("error_rate", s.error_rate, pct(s.error_rate), s.requests ? int(Math.round(s.error_rate * s.requests)) + " failed" : "");
    card("p95_ms", s.p95_ms, ms(s.p95_ms), "p50 " + ms(s.p50_ms) + " · p99 " + ms(s.p99_ms));

    var interval = d.series.interval;
    var pts = d.series.data;
    var labels = pts.map(function (p) { return bucketLabel(p.bucket, interval); });
    // Rates and latencies of an empty bucket are gaps, not zeros.
    var when = function (p, v) { return p.requests > 0 ? v : null; };

    chart("cost-requests", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          { type: "line", label: "Cost (USD)", yAxisID: "cost", data: pts.map(function (p) { return p.cost_usd; }), borderColor: PALETTE[1], backgroundColor: PALETTE[1], cubicInterpolationMode: "monotone", pointRadius: 2, order: 0 },
          { type: "bar", label: "Requests", yAxisID: "requests", data: pts.map(function (p) { return p.requests; }), backgroundColor: "rgba(47,111,237,.35)", borderColor: PALETTE[0], borderWidth: 1, order: 1 },
        ],
      },
      options: {
        scales: {
          cost: { position: "left", beginAtZero: true, title: { display: true, text: "USD" }, ticks: { callback: function (v) { return usd(v); } } },
          requests: { position: "right", beginAtZero: true, title: { display: true, text: "requests" }, grid: { drawOnChartArea: false }, ticks: { precision: 0 } },
        },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.yAxisID === "cost" ? "Cost: " + usd(c.parsed.y) : "Requests: " + int(c.parsed.y); } } } },
      },
    });

    topChart("customers", "user_id", d.customers.data, PALETTE[0]);
    topChart("tenants", "tenant", d.tenants.data, PALETTE[2]);

    share("providers", "provider", d.providers.data);
    var models = costOrRequests(d.models.data);
    chart("models", {
      type: "bar",
      data: { labels: d.models.data.map(function (r) { return groupName(r.model); }), datasets: [{ label: models.label, data: d.models.data.map(models.value), backgroundColor: d.models.data.map(function (_, i) { return PALETTE[i % PALETTE.length]; }) }] },
      options: { indexAxis: "y", plugins: { legend: { display: false }, tooltip: { callbacks: { label: models.tooltip } } }, scales: { x: { beginAtZero: true, ticks: { callback: models.tick } } } },
    });
    share("services", "service", d.services.data);

    chart("latency", {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          { label: "p50", data: pts.map(function (p) { return when(p, p.p50_ms); }), borderColor: PALETTE[2], backgroundColor: PALETTE[2] },
          { label: "p95", data: pts.map(function (p) { return when(p, p.p95_ms); }), borderColor: PALETTE[1], backgroundColor: PALETTE[1] },
          { label: "p99", data: pts.map(function (p) { return when(p, p.p99_ms); }), borderColor: PALETTE[3], backgroundColor: PALETTE[3] },
        ],
      },
      options: { spanGaps: true, elements: { line: { cubicInterpolationMode: "monotone" } }, scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } }, plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + ms(c.parsed.y); } } } } },
    });

    chart("cache", rateChart(labels, "Cache hit rate", pts.map(function (p) { return when(p, p.cache_hit_rate * 100); }), PALETTE[2]));
    chart("errors", rateChart(labels, "Error rate", pts.map(function (p) { return when(p, p.error_rate * 100); }), PALETTE[3]));

    renderTable("customers-table", "user_id", d.customers.data, "No end customer (user_id) in this range");
    renderTable("tenants-table", "tenant", d.tenants.data, "No requests in this range");
    $("footer").textContent =
      "Range " + d.summary.from.replace(".000Z", "Z") + " → " + d.summary.to.replace(/\.\d+Z$/, "Z") + " (UTC, " + interval + "ly buckets) · " +
      (d.summary.tenant === null ? "all tenants" : "tenant " + d.summary.tenant) + " · updated " + new Date().toLocaleTimeString() + " · data from " + API + "*";
  }

  function card(metric, value, text, sub) {
    var el = document.querySelector('.card[data-metric="' + metric + '"]');
    el.dataset.value = String(value);
    el.querySelector(".v").textContent = text;
    el.querySelector(".sub").textContent = sub;
  }

  /** Cost when there is any, else requests (a gateway with no prices set still shows shares). */
  function costOrRequests(rows) {
    var anyCost = rows.some(function (r) { return r.cost_usd > 0; });
    return anyCost
      ? { label: "Cost (USD)", value: function (r) { return r.cost_usd; }, tick: function (v) { return usd(v); }, tooltip: function (c) { return "Cost: " + usd(parsedValue(c)); } }
      : { label: "Requests (no cost recorded)", value: function (r) { return r.requests; }, tick: function (v) { return int(v); }, tooltip: function (c) { return "Requests: " + int(parsedValue(c)); } };
  }

  /** A tooltip item's value: a number on a doughnut, {x, y} on a horizontal bar. */
  function parsedValue(c) { return typeof c.parsed === "number" ? c.parsed : c.parsed.x; }

  function share(name, field, rows) {
    var m = costOrRequests(rows);
    chart(name, {
      type: "doughnut",
      data: { labels: rows.map(function (r) { return groupName(r[field]); }), datasets: [{ label: m.label, data: rows.map(m.value), backgroundColor: rows.map(function (_, i) { return PALETTE[i % PALETTE.length]; }), borderWidth: 1 }] },
      options: { cutout: "55%", plugins: { legend: { position: "right" }, tooltip: { callbacks: { label: function (c) { return c.label + ": " + m.tick(c.parsed); } } } } },
    });
  }

  function rateChart(labels, label, data, color) {
    return {
      type: "line",
      data: { labels: labels, datasets: [{ label: label, data: data, borderColor: color, backgroundColor: color + "33", fill: true, cubicInterpolationMode: "monotone", pointRadius: 2 }] },
      options: {
        spanGaps: true,
        scales: { y: { beginAtZero: true, suggestedMax: 10, ticks: { callback: function (v) { return v + "%"; } } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) { return label + ": " + c.parsed.y.toFixed(1) + "%"; } } } },
      },
    };
  }

  function chart(name, config) {
    var canvas = document.querySelector('canvas[data-chart="' + name + '"]');
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false }, config.options);
    var existing = state.charts[name];
    if (existing && existing.config.type === config.type) {
      existing.data = config.data;
      existing.options = config.options;
      existing.update();
      return existing;
    }
    if (existing) existing.destroy();
    state.charts[name] = new window.Chart(canvas, config);
    return state.charts[name];
  }

  function destroyCharts() {
    Object.keys(state.charts).forEach(function (k) { state.charts[k].destroy(); });
    state.charts = {};
  }

  /** A horizontal bar chart of the most expensive groups (end customers, tenants). */
  function topChart(name, field, rows, color) {
    var byCost = costOrRequests(rows);
    chart(name, {
      type: "bar",
      data: { labels: rows.map(function (r) { return groupName(r[field]); }), datasets: [{ label: byCost.label, data: rows.map(byCost.value), backgroundColor: color }] },
      options: { indexAxis: "y", plugins: { legend: { display: false }, tooltip: { callbacks: { label: byCost.tooltip } } }, scales: { x: { beginAtZero: true, ticks: { callback: byCost.tick } } } },
    });
  }

  function renderTable(id, field, rows, empty) {
    var body = $(id).querySelector("tbody");
    body.textContent = "";
    if (rows.length === 0) {
      var tr = body.insertRow();
      var td = tr.insertCell();
      td.colSpan = 9;
      td.className = "empty";
      td.textContent = empty;
      return;
    }
    rows.forEach(function (r) {
      var tr = body.insertRow();
      tr.dataset.key = r[field];
      [groupName(r[field]), int(r.requests), int(r.input_tokens), int(r.output_tokens), usd(r.cost_usd), pct(r.cache_hit_rate), usd(r.saved_usd || 0), pct(r.error_rate), ms(r.p95_ms)].forEach(function (v) {
        tr.insertCell().textContent = v;
      });
    });
  }

  /** Provider SLA per day, newest first (GET /api/v1/usage/providers/sla). */
  function renderSla(r) {
    var body = $("sla-table").querySelector("tbody");
    body.textContent = "";
    var rows = r && r.data ? r.data.slice().reverse().slice(0, 30) : [];
    if (rows.length === 0) {
      var td = body.insertRow().insertCell();
      td.colSpan = 9;
      td.className = "empty";
      td.textContent = r && r.error ? "Provider SLA unavailable: " + r.error.message : "No provider attempts in this range";
      return;
    }
    rows.forEach(function (x) {
      var tr = body.insertRow();
      tr.dataset.key = x.bucket + " " + x.provider + "/" + x.model;
      var errors = x.errors.slice(0, 3).map(function (e) { return e.code + " ×" + int(e.count); }).join(", ") || "–";
      var opt = function (v, f) { return v === null || v === undefined ? "–" : f(v); };
      [x.bucket.slice(0, 10), x.provider + "/" + x.model, int(x.attempts), opt(x.availability_excluding_client_errors, pct), opt(x.latency_ms.p95, ms), opt(x.latency_ms.p99, ms), opt(x.ttft_ms.p95, ms), errors, int(x.fallbacks_caused)].forEach(function (v) {
        tr.insertCell().textContent = v;
      });
    });
  }

  function renderScope(tenant, customers) {
    var badge = $("tenant");
    var select = $("tenant-select");
    badge.dataset.tenant = tenant === null ? "" : tenant;
    badge.textContent = tenant === null ? "all tenants" : tenant;
    // A virtual key's view is fixed to its tenant; the admin may narrow to one.
    var scopedKey = tenant !== null && !state.tenant;
    if (scopedKey) {
      select.hidden = true;
      badge.hidden = false;
      return;
    }
    if (tenant === null) customers.forEach(function (r) { if (r.tenant && state.knownTenants.indexOf(r.tenant) < 0) state.knownTenants.push(r.tenant); });
    if (state.tenant && state.knownTenants.indexOf(state.tenant) < 0) state.knownTenants.push(state.tenant);
    state.knownTenants.sort();
    select.textContent = "";
    select.appendChild(new Option("All tenants", ""));
    state.knownTenants.forEach(function (t) { select.appendChild(new Option(t, t)); });
    select.value = state.tenant;
    select.hidden = false;
    badge.hidden = true;
  }

  // ---- controls ----------------------------------------------------------------------------

  function readHash() {
    var h = new URLSearchParams(location.hash.slice(1));
    var days = Number(h.get("days"));
    if (RANGES.indexOf(days) >= 0) state.days = days;
    state.tenant = h.get("tenant") || "";
  }
  function writeHash() {
    var h = new URLSearchParams();
    h.set("days", String(state.days));
    if (state.tenant) h.set("tenant", state.tenant);
    history.replaceState(null, "", "#" + h.toString());
  }
  function markRange() {
    document.querySelectorAll("#range button").forEach(function (b) { b.setAttribute("aria-pressed", String(Number(b.dataset.days) === state.days)); });
  }

  function start() {
    if (!window.Chart) {
      showNotice("The chart library did not load.", " Reload the page; if it persists, check the gateway's log.", "page_error");
      setState("error");
      return;
    }
    var C = window.Chart;
    C.defaults.animation = false;
    C.defaults.font.family = getComputedStyle(document.body).fontFamily;
    C.defaults.color = "#4a5570";
    C.defaults.plugins.legend.labels.boxWidth = 12;

    readHash();
    markRange();

    document.querySelectorAll("#range button").forEach(function (b) {
      b.addEventListener("click", function () {
        state.days = Number(b.dataset.days);
        markRange();
        writeHash();
        load();
      });
    });
    $("tenant-select").addEventListener("change", function (e) {
      state.tenant = e.target.value;
      writeHash();
      load();
    });
    $("refresh").addEventListener("click", function () { load(); });
    $("signout").addEventListener("click", function () {
      storeKey("");
      showIdentity();
      state.tenant = "";
      state.knownTenants = [];
      writeHash();
      showLogin("");
    });
    $("login-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var key = $("key").value.trim();
      if (!key) return;
      storeKey(key);
      $("key").value = "";
      load();
    });

    // With no key stored, try without one: the usage API answers 401 (it always needs a key,
    // issue 22) and the form shows.
    load();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
