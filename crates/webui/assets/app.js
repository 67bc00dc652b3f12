// Sentinella console. Plain JavaScript, no build step.
//
// Security rule for this file: everything shown comes from logs that attackers wrote.
// The DOM is built with createElement and text nodes only (see `h`); links to outside
// pages go through `safeUrl` (http/https only). The server's CSP forbids inline script.
"use strict";

(function () {
  const I18N = window.SENTINELLA_I18N;
  const LANGS = ["en", "it"];
  const LEVELS = ["critical", "high", "medium", "low", "informational"];
  const STATUSES = ["new", "acknowledged", "closed_true_positive", "closed_false_positive"];
  const QUICK_RANGES = { "15m": 900, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
  const DEFAULT_COLUMNS = ["@timestamp", "host.name", "user.name", "event.action", "message"];

  const state = {
    user: null,
    csrf: null,
    lang: initialLanguage(),
    search: { q: "", range: "24h", from: "", to: "", hits: [], total: 0, took: 0, histogram: null, interval: 0, selected: null, error: null, ran: false },
    alerts: { status: "open", level: "", rule: "", host: "", user: "", range: "7d", hits: [], total: 0, selected: new Set(), detail: null, error: null },
  };

  // ---------- helpers ----------

  function initialLanguage() {
    const stored = localStorage.getItem("sentinella.lang");
    if (LANGS.includes(stored)) return stored;
    const browser = (navigator.language || "en").slice(0, 2).toLowerCase();
    return LANGS.includes(browser) ? browser : "en";
  }

  function t(key, vars) {
    let text = (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;
    if (vars) {
      for (const [name, value] of Object.entries(vars)) text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function locale() {
    return state.lang === "it" ? "it-IT" : "en-GB";
  }

  function fmtNumber(n) {
    return new Intl.NumberFormat(locale()).format(n);
  }

  function fmtBytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(n) + " " + units[i];
  }

  // Seconds as the largest whole unit, localized ("15 minutes", "2 ore", "90 days").
  function fmtDuration(secs) {
    const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    const [unit, size] = units.find(([, size]) => secs >= size && secs % size === 0) || ["hour", 3600];
    return new Intl.NumberFormat(locale(), { style: "unit", unit, unitDisplay: "long", maximumFractionDigits: 1 }).format(secs / size);
  }

  function fmtTime(value) {
    if (value === undefined || value === null || value === "") return t("common.none");
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (isNaN(date.getTime())) return String(value);
    return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "medium" }).format(date);
  }

  // The only way this file creates elements. Strings become text nodes; attributes are set
  // with setAttribute (never `href` from data: use safeUrl first).
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "value") el.value = value;
      else if (key === "checked") el.checked = Boolean(value);
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function safeUrl(text) {
    try {
      const url = new URL(String(text));
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function display(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function get(object, path) {
    if (!object) return undefined;
    if (Object.prototype.hasOwnProperty.call(object, path)) return object[path];
    let current = object;
    for (const part of path.split(".")) {
      if (current === null || typeof current !== "object" || !(part in current)) return undefined;
      current = current[part];
    }
    return current;
  }

  function flatten(object, prefix, out) {
    out = out || [];
    if (object === null || typeof object !== "object" || Array.isArray(object)) {
      out.push([prefix, object]);
      return out;
    }
    for (const key of Object.keys(object).sort()) {
      flatten(object[key], prefix ? prefix + "." + key : key, out);
    }
    return out;
  }

  function quote(value) {
    return '"' + String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }

  function role() {
    return state.user ? state.user.role : "viewer";
  }

  function canChange() {
    return role() === "analyst" || role() === "admin";
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code || String(status));
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (body instanceof Blob) {
      // A file sent as it is (a reported message for POST /api/v1/phish).
      options.headers["Content-Type"] = "message/rfc822";
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET" && state.csrf) options.headers["X-CSRF-Token"] = state.csrf;
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = (data && data.error) || {};
      if (response.status === 401 && path !== "/api/v1/session") {
        state.user = null;
        state.csrf = null;
        navigate("/ui/signin");
      }
      throw new ApiError(response.status, error.code, error.message);
    }
    return data;
  }

  function rangeBounds(range, from, to) {
    if (range === "custom") {
      return {
        from: from ? new Date(from).toISOString() : undefined,
        to: to ? new Date(to).toISOString() : undefined,
      };
    }
    const span = QUICK_RANGES[range];
    if (!span) return {};
    return { from: new Date(Date.now() - span * 1000).toISOString() };
  }

  function histogramInterval(bounds) {
    const oldest = state.oldest ? Date.parse(state.oldest + "T00:00:00Z") : NaN;
    const start = bounds.from ? Date.parse(bounds.from) : isNaN(oldest) ? Date.now() - 30 * 86400 * 1000 : oldest;
    const end = bounds.to ? Date.parse(bounds.to) : Date.now();
    const span = Math.max(60, (end - start) / 1000);
    const nice = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400];
    return nice.find((s) => span / s <= 80) || 30 * 86400;
  }

  function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = h("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function csvCell(value) {
    let text = display(value);
    // Spreadsheet formula injection: a cell starting with = + - @ runs as a formula.
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return '"' + text.replace(/"/g, '""') + '"';
  }

  // ---------- routing ----------

  const app = () => document.getElementById("app");

  function navigate(path) {
    if (location.pathname + location.search !== path) history.pushState({}, "", path);
    render();
  }

  function searchUrl() {
    return "/ui/search?" + new URLSearchParams({ q: state.search.q, range: state.search.range }).toString();
  }

  window.addEventListener("popstate", render);

  function link(path, label, extra) {
    return h("a", Object.assign({ href: path, onclick: (e) => { e.preventDefault(); navigate(path); } }, extra || {}), label);
  }

  function render() {
    document.documentElement.lang = state.lang;
    const root = app();
    root.replaceChildren();
    if (!state.user) {
      root.append(signInPage());
      return;
    }
    if (state.user.must_change_password) {
      root.append(passwordPage());
      return;
    }
    const path = location.pathname.replace(/\/+$/, "");
    const pages = {
      "/ui/dashboard": dashboardPage,
      "/ui/search": searchPage,
      "/ui/alerts": alertsPage,
      "/ui/tokens": tokensPage,
      "/ui/rules": rulesPage,
      "/ui/users": usersPage,
      "/ui/audit": auditPage,
      "/ui/phishing": phishingPage,
    };
    const page = pages[path] || dashboardPage;
    const main = h("main", { class: "main" });
    root.append(header(path), main);
    page(main);
  }

  function header(path) {
    const items = [["/ui/dashboard", "nav.dashboard"], ["/ui/search", "nav.search"], ["/ui/alerts", "nav.alerts"], ["/ui/rules", "nav.rules"], ["/ui/phishing", "nav.phishing"], ["/ui/tokens", "nav.tokens"]];
    if (role() === "admin") items.push(["/ui/users", "nav.users"], ["/ui/audit", "nav.audit"]);
    const current = path === "" || path === "/ui" ? "/ui/dashboard" : path;
    return h("header", { class: "topbar" },
      h("div", { class: "brand" }, h("img", { src: "/ui/logo.svg", alt: "", width: 22, height: 22 }), h("span", { class: "brand-name" }, "Sentinella")),
      h("nav", { class: "nav" }, items.map(([href, key]) => link(href, t(key), { class: href === current ? "active" : "", "data-nav": href.slice(4) }))),
      h("div", { class: "who" },
        languageSelect(),
        h("span", { class: "user", "data-testid": "whoami" }, state.user.name, h("span", { class: "role role-" + role() }, t("role." + role()))),
        h("button", { class: "btn ghost", "data-testid": "signout", onclick: signOut }, t("nav.signout"))));
  }

  function languageSelect() {
    const select = h("select", { class: "lang", "aria-label": t("nav.language"), "data-testid": "language", onchange: (e) => setLanguage(e.target.value) },
      LANGS.map((lang) => h("option", { value: lang, selected: lang === state.lang }, lang === "it" ? "Italiano" : "English")));
    return select;
  }

  async function setLanguage(lang) {
    state.lang = lang;
    localStorage.setItem("sentinella.lang", lang);
    if (state.user) {
      try { await api("PUT", "/api/v1/session/language", { language: lang }); } catch (_) { /* kept locally */ }
    }
    render();
  }

  // ---------- sign-in ----------

  function signInPage() {
    const error = h("div", { class: "form-error", role: "alert", "data-testid": "signin-error" });
    const user = h("input", { name: "user", autocomplete: "username", required: true, autofocus: true });
    const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const sso = h("div", { class: "signin-sso" });
    const form = h("form", { class: "signin-card", "data-testid": "signin-form", onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const answer = await api("POST", "/api/v1/session", { user: user.value, password: password.value });
        acceptSession(answer);
        navigate(location.pathname.startsWith("/ui/") && location.pathname !== "/ui/signin" ? location.pathname : "/ui/dashboard");
      } catch (err) {
        error.textContent = err.code === "locked" ? t("signin.locked") : err.code === "disabled" ? t("signin.disabled") : err.code === "sign_in_failed" ? t("signin.failed") : t("common.error", { message: err.message });
      }
    } },
      h("div", { class: "signin-brand" }, h("img", { src: "/ui/logo.svg", alt: "", width: 40, height: 40 }),
        h("div", null, h("div", { class: "brand-name big" }, "Sentinella"), h("div", { class: "muted" }, t("app.tagline")))),
      h("h1", null, t("signin.title")),
      h("label", null, t("signin.user"), user),
      h("label", null, t("signin.password"), password),
      error,
      h("button", { class: "btn primary wide", type: "submit" }, t("signin.submit")),
      sso,
      h("div", { class: "signin-footer" }, h("span", { class: "muted" }, t("signin.footer")), languageSelect()));
    // OpenID Connect: a button when configured, and the reason when the provider's round trip failed.
    const ssoError = new URLSearchParams(location.search).get("sso_error");
    if (ssoError) error.textContent = t("signin.sso_error." + ssoError) !== "signin.sso_error." + ssoError ? t("signin.sso_error." + ssoError) : t("signin.sso_error.other");
    api("GET", "/api/v1/session/oidc").then((answer) => {
      if (!answer || !answer.enabled) return;
      sso.append(h("div", { class: "signin-or muted" }, t("signin.or")),
        h("a", { class: "btn wide", href: "/api/v1/session/oidc/start", "data-testid": "signin-sso" }, t("signin.sso", { name: answer.name })));
    }).catch(() => {});
    return h("div", { class: "signin-page" }, form);
  }

  function acceptSession(answer) {
    state.user = answer.user;
    state.csrf = answer.csrf;
    if (answer.user && LANGS.includes(answer.user.language)) {
      state.lang = answer.user.language;
      localStorage.setItem("sentinella.lang", state.lang);
    }
  }

  async function signOut() {
    let answer = null;
    try { answer = await api("DELETE", "/api/v1/session"); } catch (_) { /* the session may be gone already */ }
    state.user = null;
    state.csrf = null;
    // A session from the OpenID Provider: sign out there too; it sends the browser
    // back to the sign-in page.
    const logout = answer && answer.logout_url;
    if (typeof logout === "string" && /^https?:\/\//i.test(logout)) { location.assign(logout); return; }
    navigate("/ui/signin");
  }

  function passwordPage() {
    const error = h("div", { class: "form-error", role: "alert" });
    const current = h("input", { type: "password", name: "current", autocomplete: "current-password", required: true });
    const fresh = h("input", { type: "password", name: "new", autocomplete: "new-password", required: true, minlength: 12 });
    const repeat = h("input", { type: "password", name: "repeat", autocomplete: "new-password", required: true, minlength: 12 });
    const form = h("form", { class: "signin-card", onsubmit: async (e) => {
      e.preventDefault();
      if (fresh.value !== repeat.value) { error.textContent = t("password.mismatch"); return; }
      try {
        await api("POST", "/api/v1/session/password", { current: current.value, new: fresh.value });
        state.user = null;
        state.csrf = null;
        render();
        const note = document.querySelector("[data-testid=signin-error]");
        if (note) note.textContent = t("password.done");
      } catch (err) {
        error.textContent = t("common.error", { message: err.message });
      }
    } },
      h("h1", null, t("password.title")),
      h("p", { class: "muted" }, t("password.help")),
      h("label", null, t("password.current"), current),
      h("label", null, t("password.new"), fresh),
      h("label", null, t("password.repeat"), repeat),
      error,
      h("button", { class: "btn primary wide", type: "submit" }, t("password.submit")));
    return h("div", { class: "signin-page" }, form);
  }

  // ---------- shared widgets ----------

  function rangeSelect(current, onchange) {
    return h("select", { "data-testid": "range", "aria-label": t("time.range"), onchange: (e) => onchange(e.target.value) },
      ["15m", "1h", "24h", "7d", "30d", "all", "custom"].map((key) => h("option", { value: key, selected: key === current }, t("time." + key))));
  }

  function toLocalInput(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  // The store returns buckets from the first to the last event only; a chart of "the last
  // 7 days" should show the empty days too.
  function padBuckets(buckets, interval, fromMs, toMs) {
    const step = interval * 1000;
    if (!fromMs || !toMs || (toMs - fromMs) / step > 500) return buckets;
    const counts = new Map(buckets.map((b) => [b.key, b.doc_count]));
    const out = [];
    for (let key = Math.floor(fromMs / step) * step; key <= toMs; key += step) out.push({ key, doc_count: counts.get(key) || 0 });
    return out;
  }

  function bars(buckets, interval, onpick) {
    const max = Math.max(1, ...buckets.map((b) => b.doc_count));
    const chart = h("div", { class: "bars" });
    for (const bucket of buckets) {
      const height = Math.max(bucket.doc_count ? 2 : 0, Math.round((bucket.doc_count / max) * 100));
      const label = fmtTime(new Date(bucket.key).toISOString()) + " · " + fmtNumber(bucket.doc_count);
      chart.append(h("div", { class: "bar", title: label, onclick: onpick ? () => onpick(bucket) : null },
        h("div", { class: "bar-fill", style: null, "data-h": height })));
    }
    // Heights through the CSSOM (CSP-safe, unlike inline style attributes).
    chart.querySelectorAll(".bar-fill").forEach((el) => { el.style.height = el.getAttribute("data-h") + "%"; });
    const first = buckets[0], last = buckets[buckets.length - 1];
    return h("div", { class: "histogram" }, chart,
      first ? h("div", { class: "axis" }, h("span", null, fmtTime(new Date(first.key).toISOString())), h("span", null, fmtTime(new Date(last.key + interval * 1000).toISOString()))) : null);
  }

  function levelBadge(level) {
    const known = LEVELS.includes(level) ? level : "informational";
    return h("span", { class: "badge level-" + known }, t("level." + known));
  }

  function statusBadge(status) {
    const known = STATUSES.includes(status) ? status : "new";
    return h("span", { class: "badge status-" + known, "data-testid": "status" }, t("status." + known));
  }

  function errorBox(error) {
    return error ? h("div", { class: "error-box", role: "alert" }, t("common.error", { message: error })) : null;
  }

  function drawer(title, onclose, ...content) {
    return h("aside", { class: "drawer", "data-testid": "drawer" },
      h("div", { class: "drawer-head" }, h("h2", null, title), h("button", { class: "btn ghost", onclick: onclose, "aria-label": t("common.close") }, "✕")),
      h("div", { class: "drawer-body" }, content));
  }

  function fieldTable(event, onpivot) {
    const rows = flatten(event, "", []).filter(([path]) => path);
    return h("table", { class: "fields" },
      h("thead", null, h("tr", null, h("th", null, t("detail.field")), h("th", null, t("detail.value")), h("th", null, ""))),
      h("tbody", null, rows.map(([path, value]) => h("tr", null,
        h("td", { class: "field-name" }, path),
        h("td", { class: "field-value" }, display(value)),
        h("td", { class: "pivot" }, onpivot && value !== null && typeof value !== "object" ? [
          h("button", { class: "icon", title: t("detail.filter"), "data-testid": "pivot", onclick: () => onpivot(path, value, false) }, "+"),
          h("button", { class: "icon", title: t("detail.exclude"), onclick: () => onpivot(path, value, true) }, "−"),
        ] : null)))));
  }

  function pivotToSearch(path, value, exclude) {
    const clause = (exclude ? "NOT " : "") + path + ":" + quote(value);
    const current = state.search.q.trim();
    state.search.q = current && current !== "*" ? current + " AND " + clause : clause;
    state.search.selected = null;
    state.search.ran = false;
    navigate(searchUrl());
  }

  // ---------- search ----------

  function searchPage(main) {
    const s = state.search;
    // Links carry the search: /ui/search?q=...&range=24h (shareable, bookmarkable).
    const params = new URLSearchParams(location.search);
    if (params.has("q") && location.search !== s.urlSeen) {
      s.urlSeen = location.search;
      s.q = params.get("q");
      if (params.get("range") in QUICK_RANGES || params.get("range") === "all") s.range = params.get("range");
      s.ran = false;
    }
    const input = h("input", { class: "query", "data-testid": "query", value: s.q, placeholder: t("search.placeholder"), spellcheck: "false", autocomplete: "off" });
    const from = h("input", { type: "datetime-local", "aria-label": t("time.from"), value: toLocalInput(s.from) });
    const to = h("input", { type: "datetime-local", "aria-label": t("time.to"), value: toLocalInput(s.to) });
    const custom = h("span", { class: "custom-range" + (s.range === "custom" ? "" : " hidden") }, t("time.from"), from, t("time.to"), to);
    const submit = (e) => {
      if (e) e.preventDefault();
      s.q = input.value;
      s.from = from.value ? new Date(from.value).toISOString() : "";
      s.to = to.value ? new Date(to.value).toISOString() : "";
      runSearch();
    };
    const bar = h("form", { class: "searchbar", onsubmit: submit },
      input,
      rangeSelect(s.range, (value) => { s.range = value; custom.classList.toggle("hidden", value !== "custom"); }),
      custom,
      h("button", { class: "btn primary", type: "submit", "data-testid": "run-search" }, t("search.run")));
    const tools = h("div", { class: "toolbar" },
      savedSearches(input),
      h("span", { class: "spacer" }),
      columnsEditor(),
      h("button", { class: "btn", onclick: () => exportResults("csv") }, t("search.export") + " CSV"),
      h("button", { class: "btn", onclick: () => exportResults("json") }, t("search.export") + " JSON"));
    const results = h("div", { class: "results", id: "results" });
    main.append(h("section", { class: "page search-page" }, bar, tools, results));
    renderResults();
    if (state.oldest === undefined) {
      // The all-time histogram spans from the oldest partition.
      api("GET", "/api/v1/stats")
        .then((stats) => { state.oldest = stats.oldest_partition || null; })
        .catch(() => { state.oldest = null; })
        .finally(() => { if (!s.ran) runSearch(); });
    } else if (!s.ran) {
      runSearch();
    }
  }

  function columns() {
    try {
      const stored = JSON.parse(localStorage.getItem("sentinella.columns"));
      if (Array.isArray(stored) && stored.length && stored.every((c) => typeof c === "string")) return stored;
    } catch (_) { /* default */ }
    return DEFAULT_COLUMNS;
  }

  function columnsEditor() {
    const input = h("input", { class: "columns-input", value: columns().join(", "), "aria-label": t("search.columns") });
    return h("form", { class: "inline", onsubmit: (e) => {
      e.preventDefault();
      const list = input.value.split(",").map((c) => c.trim()).filter(Boolean).slice(0, 12);
      localStorage.setItem("sentinella.columns", JSON.stringify(list.length ? list : DEFAULT_COLUMNS));
      renderResults();
    } }, h("span", { class: "muted" }, t("search.columns")), input);
  }

  function savedSearches(input) {
    // Saved on the server, per user (GET/POST/DELETE /api/v1/searches).
    const select = h("select", { "aria-label": t("search.saved"), "data-testid": "saved-searches" }, h("option", { value: "" }, t("search.saved")));
    let saved = [];
    api("GET", "/api/v1/searches").then((answer) => {
      saved = answer.searches;
      select.append(...saved.map((item, i) => h("option", { value: i }, item.name)));
    }).catch(() => {});
    select.addEventListener("change", (e) => {
      const item = saved[Number(e.target.value)];
      if (!item || e.target.value === "") return;
      state.search.q = item.query;
      if (item.range in QUICK_RANGES || item.range === "all") state.search.range = item.range;
      state.search.ran = false;
      navigate(searchUrl());
    });
    const name = h("input", { class: "short", placeholder: t("search.savename"), "aria-label": t("search.savename"), "data-testid": "save-name" });
    const form = h("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      if (!name.value.trim()) return;
      try {
        await api("POST", "/api/v1/searches", { name: name.value.trim().slice(0, 100), query: input.value, range: state.search.range === "custom" ? "all" : state.search.range });
        render();
      } catch (err) {
        state.search.error = err.message;
        renderResults();
      }
    } }, name, h("button", { class: "btn", type: "submit", "data-testid": "save-search" }, t("search.save")));
    return h("span", { class: "inline" }, select, form);
  }

  let searchGeneration = 0;
  let alertsGeneration = 0;

  async function runSearch(append) {
    const s = state.search;
    const generation = ++searchGeneration;
    const bounds = rangeBounds(s.range, s.from, s.to);
    const interval = histogramInterval(bounds);
    const body = { q: s.q, limit: 100, offset: append ? s.hits.length : 0, aggregations: append ? [] : [{ type: "date_histogram", name: "histogram", interval_secs: interval }] };
    if (bounds.from) body.from = bounds.from;
    if (bounds.to) body.to = bounds.to;
    s.ran = true;
    s.error = null;
    if (location.pathname.startsWith("/ui/search") && s.range !== "custom") {
      history.replaceState({}, "", searchUrl());
      s.urlSeen = location.search;
    }
    if (!append) s.loading = true;
    renderResults();
    try {
      const answer = await api("POST", "/api/v1/search", body);
      if (generation !== searchGeneration) return;
      s.hits = append ? s.hits.concat(answer.hits) : answer.hits;
      s.total = answer.total;
      s.took = answer.took_ms;
      if (!append) {
        s.histogram = answer.aggregations && answer.aggregations.histogram
          ? padBuckets(answer.aggregations.histogram.buckets, interval, bounds.from ? Date.parse(bounds.from) : null, bounds.to ? Date.parse(bounds.to) : Date.now())
          : null;
        s.interval = interval;
        s.selected = null;
      }
    } catch (err) {
      if (generation !== searchGeneration) return;
      s.error = err.message;
      s.hits = [];
      s.total = 0;
    }
    s.loading = false;
    renderResults();
  }

  function renderResults() {
    const target = document.getElementById("results");
    if (!target) return;
    const s = state.search;
    target.replaceChildren();
    if (s.loading) { target.append(h("div", { class: "muted pad" }, t("common.loading"))); return; }
    if (s.error) { target.append(errorBox(s.error)); return; }
    const cols = columns();
    const layout = h("div", { class: "split" + (s.selected !== null ? " with-drawer" : "") });
    const left = h("div", { class: "split-main" });
    left.append(h("div", { class: "summary", "data-testid": "summary" }, t("common.took", { count: fmtNumber(s.total), ms: fmtNumber(s.took) })));
    if (s.histogram && s.histogram.length) {
      left.append(h("div", { class: "card" }, h("div", { class: "card-title" }, t("search.histogram")), bars(s.histogram, s.interval, (bucket) => {
        s.range = "custom";
        s.from = new Date(bucket.key).toISOString();
        s.to = new Date(bucket.key + s.interval * 1000).toISOString();
        render();
        runSearch();
      })));
    }
    if (!s.hits.length) {
      left.append(h("div", { class: "muted pad" }, t("common.noresults")));
    } else {
      left.append(h("div", { class: "table-wrap" }, h("table", { class: "grid", "data-testid": "results-table" },
        h("thead", null, h("tr", null, cols.map((c) => h("th", null, c)))),
        h("tbody", null, s.hits.map((hit, i) => h("tr", { class: i === s.selected ? "selected" : "", "data-testid": "result-row", onclick: () => { s.selected = i; renderResults(); } },
          cols.map((c) => h("td", { class: c === "message" ? "msg" : c === "@timestamp" ? "nowrap" : "" }, c === "@timestamp" ? fmtTime(get(hit, c)) : display(get(hit, c))))))))));
      if (s.hits.length < s.total) left.append(h("button", { class: "btn", onclick: () => runSearch(true) }, t("search.more")));
    }
    layout.append(left);
    if (s.selected !== null && s.hits[s.selected]) layout.append(eventDrawer(s.hits[s.selected]));
    target.append(layout);
  }

  function eventDrawer(event) {
    const tabs = ["fields", "original", "json"];
    let tab = "fields";
    const body = h("div", { class: "tab-body" });
    const tabBar = h("div", { class: "tabs" });
    const show = () => {
      tabBar.replaceChildren(...tabs.map((name) => h("button", { class: "tab" + (tab === name ? " active" : ""), "data-testid": "tab-" + name, onclick: () => { tab = name; show(); } }, t("detail." + name))));
      body.replaceChildren();
      if (tab === "fields") body.append(fieldTable(event, pivotToSearch));
      if (tab === "original") {
        const original = get(event, "event.original");
        body.append(original ? h("pre", { class: "original", "data-testid": "original" }, display(original)) : h("div", { class: "muted" }, t("detail.nooriginal")));
      }
      if (tab === "json") body.append(h("pre", { class: "original" }, JSON.stringify(event, null, 2)));
    };
    show();
    const title = display(get(event, "message") || get(event, "event.action") || fmtTime(get(event, "@timestamp"))).slice(0, 120);
    return drawer(title, () => { state.search.selected = null; renderResults(); }, tabBar, body);
  }

  async function exportResults(kind) {
    const s = state.search;
    const bounds = rangeBounds(s.range, s.from, s.to);
    const body = { q: s.q, limit: 10000 };
    if (bounds.from) body.from = bounds.from;
    if (bounds.to) body.to = bounds.to;
    try {
      const answer = await api("POST", "/api/v1/search", body);
      if (kind === "json") {
        download("sentinella-search.json", "application/json", answer.hits.map((hit) => JSON.stringify(hit)).join("\n") + "\n");
      } else {
        const cols = columns();
        const lines = [cols.map(csvCell).join(",")].concat(answer.hits.map((hit) => cols.map((c) => csvCell(get(hit, c))).join(",")));
        download("sentinella-search.csv", "text/csv", lines.join("\r\n") + "\r\n");
      }
    } catch (err) {
      s.error = err.message;
      renderResults();
    }
  }

  // ---------- alerts ----------

  function alertsPage(main) {
    const a = state.alerts;
    const text = (name, label) => h("input", { class: "short", value: a[name], placeholder: label, "aria-label": label, "data-testid": "filter-" + name, onchange: (e) => { a[name] = e.target.value; loadAlerts(); } });
    const filters = h("div", { class: "toolbar filters" },
      h("select", { "data-testid": "filter-status", "aria-label": t("alerts.status"), onchange: (e) => { a.status = e.target.value; loadAlerts(); } },
        [["open", t("alerts.open")], ["", t("alerts.any")]].concat(STATUSES.map((s) => [s, t("status." + s)])).map(([v, l]) => h("option", { value: v, selected: a.status === v }, l))),
      h("select", { "aria-label": t("alerts.level"), onchange: (e) => { a.level = e.target.value; loadAlerts(); } },
        [["", t("alerts.level") + ": " + t("alerts.any")]].concat(LEVELS.map((l) => [l, t("level." + l)])).map(([v, l]) => h("option", { value: v, selected: a.level === v }, l))),
      text("rule", t("alerts.rule")), text("host", t("alerts.host")), text("user", t("alerts.user")),
      rangeSelect(a.range === "custom" ? "all" : a.range, (value) => { a.range = value; loadAlerts(); }));
    const bulk = h("div", { class: "bulkbar", id: "bulkbar" });
    const list = h("div", { id: "alert-list" });
    main.append(h("section", { class: "page" }, filters, bulk, list));
    loadAlerts();
  }

  async function loadAlerts() {
    const a = state.alerts;
    const generation = ++alertsGeneration;
    const params = new URLSearchParams({ limit: "200" });
    const status = a.status === "open" ? "new,acknowledged" : a.status;
    if (status) params.set("status", status);
    for (const name of ["level", "rule", "host", "user"]) if (a[name]) params.set(name, a[name]);
    const bounds = rangeBounds(a.range);
    if (bounds.from) params.set("from", bounds.from);
    a.error = null;
    try {
      const answer = await api("GET", "/api/v1/alerts?" + params.toString());
      if (generation !== alertsGeneration) return;
      a.hits = answer.hits;
      a.total = answer.total;
      const ids = new Set(a.hits.map(alertId));
      a.selected = new Set([...a.selected].filter((id) => ids.has(id)));
    } catch (err) {
      if (generation !== alertsGeneration) return;
      a.error = err.message;
      a.hits = [];
    }
    renderAlerts();
  }

  function alertId(alert) {
    return get(alert, "sentinella.alert.id");
  }

  function renderAlerts() {
    const a = state.alerts;
    const target = document.getElementById("alert-list");
    const bulk = document.getElementById("bulkbar");
    if (!target) return;
    target.replaceChildren();
    bulk.replaceChildren();
    if (a.error) { target.append(errorBox(a.error)); return; }
    if (canChange() && a.selected.size) {
      bulk.append(h("span", null, t("alerts.selected", { count: a.selected.size })),
        workflowButtons([...a.selected], null));
    }
    const layout = h("div", { class: "split" + (a.detail ? " with-drawer" : "") });
    const left = h("div", { class: "split-main" });
    left.append(h("div", { class: "summary", "data-testid": "alerts-summary" }, t("alerts.count", { count: fmtNumber(a.total) })));
    if (!a.hits.length) {
      left.append(h("div", { class: "muted pad" }, t("common.noresults")));
    } else {
      const all = h("input", { type: "checkbox", "aria-label": "all", checked: a.selected.size === a.hits.length, onchange: (e) => {
        a.selected = e.target.checked ? new Set(a.hits.map(alertId)) : new Set();
        renderAlerts();
      } });
      left.append(h("div", { class: "table-wrap" }, h("table", { class: "grid", "data-testid": "alerts-table" },
        h("thead", null, h("tr", null, canChange() ? h("th", { class: "check" }, all) : null,
          [t("alerts.time"), t("alerts.level"), t("alerts.rule"), t("alerts.host"), t("alerts.user"), t("alerts.status"), t("alerts.assignee")].map((c) => h("th", null, c)))),
        h("tbody", null, a.hits.map((alert) => {
          const id = alertId(alert);
          return h("tr", { class: id === a.detail ? "selected" : "", "data-testid": "alert-row", onclick: () => { a.detail = id; renderAlerts(); } },
            canChange() ? h("td", { class: "check", onclick: (e) => e.stopPropagation() }, h("input", { type: "checkbox", checked: a.selected.has(id), onchange: (e) => {
              if (e.target.checked) a.selected.add(id); else a.selected.delete(id);
              renderAlerts();
            } })) : null,
            h("td", { class: "nowrap" }, fmtTime(get(alert, "@timestamp"))),
            h("td", null, levelBadge(get(alert, "sentinella.alert.level"))),
            h("td", { class: "msg" }, display(get(alert, "rule.name"))),
            h("td", null, display(get(alert, "host.name"))),
            h("td", null, display(get(alert, "user.name"))),
            h("td", null, statusBadge(get(alert, "sentinella.alert.status"))),
            h("td", null, display(get(alert, "sentinella.alert.assignee") || "")));
        })))));
    }
    layout.append(left);
    const detail = a.hits.find((alert) => alertId(alert) === a.detail);
    if (detail) layout.append(alertDrawer(detail));
    target.append(layout);
  }

  function workflowButtons(ids, current) {
    const change = async (body) => {
      try {
        if (ids.length === 1) await api("POST", "/api/v1/alerts/" + encodeURIComponent(ids[0]) + "/status", body);
        else await api("POST", "/api/v1/alerts/status", Object.assign({ ids }, body));
        state.alerts.selected = new Set();
        await loadAlerts();
      } catch (err) {
        state.alerts.error = err.message;
        renderAlerts();
      }
    };
    const buttons = [];
    if (current !== "acknowledged") buttons.push(h("button", { class: "btn", "data-testid": "ack", onclick: () => change({ status: "acknowledged" }) }, t("alerts.acknowledge")));
    if (current !== "closed_true_positive") buttons.push(h("button", { class: "btn danger", "data-testid": "close-tp", onclick: () => change({ status: "closed_true_positive" }) }, t("alerts.closetp")));
    if (current !== "closed_false_positive") buttons.push(h("button", { class: "btn", "data-testid": "close-fp", onclick: () => change({ status: "closed_false_positive" }) }, t("alerts.closefp")));
    if (current && current !== "new" && current !== "acknowledged") buttons.push(h("button", { class: "btn ghost", "data-testid": "reopen", onclick: () => change({ status: "acknowledged" }) }, t("alerts.reopen")));
    buttons.workflow = change;
    return h("span", { class: "inline" }, buttons);
  }

  function techniqueLink(id) {
    const text = String(id).toUpperCase();
    const match = /^T(\d{4})(?:\.(\d{3}))?$/.exec(text);
    if (!match) return h("span", { class: "chip" }, text);
    const href = "https://attack.mitre.org/techniques/T" + match[1] + "/" + (match[2] ? match[2] + "/" : "");
    return h("a", { class: "chip", href, target: "_blank", rel: "noopener noreferrer" }, text);
  }

  function alertDrawer(alert) {
    const id = alertId(alert);
    const status = get(alert, "sentinella.alert.status");
    const section = (title, ...content) => h("div", { class: "section" }, h("h3", null, title), content);
    const references = [].concat(get(alert, "rule.reference") || []);
    const techniques = [].concat(get(alert, "threat.technique.id") || []);
    const comments = get(alert, "sentinella.alert.comments") || [];
    const matched = get(alert, "sentinella.alert.matched.fields");
    const event = get(alert, "sentinella.alert.event");
    const parts = [
      h("div", { class: "badges" }, levelBadge(get(alert, "sentinella.alert.level")), statusBadge(status),
        h("span", { class: "muted" }, fmtTime(get(alert, "@timestamp"))),
        get(alert, "sentinella.alert.assignee") ? h("span", { class: "muted" }, t("alerts.assignee") + ": " + display(get(alert, "sentinella.alert.assignee"))) : null),
    ];
    if (canChange()) {
      const assignee = h("input", { class: "short", value: get(alert, "sentinella.alert.assignee") || "", placeholder: t("alerts.assignee"), "aria-label": t("alerts.assignee") });
      const flow = workflowButtons([id], status);
      const send = async (body) => {
        try {
          await api("POST", "/api/v1/alerts/" + encodeURIComponent(id) + "/status", body);
          await loadAlerts();
        } catch (err) {
          state.alerts.error = err.message;
          renderAlerts();
        }
      };
      parts.push(h("div", { class: "workflow" }, flow,
        h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); send({ assignee: assignee.value.trim() }); } }, assignee,
          h("button", { class: "btn", type: "submit" }, t("alerts.assign")),
          h("button", { class: "btn ghost", type: "button", onclick: () => send({ assignee: state.user.name }) }, t("alerts.assignme")))));
      const comment = h("textarea", { rows: 2, "aria-label": t("alerts.comment"), placeholder: t("alerts.comment"), "data-testid": "comment" });
      parts.push(section(t("alerts.comments"), commentList(comments),
        h("form", { class: "comment-form", onsubmit: (e) => { e.preventDefault(); if (comment.value.trim()) send({ comment: comment.value }); } }, comment,
          h("button", { class: "btn", type: "submit" }, t("common.add")))));
    } else {
      parts.push(h("div", { class: "note", "data-testid": "readonly" }, t("alerts.readonly")));
      parts.push(section(t("alerts.comments"), commentList(comments)));
    }
    parts.push(section(t("alerts.description"), h("p", { class: "prose" }, display(get(alert, "rule.description") || t("common.none")))));
    if (techniques.length) parts.push(section(t("alerts.attack"), h("div", { class: "chips" }, techniques.map(techniqueLink))));
    if (references.length) {
      parts.push(section(t("alerts.references"), h("ul", { class: "refs" }, references.map((ref) => {
        const url = safeUrl(ref);
        return h("li", null, url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, display(ref)) : h("span", null, display(ref)));
      }))));
    }
    parts.push(h("dl", { class: "meta" },
      h("dt", null, t("alerts.author")), h("dd", null, display(get(alert, "rule.author") || t("common.none"))),
      h("dt", null, t("alerts.ruleid")), h("dd", { class: "mono" }, display(get(alert, "rule.id") || t("common.none")))));
    const matchedNames = Array.isArray(matched) ? matched.map(String) : matched && typeof matched === "object" ? Object.keys(matched) : [];
    if (matchedNames.length) parts.push(section(t("alerts.matched"), h("div", { class: "chips" }, matchedNames.map((name) => h("span", { class: "chip match" }, name)))));
    if (event) {
      const table = fieldTable(event, pivotToSearch);
      // Sigma field names map to event paths (`CommandLine` -> `winlog.event_data.CommandLine`).
      table.querySelectorAll("td.field-name").forEach((cell) => {
        const last = cell.textContent.split(".").pop().toLowerCase();
        if (matchedNames.some((name) => name.toLowerCase() === last)) cell.parentElement.classList.add("matched");
      });
      parts.push(section(t("alerts.event"), table));
    }
    return drawer(display(get(alert, "rule.name")), () => { state.alerts.detail = null; renderAlerts(); }, parts);
  }

  function commentList(comments) {
    if (!comments.length) return h("div", { class: "muted" }, t("alerts.nocomments"));
    return h("ul", { class: "comments" }, comments.map((c) => h("li", null,
      h("div", { class: "comment-head" }, h("strong", null, display(c.author)), h("span", { class: "muted" }, fmtTime(c.time))),
      h("div", { class: "comment-text" }, display(c.text)))));
  }

  // ---------- dashboard ----------

  function dashboardPage(main) {
    const grid = h("section", { class: "page dashboard" });
    main.append(grid);
    const kpis = h("div", { class: "kpis" });
    grid.append(kpis);
    const cards = {};
    const card = (key, wide) => {
      const body = h("div", { class: "card-body" }, h("div", { class: "muted" }, t("common.loading")));
      grid.append(h("div", { class: "card" + (wide ? " wide" : ""), "data-testid": "card-" + key }, h("div", { class: "card-title" }, t(key)), body));
      cards[key] = body;
      return body;
    };
    ["dash.ingest", "dash.alerttime"].forEach((k) => card(k, true));
    ["dash.levels", "dash.toprules", "dash.sources", "dash.tophosts", "dash.topusers", "dash.health"].forEach((k) => card(k, false));
    card("dash.sourcehealth", true);
    loadDashboard(kpis, cards);
    loadSourceHealth(cards["dash.sourcehealth"]);
  }

  function kpi(label, value, testid, note) {
    return h("div", { class: "kpi", "data-testid": testid }, h("div", { class: "kpi-value" }, value), h("div", { class: "kpi-label" }, label),
      note ? h("div", { class: "kpi-note muted small", "data-testid": testid + "-note" }, note) : null);
  }

  function topList(buckets, field, query) {
    if (!buckets || !buckets.length) return h("div", { class: "muted" }, t("common.noresults"));
    const max = Math.max(...buckets.map((b) => b.doc_count));
    return h("ul", { class: "toplist" }, buckets.map((b) => {
      const bar = h("span", { class: "toplist-bar" });
      bar.style.width = Math.round((b.doc_count / max) * 100) + "%";
      return h("li", { onclick: () => { state.search.q = (query ? query + " AND " : "") + field + ":" + quote(b.key); state.search.range = "24h"; state.search.ran = false; navigate(searchUrl()); } },
        bar, h("span", { class: "toplist-key" }, display(b.key)), h("span", { class: "toplist-count" }, fmtNumber(b.doc_count)));
    }));
  }

  // The configured retention (`[retention]`): "kept: 90 days · 50 GB", or "no limit".
  function retentionPolicy(policy) {
    const parts = [];
    if (policy && policy.max_age_days) parts.push(fmtDuration(policy.max_age_days * 86400));
    if (policy && policy.max_bytes) parts.push(fmtBytes(policy.max_bytes));
    return t("dash.retentionkept", { policy: parts.length ? parts.join(" · ") : t("dash.nolimit") });
  }

  async function loadDashboard(kpis, cards) {
    const day = new Date(Date.now() - 86400 * 1000).toISOString();
    const week = new Date(Date.now() - 7 * 86400 * 1000).toISOString();
    const statsAnswer = api("GET", "/api/v1/stats");
    const terms = (name, field, size) => ({ type: "terms", name, field, size: size || 8 });
    const fail = (key) => (err) => { if (cards[key]) cards[key].replaceChildren(errorBox(err.message)); };
    const search = (body) => api("POST", "/api/v1/search", Object.assign({ limit: 0 }, body));
    try {
      const [stats, all, events, open] = await Promise.all([
        statsAnswer,
        search({ q: "*" }),
        search({ q: "*", from: day, aggregations: [{ type: "date_histogram", name: "rate", interval_secs: 3600 }, terms("sources", "input.type"), terms("hosts", "host.name"), terms("users", "user.name")] }),
        api("GET", "/api/v1/alerts?status=new,acknowledged&limit=0&from=" + encodeURIComponent(new Date(Date.now() - 30 * 86400 * 1000).toISOString())),
      ]);
      kpis.replaceChildren(
        kpi(t("dash.events"), fmtNumber(all.total), "kpi-events"),
        kpi(t("dash.events24"), fmtNumber(events.total), "kpi-events24"),
        kpi(t("dash.openalerts"), fmtNumber(open.total), "kpi-open"),
        kpi(t("dash.storesize"), fmtBytes((stats.wal_bytes || 0) + (stats.index_bytes || 0)), "kpi-size"),
        kpi(t("dash.retention"), stats.oldest_partition || t("common.none"), "kpi-retention", retentionPolicy(stats.retention)),
        kpi(t("dash.indexlag"), fmtNumber(stats.index_lag_events || 0), "kpi-lag"));
      const aggs = events.aggregations || {};
      cards["dash.ingest"].replaceChildren(aggs.rate ? bars(padBuckets(aggs.rate.buckets, 3600, Date.parse(day), Date.now()), 3600) : h("div", { class: "muted" }, t("common.noresults")));
      cards["dash.sources"].replaceChildren(topList(aggs.sources && aggs.sources.buckets, "input.type"));
      cards["dash.tophosts"].replaceChildren(topList(aggs.hosts && aggs.hosts.buckets, "host.name"));
      cards["dash.topusers"].replaceChildren(topList(aggs.users && aggs.users.buckets, "user.name"));
    } catch (err) {
      kpis.replaceChildren(errorBox(err.message));
      ["dash.ingest", "dash.sources", "dash.tophosts", "dash.topusers"].forEach((k) => fail(k)(err));
    }
    search({ q: "event.kind:alert", from: week, aggregations: [{ type: "date_histogram", name: "time", interval_secs: 6 * 3600 }, terms("rules", "rule.name")] }).then((answer) => {
      const aggs = answer.aggregations || {};
      cards["dash.alerttime"].replaceChildren(aggs.time ? bars(padBuckets(aggs.time.buckets, 6 * 3600, Date.parse(week), Date.now()), 6 * 3600) : h("div", { class: "muted" }, t("common.noresults")));
      cards["dash.toprules"].replaceChildren(topList(aggs.rules && aggs.rules.buckets, "rule.name", "event.kind:alert"));
    }).catch((err) => { fail("dash.alerttime")(err); fail("dash.toprules")(err); });
    Promise.all(LEVELS.map((level) => search({ q: "event.kind:alert AND sentinella.alert.level:" + level, from: week }).then((a) => [level, a.total]))).then((counts) => {
      const max = Math.max(1, ...counts.map(([, n]) => n));
      cards["dash.levels"].replaceChildren(h("ul", { class: "levels" }, counts.map(([level, n]) => {
        const bar = h("span", { class: "level-bar level-" + level });
        bar.style.width = Math.round((n / max) * 100) + "%";
        return h("li", { onclick: () => { state.alerts.level = level; state.alerts.status = ""; navigate("/ui/alerts"); } },
          h("span", { class: "level-name" }, levelBadge(level)), h("span", { class: "level-track" }, bar), h("span", { class: "toplist-count" }, fmtNumber(n)));
      })));
    }).catch(fail("dash.levels"));
    // Hosts heard from this week (or twice the threshold, if longer) but not within
    // `[ingest_health] silent_after`.
    statsAnswer.then((stats) => {
      const silentAfter = stats.ingest_silent_after_secs || 3600;
      const known = new Date(Date.now() - Math.max(7 * 86400, 2 * silentAfter) * 1000).toISOString();
      return Promise.all([
        search({ q: "log.parse_error:*", from: day }),
        search({ q: "*", from: known, aggregations: [terms("hosts", "host.name", 50)] }),
        search({ q: "*", from: new Date(Date.now() - silentAfter * 1000).toISOString(), aggregations: [terms("hosts", "host.name", 200)] }),
        silentAfter,
      ]);
    }).then(([failed, weekHosts, hourHosts, silentAfter]) => {
      const recent = new Set(((hourHosts.aggregations.hosts || {}).buckets || []).map((b) => b.key));
      const silent = ((weekHosts.aggregations.hosts || {}).buckets || []).map((b) => b.key).filter((k) => !recent.has(k));
      cards["dash.health"].replaceChildren(
        h("div", { class: "health-row" }, h("span", null, t("dash.parsefail")), h("strong", { class: failed.total ? "warn" : "" }, fmtNumber(failed.total))),
        h("div", { class: "health-row" }, h("span", { "data-testid": "silent-hosts-label" }, t("dash.silent", { duration: fmtDuration(silentAfter) })), h("strong", { class: silent.length ? "warn" : "" }, fmtNumber(silent.length))),
        silent.length ? h("ul", { class: "silent" }, silent.slice(0, 10).map((host) => h("li", { class: "mono" }, display(host)))) : h("div", { class: "muted small" }, t("dash.allgood")));
    }).catch(fail("dash.health"));
  }

  // Per-source health as the pipeline tracks it (GET /api/v1/ingest/health): silent
  // sources first, flagged; the global drop and rejection counters above the table.
  async function loadSourceHealth(body) {
    let report;
    try { report = await api("GET", "/api/v1/ingest/health"); } catch (err) { body.replaceChildren(errorBox(err.message)); return; }
    const counter = (label, n, testid) => h("div", { class: "health-row" }, h("span", null, label), h("strong", { class: n ? "warn" : "", "data-testid": testid }, fmtNumber(n)));
    const rows = report.sources || [];
    body.replaceChildren(
      h("div", { class: "health-counters" },
        counter(t("dash.silentsources", { duration: fmtDuration(report.silent_after_secs) }), report.silent_sources, "health-silent"),
        counter(t("dash.udpdropped"), report.udp_dropped_events, "health-udp-dropped"),
        counter(t("dash.rejected"), report.rejected_requests, "health-rejected")),
      rows.length ? h("div", { class: "table-wrap" }, h("table", { class: "grid health-table", "data-testid": "source-health-table" },
        h("thead", null, h("tr", null, [[t("dash.source")], [t("dash.sourceevents"), "num"], [t("dash.fallbacks"), "num"], [t("dash.lastevent")], [t("dash.silentafter")], [t("dash.state")]].map(([c, cls]) => h("th", cls ? { class: cls } : null, c)))),
        h("tbody", null, rows.map((row) => h("tr", { class: row.silent ? "silent-source" : "", "data-testid": "source-health-row" },
          h("td", { class: "nowrap" }, display(row.source)),
          h("td", { class: "num" }, fmtNumber(row.events)),
          h("td", { class: "num" + (row.parse_fallbacks ? " warn" : "") }, fmtNumber(row.parse_fallbacks)),
          h("td", { class: "nowrap" }, fmtTime(row.last_event)),
          h("td", { class: "nowrap", "data-testid": "source-silent-after" }, fmtDuration(row.silent_after_secs)),
          h("td", null, h("span", { class: "badge " + (row.silent ? "status-new" : "status-acknowledged") }, row.silent ? t("dash.silentflag") : t("dash.activeflag")))))))) :
        h("div", { class: "muted" }, t("dash.nosources")));
  }

  // ---------- rules ----------

  async function rulesPage(main) {
    const section = h("section", { class: "page" }, h("h1", null, t("rules.title")));
    main.append(section);
    const summary = h("div", { class: "summary", "data-testid": "rules-summary" });
    const filter = h("input", { class: "query wide-filter", placeholder: t("rules.filter"), "aria-label": t("rules.filter") });
    const list = h("div");
    const rejected = h("div");
    const tester = canChange() ? eventTester() : null;
    // (Not `append(…, null)`: the DOM would show "null" to viewers, who have no tester.)
    section.append(h("div", { class: "toolbar" }, filter), summary, list, rejected);
    if (tester) section.append(tester.card);
    let listing = null;
    const show = () => {
      const needle = filter.value.trim().toLowerCase();
      const rules = listing.rules.filter((r) => !needle || [r.title, r.id, r.path, r.level].some((v) => v && String(v).toLowerCase().includes(needle)));
      summary.textContent = t("rules.summary", { loaded: fmtNumber(listing.loaded), enabled: fmtNumber(listing.enabled), rejected: fmtNumber(listing.rejected.length), shown: fmtNumber(Math.min(rules.length, 500)) });
      list.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "grid", "data-testid": "rules-table" },
        h("thead", null, h("tr", null, [t("rules.state"), canChange() ? t("rules.test") : null, t("alerts.level"), t("rules.name"), t("rules.kind"), "status", "id", t("rules.path")].map((c) => c === null ? null : h("th", null, c)))),
        h("tbody", null, rules.slice(0, 500).map((rule) => h("tr", null,
          h("td", null, canChange() && rule.kind !== "filter" ? h("button", { class: "btn " + (rule.enabled ? "" : "danger"), "data-testid": "rule-toggle", onclick: async () => {
            try {
              await api("POST", "/api/v1/rules/" + encodeURIComponent(rule.id || rule.title) + (rule.enabled ? "/disable" : "/enable"));
              load();
            } catch (err) { rejected.replaceChildren(errorBox(err.message)); }
          } }, rule.enabled ? t("rules.enabled") : t("rules.disabled")) : h("span", { class: "badge " + (rule.enabled ? "status-acknowledged" : "status-closed_false_positive") }, rule.enabled ? t("rules.enabled") : t("rules.disabled"))),
          canChange() && rule.kind === "detection" ? h("td", { class: "nowrap" }, testButton(rule), " ", h("button", { class: "btn ghost", "data-testid": "rule-test-event", onclick: () => tester.use(rule) }, t("rules.testevent"))) : canChange() ? h("td") : null,
          h("td", { class: "nowrap" }, canChange() && rule.kind !== "filter" ? levelSelect(rule) : [rule.level ? levelBadge(rule.level) : "",
            rule.level !== rule.original_level ? h("span", { class: "muted small" }, " " + t("rules.levelfile", { level: rule.original_level ? t("level." + rule.original_level) : "—" })) : null]),
          h("td", { class: "msg" }, rule.title),
          h("td", null, rule.kind),
          h("td", null, rule.status || ""),
          h("td", { class: "mono small nowrap" }, rule.id || ""),
          h("td", { class: "mono small msg", title: rule.path }, rule.path.split("/").pop())))))));
      rejected.replaceChildren(...(listing.rejected.length ? [h("div", { class: "card" }, h("div", { class: "card-title" }, t("rules.rejected")),
        h("ul", { class: "rejected" }, listing.rejected.slice(0, 200).map((r) => h("li", null, h("span", { class: "mono" }, r.path + (r.line ? ":" + r.line : "")), " — ", r.reason))))] : []));
    };
    // The analyst's own level for a rule; choosing the file's level clears the override.
    const levelSelect = (rule) => {
      const own = rule.original_level || "";
      const options = (own ? [] : [["", "—"]]).concat(LEVELS.map((l) => [l, t("level." + l) + (l === own ? " " + t("rules.levelown") : "")]));
      return h("select", { class: "level-select" + (rule.level !== rule.original_level ? " overridden" : ""), "data-testid": "rule-level", "aria-label": t("rules.level"),
        title: rule.level !== rule.original_level ? t("rules.levelfile", { level: own ? t("level." + own) : "—" }) : t("rules.level"),
        onchange: async (e) => {
          try {
            await api("POST", "/api/v1/rules/" + encodeURIComponent(rule.id || rule.title) + "/level", { level: e.target.value === own ? null : e.target.value });
            load();
          } catch (err) { rejected.replaceChildren(errorBox(err.message)); }
        } }, options.map(([v, l]) => h("option", { value: v, selected: (rule.level || "") === v }, l)));
    };
    const load = async () => {
      try { listing = await api("GET", "/api/v1/rules"); show(); } catch (err) { list.replaceChildren(errorBox(err.message)); }
    };
    filter.addEventListener("input", () => listing && show());
    load();
  }

  // Tests a loaded rule (by id) or pasted Sigma YAML against one pasted event
  // (POST /api/v1/rules/test): matched or not, and which selections and fields did.
  function eventTester() {
    const ruleId = h("input", { class: "query", "data-testid": "tester-rule-id", "aria-label": t("rules.ruleid"), placeholder: t("rules.ruleid") });
    const yaml = h("textarea", { rows: 8, class: "mono", "data-testid": "tester-yaml", "aria-label": t("rules.yaml"), placeholder: t("rules.yaml"), spellcheck: "false" });
    const event = h("textarea", { rows: 8, class: "mono", "data-testid": "tester-event", "aria-label": t("rules.event"), placeholder: t("rules.event"), spellcheck: "false" });
    const out = h("div", { "data-testid": "tester-result" });
    const run = async () => {
      let parsed;
      try { parsed = JSON.parse(event.value); } catch (err) { out.replaceChildren(errorBox(t("rules.badevent", { message: err.message }))); return; }
      const body = { event: parsed };
      if (yaml.value.trim()) body.rule_yaml = yaml.value;
      else body.rule_id = ruleId.value.trim();
      out.replaceChildren(h("span", { class: "muted" }, t("common.loading")));
      try {
        const answer = await api("POST", "/api/v1/rules/test", body);
        out.replaceChildren(...answer.results.map((r) => h("div", { class: "tester-row", "data-testid": "tester-row" },
          h("span", { class: "badge " + (r.matched ? "status-new" : "status-closed_false_positive"), "data-testid": "tester-verdict" }, r.matched ? t("rules.matched") : t("rules.nomatch")),
          " ", h("strong", null, r.title), r.level ? [" ", levelBadge(r.level)] : null,
          r.matched ? h("div", { class: "small" }, t("rules.selections"), ": ", h("span", { class: "mono", "data-testid": "tester-selections" }, r.selections.join(", ")),
            " · ", t("rules.fields"), ": ", h("span", { class: "mono", "data-testid": "tester-fields" }, r.fields.join(", "))) : null,
          r.logsource_note ? h("div", { class: "muted small" }, r.logsource_note) : null)));
      } catch (err) { out.replaceChildren(errorBox(err.message)); }
    };
    const card = h("div", { class: "card", "data-testid": "rule-tester" }, h("div", { class: "card-title" }, t("rules.tester")),
      h("p", { class: "muted small" }, t("rules.testerhelp")),
      h("div", { class: "toolbar" }, ruleId, h("button", { class: "btn", "data-testid": "tester-run", onclick: run }, t("rules.run"))),
      yaml, event, out);
    return {
      card,
      use(rule) {
        ruleId.value = rule.id || rule.title;
        yaml.value = "";
        card.scrollIntoView({ block: "start" });
        event.focus();
      },
    };
  }

  // Runs the rule over the last 24 hours of stored events (POST /api/v1/hunt), nothing stored.
  function testButton(rule) {
    const out = h("span", { class: "muted small", "data-testid": "rule-test-result" });
    const button = h("button", { class: "btn ghost", "data-testid": "rule-test", onclick: async () => {
      button.disabled = true;
      out.textContent = t("common.loading");
      try {
        const answer = await api("POST", "/api/v1/hunt", { since: "24h", rule_ids: [rule.id || rule.title], limit: 0 });
        out.textContent = t("rules.tested", { alerts: fmtNumber(answer.alerts_total), events: fmtNumber(answer.events), ms: fmtNumber(answer.took_ms) });
      } catch (err) {
        out.textContent = t("common.error", { message: err.message });
      }
      button.disabled = false;
    } }, t("rules.test24"));
    return h("span", { class: "inline nowrap" }, button, out);
  }

  // ---------- tokens ----------

  async function tokensPage(main) {
    const section = h("section", { class: "page narrow" }, h("h1", null, t("tokens.title")), h("p", { class: "muted" }, t("tokens.help")));
    main.append(section);
    const fresh = h("div", { id: "fresh-token" });
    const name = h("input", { required: true, maxlength: 100, "aria-label": t("tokens.name"), placeholder: t("tokens.name") });
    const days = h("input", { type: "number", min: 1, max: 3650, class: "short", "aria-label": t("tokens.days"), placeholder: t("tokens.days") });
    const list = h("div");
    const load = async () => {
      try {
        const answer = await api("GET", "/api/v1/tokens");
        list.replaceChildren(answer.tokens.length ? h("div", { class: "table-wrap" }, h("table", { class: "grid" },
          h("thead", null, h("tr", null, [t("tokens.name"), "id", t("users.created"), t("tokens.expires"), ""].map((c) => h("th", null, c)))),
          h("tbody", null, answer.tokens.map((token) => h("tr", null,
            h("td", null, token.name), h("td", { class: "mono" }, token.id), h("td", null, fmtTime(token.created)),
            h("td", null, token.expires ? fmtTime(token.expires) : t("tokens.never")),
            h("td", null, h("button", { class: "btn danger", onclick: async () => { await api("DELETE", "/api/v1/tokens/" + encodeURIComponent(token.id)); load(); } }, t("tokens.revoke")))))))) : h("div", { class: "muted" }, t("common.noresults")));
      } catch (err) { list.replaceChildren(errorBox(err.message)); }
    };
    section.append(h("form", { class: "toolbar", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { name: name.value };
        if (days.value) body.expires_in_days = Number(days.value);
        const answer = await api("POST", "/api/v1/tokens", body);
        fresh.replaceChildren(h("div", { class: "note" }, t("tokens.created"), h("pre", { class: "original" }, answer.token)));
        name.value = "";
        load();
      } catch (err) { fresh.replaceChildren(errorBox(err.message)); }
    } }, name, days, h("button", { class: "btn primary", type: "submit" }, t("tokens.create"))), fresh, list);
    load();
  }

  // ---------- users (admin) ----------

  async function usersPage(main) {
    const section = h("section", { class: "page narrow" }, h("h1", null, t("users.title")));
    main.append(section);
    const error = h("div");
    const list = h("div");
    const name = h("input", { required: true, placeholder: t("users.name"), "aria-label": t("users.name") });
    const roleSelect = h("select", { "aria-label": t("users.role") }, ["viewer", "analyst", "admin"].map((r) => h("option", { value: r }, t("role." + r))));
    const password = h("input", { type: "password", required: true, minlength: 12, autocomplete: "new-password", placeholder: t("users.password"), "aria-label": t("users.password") });
    const act = async (work) => { try { error.replaceChildren(); await work(); load(); } catch (err) { error.replaceChildren(errorBox(err.message)); } };
    const load = async () => {
      try {
        const answer = await api("GET", "/api/v1/users");
        list.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "grid", "data-testid": "users-table" },
          h("thead", null, h("tr", null, [t("users.name"), t("users.role"), t("users.signin"), t("users.state"), t("users.created"), t("common.actions")].map((c) => h("th", null, c)))),
          h("tbody", null, answer.users.map((user) => {
            const self = user.name === state.user.name;
            const reset = h("input", { type: "password", class: "short", minlength: 12, autocomplete: "new-password", placeholder: t("users.newpassword", { name: user.name }), "aria-label": t("users.newpassword", { name: user.name }) });
            const locked = user.locked_until && user.locked_until * 1000 > Date.now();
            // Users created at their first OpenID Connect sign-in have no password.
            const hasPassword = user.password !== false;
            const signInWays = [hasPassword ? t("users.viapassword") : null, user.oidc_issuer ? t("users.viaoidc", { issuer: user.oidc_issuer }) : null].filter(Boolean);
            return h("tr", { "data-testid": "user-row" },
              h("td", null, user.name),
              h("td", null, self ? t("role." + user.role) : h("select", { onchange: (e) => act(() => api("POST", "/api/v1/users/" + encodeURIComponent(user.name), { role: e.target.value })) },
                ["viewer", "analyst", "admin"].map((r) => h("option", { value: r, selected: r === user.role }, t("role." + r)))),
                // The claim mapping sets the role again at each provider sign-in.
                user.oidc_issuer ? h("div", { class: "muted small", "data-testid": "user-role-note" }, t("users.rolefromprovider")) : null),
              h("td", { "data-testid": "user-signin" }, signInWays.join(" · ")),
              h("td", null, user.disabled ? h("span", { class: "badge status-closed_false_positive" }, t("users.disabled")) : locked ? h("span", { class: "badge level-high" }, t("users.locked", { time: fmtTime(user.locked_until) })) : h("span", { class: "badge status-acknowledged" }, t("users.active"))),
              h("td", null, fmtTime(user.created)),
              h("td", null, h("span", { class: "inline" },
                self ? null : h("button", { class: "btn", onclick: () => act(() => api("POST", "/api/v1/users/" + encodeURIComponent(user.name), { disabled: !user.disabled })) }, user.disabled ? t("users.enable") : t("users.disable")),
                hasPassword ? h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); act(() => api("POST", "/api/v1/users/" + encodeURIComponent(user.name), { password: reset.value })); } }, reset, h("button", { class: "btn", type: "submit" }, t("users.reset"))) :
                  h("span", { class: "muted small", "data-testid": "user-no-password" }, t("users.nopassword")))));
          })))));
      } catch (err) { list.replaceChildren(errorBox(err.message)); }
    };
    section.append(h("form", { class: "toolbar", onsubmit: (e) => {
      e.preventDefault();
      act(async () => { await api("POST", "/api/v1/users", { name: name.value, role: roleSelect.value, password: password.value }); name.value = ""; password.value = ""; });
    } }, name, roleSelect, password, h("button", { class: "btn primary", type: "submit" }, t("users.add"))), error, list);
    load();
  }

  // ---------- audit (admin) ----------

  async function auditPage(main) {
    const section = h("section", { class: "page" }, h("h1", null, t("audit.title")));
    main.append(section);
    try {
      const answer = await api("GET", "/api/v1/audit?limit=500");
      section.append(h("div", { class: "table-wrap" }, h("table", { class: "grid", "data-testid": "audit-table" },
        h("thead", null, h("tr", null, ["#", t("audit.time"), t("audit.actor"), t("audit.action"), t("audit.target"), t("audit.detail")].map((c) => h("th", null, c)))),
        h("tbody", null, answer.entries.map((entry) => h("tr", null,
          h("td", { class: "mono" }, String(entry.seq)), h("td", { class: "nowrap" }, fmtTime(entry.time)), h("td", null, entry.actor),
          h("td", null, h("span", { class: "chip" + (entry.action.includes("failed") || entry.action.includes("locked") ? " warn" : "") }, entry.action)),
          h("td", { class: "mono" }, entry.target || ""), h("td", { class: "mono small" }, JSON.stringify(entry.detail))))))));
    } catch (err) {
      section.append(errorBox(err.message));
    }
  }

  // ---------- phishing reports ----------

  const VERDICTS = ["malicious", "suspicious", "likely_safe"];

  function verdictBadge(verdict) {
    const known = VERDICTS.includes(verdict) ? verdict : "suspicious";
    return h("span", { class: "badge verdict-" + known, "data-testid": "verdict" }, t("verdict." + known));
  }

  // The reasons in the console's language (reports carry both).
  function reportReasons(report) {
    const reasons = state.lang === "it" ? report.reasons_it : report.reasons_en;
    return Array.isArray(reasons) ? reasons : Array.isArray(report.reasons) ? report.reasons : [];
  }

  const asList = (value) => (Array.isArray(value) ? value : []);
  const asText = (value) => (value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value));

  // The analysis behind a verdict: authentication, links, attachments, route. Every value
  // here (names, URLs, hosts, file names) was written by the attacker: text nodes only, and
  // links are shown, never made clickable.
  function analysisDetails(analysis) {
    if (!analysis || typeof analysis !== "object") return null;
    const findings = asList(analysis.findings);
    const findingsOf = (category) => findings.filter((f) => f && f.category === category);
    const findingList = (category) => {
      const items = findingsOf(category);
      return items.length ? h("ul", { class: "reasons", "data-testid": "phish-findings-" + category },
        items.map((f) => h("li", null, h("span", { class: "chip" }, "+" + asText(f.weight)), asText(state.lang === "it" ? f.it : f.en), " ", h("span", { class: "muted small mono" }, asText(f.code))))) : null;
    };
    const auth = analysis.auth && typeof analysis.auth === "object" ? analysis.auth : {};
    const outcome = (value) => h("span", { class: "chip" + (value === "fail" || value === "error" ? " warn" : "") }, asText(value || "none"));
    const dkim = asList(auth.dkim);
    const spfIdentity = asList(auth.spf_identity);
    const authBlock = h("div", { "data-testid": "phish-auth" },
      h("div", { class: "card-title" }, t("phish.auth")),
      h("dl", { class: "meta" },
        h("dt", null, "DKIM"), h("dd", null, dkim.length ? dkim.map((sig) => h("span", { class: "inline" }, h("span", { class: "mono" }, asText(asList(sig)[0]) || "?"), outcome(asList(sig)[1]))) : outcome("none")),
        h("dt", null, "SPF"), h("dd", null, outcome(auth.spf), spfIdentity.length ? h("span", { class: "mono small" }, " " + asText(spfIdentity[1]) + " @ " + asText(spfIdentity[0])) : null),
        h("dt", null, "DMARC"), h("dd", null, outcome(auth.dmarc), auth.dmarc_policy ? h("span", { class: "muted small" }, " p=" + asText(auth.dmarc_policy)) : null),
        h("dt", null, "ARC"), h("dd", null, outcome(auth.arc)),
        asList(auth.dns_missing).length ? [h("dt", null, t("phish.dnsmissing")), h("dd", { class: "mono small" }, asList(auth.dns_missing).slice(0, 10).map(asText).join(", "))] : null,
        // Live DNS gave no answer: what depended on it is "not verified", not failed.
        auth.dns_failure ? [h("dt", null, t("phish.dnsfailure")), h("dd", { "data-testid": "phish-dns-failure" }, h("span", { class: "chip warn" }, ["timeout", "unreachable", "server_error"].includes(auth.dns_failure) ? t("phish.dnsfailure." + auth.dns_failure) : asText(auth.dns_failure)), " ", h("span", { class: "muted small" }, t("phish.dnsfailure.note")))] : null),
      findingList("headers"));
    const indicators = analysis.indicators && typeof analysis.indicators === "object" ? analysis.indicators : {};
    const urls = asList(indicators.urls);
    const linksBlock = h("div", { "data-testid": "phish-links" },
      h("div", { class: "card-title" }, t("phish.links", { n: fmtNumber(urls.length) })),
      urls.length ? h("ul", { class: "reasons mono small" }, urls.slice(0, 50).map((u) => h("li", { "data-testid": "phish-link" }, asText(u)))) : h("div", { class: "muted small" }, t("phish.nolinks")),
      urls.length > 50 ? h("div", { class: "muted small" }, t("phish.more", { n: fmtNumber(urls.length - 50) })) : null,
      findingList("links"));
    const attachments = asList(analysis.attachments);
    const attachmentsBlock = h("div", { "data-testid": "phish-attachments" },
      h("div", { class: "card-title" }, t("phish.attachments", { n: fmtNumber(attachments.length) })),
      attachments.length ? h("div", { class: "table-wrap" }, h("table", { class: "grid" },
        h("thead", null, h("tr", null, [t("phish.att.name"), t("phish.att.type"), t("phish.att.size"), "SHA-256", "MD5"].map((c) => h("th", null, c)))),
        h("tbody", null, attachments.slice(0, 100).map((a) => h("tr", { "data-testid": "phish-attachment" },
          h("td", { class: "msg" }, asText(a && a.name)), h("td", null, asText(a && a.detected_type)),
          h("td", { class: "nowrap" }, typeof (a && a.size) === "number" ? fmtBytes(a.size) : asText(a && a.size)),
          h("td", { class: "mono small" }, asText(a && a.sha256)), h("td", { class: "mono small" }, asText(a && a.md5))))))) : h("div", { class: "muted small" }, t("phish.noattachments")),
      findingList("attachments"));
    const hops = asList(analysis.received);
    const routeBlock = hops.length ? h("div", { "data-testid": "phish-route" },
      h("div", { class: "card-title" }, t("phish.route")),
      h("ol", { class: "reasons mono small" }, hops.slice(0, 30).map((hop) => h("li", null, [asText(hop && hop.from), hop && hop.ip ? "[" + asText(hop.ip) + "]" : "", "→", asText(hop && hop.by)].filter(Boolean).join(" "))))) : null;
    const other = ["text", "analysis"].map(findingList).filter(Boolean);
    // Values threat intelligence already lists (analysts also get the indicator behind).
    const intelHits = asList(analysis.intel);
    const intelFindings = findingList("intelligence");
    const intelBlock = intelFindings || intelHits.length ? h("div", { "data-testid": "phish-intel" },
      h("div", { class: "card-title" }, t("phish.intel")),
      intelFindings,
      intelHits.length ? h("div", { class: "table-wrap" }, h("table", { class: "grid" },
        h("thead", null, h("tr", null, [t("phish.intel.place"), t("phish.intel.observed"), t("phish.intel.indicator"), t("phish.intel.source"), "TLP"].map((c) => h("th", null, c)))),
        h("tbody", null, intelHits.slice(0, 20).map((hit) => {
          const ind = hit && typeof hit.indicator === "object" && hit.indicator ? hit.indicator : {};
          return h("tr", { "data-testid": "phish-intel-hit" },
            h("td", null, asText(hit && hit.place)), h("td", { class: "mono small msg" }, asText(hit && hit.observed)),
            h("td", { class: "mono small msg" }, asText(ind.kind) + ": " + asText(ind.value)),
            h("td", { class: "small" }, asText(ind.source)), h("td", null, h("span", { class: "chip" }, asText(ind.tlp).toUpperCase())));
        })))) : null) : null;
    return h("div", { class: "card phish-analysis", "data-testid": "phish-analysis" },
      intelBlock, authBlock, linksBlock, attachmentsBlock, routeBlock,
      other.length ? [h("div", { class: "card-title" }, t("phish.otherfindings")), other] : null);
  }

  // What the override did to intelligence (shared, withdrawn, kept because of another report).
  function intelOutcome(intel) {
    if (!intel || typeof intel !== "object") return null;
    if (typeof intel.shared === "number") return h("div", { class: "muted small", "data-testid": "phish-intel" }, t("phish.intel.shared", { n: fmtNumber(intel.shared) }));
    const withdrawn = asList(intel.withdrawn), kept = asList(intel.kept);
    return h("div", { class: "muted small", "data-testid": "phish-intel" },
      t("phish.intel.withdrawn", { n: fmtNumber(withdrawn.length) }),
      withdrawn.length ? h("div", { class: "chips" }, withdrawn.slice(0, 20).map((v) => h("span", { class: "chip" }, asText(v)))) : null,
      kept.length ? [t("phish.intel.kept", { n: fmtNumber(kept.length) }), h("div", { class: "chips" }, kept.slice(0, 20).map((k) => h("span", { class: "chip" }, asText(asList(k)[0]) + " ← " + asText(asList(k)[1]))))] : null);
  }

  // Intake counters, kept across restarts (GET /api/v1/phish/stats).
  async function intakeStats(box) {
    try {
      const s = await api("GET", "/api/v1/phish/stats");
      const n = (v) => fmtNumber(typeof v === "number" ? v : 0);
      const received = s.received || {}, refused = s.refused || {}, replies = s.replies || {}, notices = s.notices || {};
      box.replaceChildren(h("div", { class: "card-title" }, t("phish.stats.title", { since: fmtTime(s.since) })),
        h("div", { class: "kpis" },
          kpi(t("phish.stats.received"), n((received.smtp || 0) + (received.api || 0)), "phish-kpi-received", t("phish.stats.bychannel", { smtp: n(received.smtp), api: n(received.api) })),
          kpi(t("phish.stats.refused"), n((refused.size || 0) + (refused.recipient || 0) + (refused.parse || 0)), "phish-kpi-refused", t("phish.stats.byreason", { size: n(refused.size), recipient: n(refused.recipient), parse: n(refused.parse) })),
          kpi(t("phish.stats.analysed"), n(s.analysed), "phish-kpi-analysed", s.verdicts ? t("phish.stats.verdicts", { m: n(s.verdicts.malicious), s: n(s.verdicts.suspicious), l: n(s.verdicts.likely_safe) }) : null),
          kpi(t("phish.stats.replies"), n(replies.sent), "phish-kpi-replies", t("phish.stats.failed", { n: n(replies.failed) })),
          kpi(t("phish.stats.notices"), n(notices.sent), "phish-kpi-notices", t("phish.stats.failed", { n: n(notices.failed) }))));
    } catch (err) { box.replaceChildren(errorBox(err.message)); }
  }

  // Upload a reported .eml (raw bytes to POST /api/v1/phish), list recent reports or the
  // campaigns they form, open one; analysts override the verdict. Subject, sender, reasons,
  // links and file names come from the attacker: text only.
  function phishingPage(main) {
    const section = h("section", { class: "page" }, h("h1", null, t("phish.title")));
    main.append(section);
    const message = h("div");
    const detail = h("div", { class: "phish-detail", "data-testid": "phish-detail" });
    const listBox = h("div");
    const statsBox = h("div", { class: "card", "data-testid": "phish-stats" });
    let view = "reports";
    const tabBar = h("div", { class: "tabs" });
    const showTabs = () => tabBar.replaceChildren(...["reports", "campaigns"].map((name) =>
      h("button", { class: "tab" + (view === name ? " active" : ""), "data-testid": "phish-tab-" + name, onclick: () => { view = name; showTabs(); load(); } }, t("phish.tab." + name))));
    showTabs();
    const file = h("input", { type: "file", accept: ".eml,message/rfc822", "data-testid": "phish-file", "aria-label": t("phish.file") });
    const send = h("button", { class: "btn primary", type: "submit", "data-testid": "phish-upload" }, t("phish.upload"));
    const form = h("form", { class: "card", onsubmit: async (e) => {
      e.preventDefault();
      message.replaceChildren();
      const chosen = file.files && file.files[0];
      if (!chosen) { message.replaceChildren(errorBox(t("phish.nofile"))); return; }
      send.disabled = true;
      try {
        const report = await api("POST", "/api/v1/phish?lang=" + encodeURIComponent(state.lang), chosen);
        form.reset();
        show(report);
        load();
        intakeStats(statsBox);
      } catch (err) {
        message.replaceChildren(errorBox(err.message));
      } finally {
        send.disabled = false;
      }
    } },
      h("div", { class: "card-title" }, t("phish.submit")),
      h("div", { class: "toolbar" }, file, send),
      h("div", { class: "muted small" }, t("phish.help")));
    // Viewers read reports; submitting one is a change (the API answers 403).
    if (canChange()) section.append(form);
    section.append(statsBox, message, detail, tabBar, listBox);

    const show = (report, extra) => {
      const overrides = Array.isArray(report.overrides) ? report.overrides : [];
      detail.replaceChildren(h("div", { class: "card", "data-testid": "phish-report" },
        h("div", { class: "toolbar" }, h("h2", { class: "subject", "data-testid": "phish-subject" }, report.subject || t("phish.nosubject")), h("span", { class: "spacer" }),
          h("button", { class: "btn ghost", onclick: () => detail.replaceChildren(), "aria-label": t("common.close") }, "✕")),
        h("div", { class: "badges" }, verdictBadge(report.verdict),
          h("span", { "data-testid": "phish-score" }, t("phish.score", { score: fmtNumber(report.score) })),
          report.automatic_verdict && report.automatic_verdict !== report.verdict ? h("span", { class: "muted small" }, t("phish.automatic", { verdict: t("verdict." + (VERDICTS.includes(report.automatic_verdict) ? report.automatic_verdict : "suspicious")) })) : null,
          h("span", { class: "muted small" }, fmtTime(report.received_at) + " · " + (report.reporter || t("common.none")))),
        h("div", { class: "card-title" }, t("phish.reasons")),
        h("ul", { class: "reasons", "data-testid": "phish-reasons" }, reportReasons(report).map((reason) => h("li", null, reason))),
        overrides.length ? [h("div", { class: "card-title" }, t("phish.history")),
          h("ul", { class: "reasons" }, overrides.map((o) => h("li", null, fmtTime(o.at) + " · " + o.actor + ": " + t("verdict." + (VERDICTS.includes(o.to) ? o.to : "suspicious")) + (o.comment ? " — " + o.comment : ""))))] : null,
        extra || null,
        canChange() ? overrideForm(report) : null),
        analysisDetails(report.analysis));
    };

    const overrideForm = (report) => {
      const verdict = h("select", { "data-testid": "phish-override-verdict", "aria-label": t("phish.verdict") },
        VERDICTS.map((v) => h("option", { value: v, selected: v === report.verdict }, t("verdict." + v))));
      const comment = h("input", { class: "query", placeholder: t("phish.comment"), "aria-label": t("phish.comment"), "data-testid": "phish-override-comment", maxlength: 2000 });
      const notify = h("input", { type: "checkbox", "data-testid": "phish-override-notify" });
      const outcome = h("div", { class: "muted small", "data-testid": "phish-override-outcome" });
      return h("form", { class: "toolbar", onsubmit: async (e) => {
        e.preventDefault();
        try {
          const answer = await api("POST", "/api/v1/phish/reports/" + encodeURIComponent(report.id) + "/override",
            { verdict: verdict.value, comment: comment.value, notify: notify.checked });
          // The answer has no analysis: keep the one already shown.
          const full = await api("GET", "/api/v1/phish/reports/" + encodeURIComponent(report.id)).catch(() => answer);
          show(full, [answer.notice ? h("div", { class: "muted small", "data-testid": "phish-notice" }, t("phish.notice", { notice: answer.notice })) : null, intelOutcome(answer.intel)]);
          load();
          intakeStats(statsBox);
        } catch (err) { outcome.replaceChildren(errorBox(err.message)); }
      } },
        h("label", null, t("phish.verdict") + " ", verdict), comment,
        h("label", { class: "nowrap", title: t("phish.notifyhelp") }, notify, " " + t("phish.notify")),
        h("button", { class: "btn", type: "submit", "data-testid": "phish-override" }, t("phish.override")), outcome);
    };

    const open = async (id) => {
      try { show(await api("GET", "/api/v1/phish/reports/" + encodeURIComponent(id))); detail.scrollIntoView({ block: "start" }); } catch (err) { detail.replaceChildren(errorBox(err.message)); }
    };

    const reportsTable = (reports, testid) => h("div", { class: "table-wrap" }, h("table", { class: "grid", "data-testid": testid },
      h("thead", null, h("tr", null, [t("phish.time"), t("phish.reporter"), t("phish.subject"), t("phish.verdict"), t("phish.scorehead")].map((c) => h("th", null, c)))),
      h("tbody", null, reports.map((r) => h("tr", { "data-testid": "phish-row", onclick: () => open(r.id) },
        h("td", { class: "nowrap" }, fmtTime(r.received_at)), h("td", null, r.reporter || ""),
        h("td", { class: "msg" }, r.subject || t("phish.nosubject")), h("td", null, verdictBadge(r.verdict)),
        h("td", { class: "mono" }, String(r.score)))))));

    const sharedChips = (shared, limit) => h("div", { class: "chips" }, asList(shared).slice(0, limit).map((s) =>
      h("span", { class: "chip" + (s && s.strong ? " match" : ""), "data-testid": "campaign-shared", title: t("phish.camp.inreports", { n: asText(s && s.reports) }) },
        t("phish.key." + (s && s.kind)) + ": " + asText(s && s.value) + " ×" + asText(s && s.reports))));

    const verdictMix = (verdicts) => h("span", { class: "inline" }, VERDICTS.filter((v) => verdicts && verdicts[v]).map((v) =>
      h("span", { class: "inline" }, verdictBadge(v), "×" + fmtNumber(verdicts[v]))));

    const openCampaign = async (id) => {
      try {
        const c = await api("GET", "/api/v1/phish/campaigns/" + encodeURIComponent(id));
        detail.replaceChildren(h("div", { class: "card", "data-testid": "campaign-detail" },
          h("div", { class: "toolbar" }, h("h2", null, t("phish.camp.title", { n: fmtNumber(asList(c.reports).length) })), h("span", { class: "spacer" }),
            h("button", { class: "btn ghost", onclick: () => detail.replaceChildren(), "aria-label": t("common.close") }, "✕")),
          h("dl", { class: "meta" },
            h("dt", null, t("phish.camp.first")), h("dd", null, fmtTime(c.first_seen)),
            h("dt", null, t("phish.camp.last")), h("dd", null, fmtTime(c.last_seen)),
            h("dt", null, t("phish.camp.reporters")), h("dd", { "data-testid": "campaign-reporters" }, fmtNumber(c.reporters || 0)),
            h("dt", null, t("phish.verdict")), h("dd", null, verdictMix(c.verdicts))),
          h("div", { class: "card-title" }, t("phish.camp.shared")),
          h("div", { class: "muted small" }, t("phish.camp.sharedhelp")),
          sharedChips(c.shared, 100),
          h("div", { class: "card-title" }, t("phish.camp.reports")),
          reportsTable(asList(c.report_details), "campaign-reports")));
        detail.scrollIntoView({ block: "start" });
      } catch (err) { detail.replaceChildren(errorBox(err.message)); }
    };

    const loadCampaigns = async () => {
      const answer = await api("GET", "/api/v1/phish/campaigns");
      const campaigns = asList(answer.campaigns);
      listBox.replaceChildren(h("div", { class: "muted small" }, t("phish.camp.help", { n: fmtNumber(answer.window || 0) })),
        campaigns.length === 0 ? h("div", { class: "muted", "data-testid": "campaigns-none" }, t("phish.camp.none")) :
        h("div", { class: "table-wrap" }, h("table", { class: "grid", "data-testid": "campaign-table" },
          h("thead", null, h("tr", null, [t("phish.camp.reportshead"), t("phish.camp.last"), t("phish.camp.reporters"), t("phish.verdict"), t("phish.camp.shared"), t("phish.subject")].map((c) => h("th", null, c)))),
          h("tbody", null, campaigns.map((c) => h("tr", { "data-testid": "campaign-row", onclick: () => openCampaign(c.id) },
            h("td", { class: "mono" }, fmtNumber(asList(c.reports).length)), h("td", { class: "nowrap" }, fmtTime(c.last_seen)),
            h("td", { class: "mono" }, fmtNumber(c.reporters || 0)), h("td", null, verdictMix(c.verdicts)),
            h("td", null, sharedChips(c.shared, 3)), h("td", { class: "msg" }, asList(c.subjects).slice(0, 2).map(asText).join(" · "))))))));
    };

    const load = async () => {
      try {
        if (view === "campaigns") { await loadCampaigns(); return; }
        const answer = await api("GET", "/api/v1/phish/reports?limit=100");
        listBox.replaceChildren(h("div", { class: "card-title" }, t("phish.recent")),
          answer.reports.length === 0 ? h("div", { class: "muted" }, t("phish.none")) : reportsTable(answer.reports, "phish-table"));
      } catch (err) { listBox.replaceChildren(errorBox(err.message)); }
    };
    intakeStats(statsBox);
    load();
  }

  // ---------- start ----------

  async function start() {
    try {
      const answer = await api("GET", "/api/v1/session");
      acceptSession(answer);
      if (!state.user.language && answer.csrf) {
        api("PUT", "/api/v1/session/language", { language: state.lang }).catch(() => {});
      }
    } catch (_) {
      state.user = null;
    }
    render();
  }

  start();
})();
