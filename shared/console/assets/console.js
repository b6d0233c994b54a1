// The console's progressive layer: live run states and counts on the canvas
// (server-sent events, else polling), and the side panel (a transition's
// rows, an activity's settings, state and log). Pages work without it.
// No inline script or style: the CSP forbids them.
"use strict";
(function () {
  const main = document.getElementById("campaign");
  if (!main) return;
  const runID = main.dataset.run;
  const campaignID = main.dataset.campaign;
  const panel = document.getElementById("panel");
  const svg = document.querySelector("#canvas svg");
  const enc = encodeURIComponent;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error && body.error.message) || "HTTP " + r.status);
    return body;
  }

  // untilText formats a time as the server does: "2026-12-08 08:00 Europe/Paris".
  function untilText(iso, zone) {
    try {
      const p = {};
      for (const x of new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(new Date(iso))) p[x.type] = x.value;
      return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + " " + zone;
    } catch (e) {
      return iso;
    }
  }

  // stateText says an activity's state as the server's canvas does (draw.go).
  function stateText(a) {
    const w = a.waiting;
    if (!w) return a.status;
    if (w.reason === "held") return "held for confirmation";
    if (w.until) return "waiting until " + untilText(w.until, w.zone || "UTC") + " (" + w.reason + ")";
    return "waiting (" + w.reason + ")";
  }

  // stateLines wraps a state in two lines of at most 30 characters, as the
  // server's canvas does (canvas.StateLines).
  function stateLines(s) {
    const lines = [];
    let line = "";
    for (const w of s.split(/\s+/).filter(Boolean)) {
      if (line === "") line = w;
      else if ([...line].length + 1 + [...w].length <= 30 || lines.length === 1) line += " " + w;
      else { lines.push(line); line = w; }
    }
    if (line !== "") lines.push([...line].length <= 30 ? line : [...line].slice(0, 29).join("") + "…");
    return lines;
  }

  // apply puts a run view, or a change (only what changed), on the canvas.
  // It says whether the page lacks a confirm button for a held send.
  function apply(run) {
    const st = document.getElementById("run-status");
    if (st) st.textContent = run.status;
    main.dataset.status = run.status;
    for (const t of run.transitions || []) {
      if (t.count === undefined || t.count === null) continue;
      const g = document.querySelector('#canvas g.edge[data-from="' + CSS.escape(t.from) + '"][data-port="' + CSS.escape(t.port) + '"]');
      if (!g) continue;
      g.querySelector("text.count").textContent = t.port + ": " + t.count;
      g.setAttribute("aria-label", t.from + "." + t.port + " to " + g.dataset.to.split(" ").join(", ") + ", " + t.count + " rows");
      g.classList.add("counted");
    }
    let missing = false;
    for (const a of run.activities || []) {
      const g = document.querySelector('#canvas g.act[data-id="' + CSS.escape(a.id) + '"]');
      if (!g) continue;
      const s = stateText(a);
      let base = g.dataset.base; // "name, type", as the server wrote it
      if (!base) {
        base = g.getAttribute("aria-label");
        const old = g.dataset.status;
        if (old && base.endsWith(", " + old)) base = base.slice(0, -(old.length + 2));
        g.dataset.base = base;
      }
      g.dataset.status = s;
      g.setAttribute("aria-label", base + ", " + s);
      const state = g.querySelector("text.state");
      if (state) {
        const x = state.getAttribute("x");
        state.replaceChildren(...stateLines(s).map((l, i) => {
          const t = document.createElementNS("http://www.w3.org/2000/svg", "tspan");
          t.setAttribute("x", x);
          t.setAttribute("dy", i ? "12" : "0");
          t.textContent = l;
          return t;
        }));
      }
      if (a.waiting && a.waiting.reason === "held" && !document.querySelector('button.confirm[data-activity="' + CSS.escape(a.id) + '"]')) missing = true;
    }
    return missing;
  }

  const live = (s) => s === "running" || s === "suspended";

  // handle applies a run or a change; the page reloads when the server must
  // render other buttons (a held send, the end of the run).
  function handle(run) {
    const missing = apply(run);
    if (missing || (!live(run.status) && document.getElementById("stop"))) {
      location.reload();
      return false;
    }
    return true;
  }

  async function poll() {
    main.dataset.live = "polling";
    try {
      const run = await getJSON("/ui/runs/" + enc(runID));
      if (handle(run) && live(run.status)) setTimeout(poll, 700);
    } catch (e) {
      setTimeout(poll, 3000);
    }
  }

  // follow listens to the run's events, and polls when the browser or the
  // server cannot stream.
  function follow() {
    if (!window.EventSource) return poll();
    const es = new EventSource("/ui/runs/" + enc(runID) + "/events");
    main.dataset.live = "events";
    const on = (e) => { if (!handle(JSON.parse(e.data))) es.close(); };
    es.addEventListener("run", on);
    es.addEventListener("change", on);
    es.addEventListener("end", (e) => { es.close(); handle(JSON.parse(e.data)); });
    es.addEventListener("logout", () => { es.close(); location.reload(); });
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) poll(); };
  }

  function show(title, nodes) {
    panel.replaceChildren(el("h2", { id: "panel-title" }, title), ...nodes);
    panel.focus();
  }

  function cell(v) {
    return v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  async function rows(from, port, offset) {
    const limit = 50;
    const base = "/ui/runs/" + enc(runID) + "/transitions/" + enc(from) + "/" + enc(port);
    let p;
    try {
      p = await getJSON(base + "?limit=" + limit + "&offset=" + offset);
    } catch (e) {
      show(from + "." + port, [el("p", { class: "error", role: "alert" }, e.message)]);
      return;
    }
    const table = el("table", { class: "rows", id: "rows" });
    const head = el("tr");
    for (const c of p.columns) {
      const th = el("th", { scope: "col" }, c.name);
      th.append(el("span", { class: "coltype" }, c.type));
      head.append(th);
    }
    table.appendChild(el("thead")).append(head);
    const body = table.appendChild(el("tbody"));
    for (const r of p.rows) {
      const tr = el("tr");
      for (const v of r) tr.append(el("td", {}, cell(v)));
      body.append(tr);
    }
    const end = offset + p.rows.length;
    const nav = el("p", { class: "pager" });
    nav.append(el("span", { id: "rows-range" }, p.total === 0 ? "no rows" : "rows " + (offset + 1) + "–" + end + " of " + p.total));
    const go = (id, text, at) => {
      const b = el("button", { type: "button", id: id }, text);
      b.addEventListener("click", () => rows(from, port, at));
      nav.append(" ", b);
    };
    if (offset > 0) go("rows-prev", "Previous", Math.max(0, offset - limit));
    if (end < p.total) {
      go("rows-next", "Next", end);
      go("rows-last", "Last", Math.max(0, p.total - limit));
    }
    const csv = el("a", { href: "/ui/runs/" + enc(runID) + "/csv/" + enc(from) + "/" + enc(port), download: "" }, "Download CSV of " + from + "." + port);
    show("Rows of " + from + "." + port, [nav, table, el("p", {}).appendChild(csv).parentNode]);
  }

  async function activity(id) {
    let a;
    try {
      a = await getJSON(runID ? "/ui/runs/" + enc(runID) + "/activities/" + enc(id) : "/ui/campaigns/" + enc(campaignID) + "/activities/" + enc(id));
    } catch (e) {
      show(id, [el("p", { class: "error", role: "alert" }, e.message)]);
      return;
    }
    const nodes = [el("p", { class: "type" }, a.type + (a.label ? " · " + id : ""))];
    nodes.push(el("h3", {}, runID && a.of ? "Settings (" + a.of + ")" : "Settings"));
    if (a.words && a.words.length) {
      const ul = el("ul", { id: "settings", class: "words" });
      for (const w of a.words) ul.append(el("li", {}, w));
      nodes.push(ul);
    } else if (a.settings && a.settings.length) {
      const dl = el("dl", { id: "settings", class: "keys" });
      for (const s of a.settings) dl.append(el("dt", {}, s.key), el("dd", {}, s.value));
      nodes.push(dl);
    } else {
      nodes.push(el("p", { id: "settings" }, "No settings."));
    }
    const v = a.activity;
    if (v) {
      const dl = el("dl", { id: "activity" });
      const add = (k, x) => { if (x !== undefined && x !== null && x !== "") dl.append(el("dt", {}, k), el("dd", {}, String(x))); };
      add("State", stateText(v));
      add("Attempts", v.attempts);
      add("Started", v.startedAt);
      add("Ended", v.endedAt);
      nodes.push(el("h3", {}, "In this run"), dl);
      if (v.error) nodes.push(el("h3", {}, "Error"), el("p", { class: "error", id: "activity-error" }, v.error));
      nodes.push(el("h3", {}, "Task log" + (a.dropped ? " (" + a.dropped + " older lines dropped)" : "")), el("pre", { class: "log", id: "log" }, a.log.join("\n") || "(no log lines)"));
    } else {
      nodes.push(el("p", { class: "hint" }, "Not run yet."));
    }
    show(a.label || id, nodes);
  }

  function button(g, open) {
    g.addEventListener("click", open);
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        open();
      }
    });
  }

  if (svg) {
    // Fit a canvas that is not much wider than the page; scroll a larger one.
    if (svg.width.baseVal.value <= 1.6 * svg.parentNode.clientWidth) svg.classList.add("fit");
    svg.setAttribute("role", "group");
    svg.setAttribute("aria-label", "Campaign canvas: activities and transitions, left to right");
    for (const g of svg.querySelectorAll("g.edge")) {
      button(g, () => runID ? rows(g.dataset.from, g.dataset.port, 0) : show(g.dataset.from + "." + g.dataset.port, [el("p", {}, "Run the campaign to see its rows.")]));
    }
    for (const g of svg.querySelectorAll("g.act")) button(g, () => activity(g.dataset.id));
  }
  if (runID && live(main.dataset.status)) follow();
})();
