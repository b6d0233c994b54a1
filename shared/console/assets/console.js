// The console's progressive layer: live run states and counts on the canvas,
// and the side panel (a transition's rows, an activity's state and log).
// Pages work without it. No inline script or style: the CSP forbids them.
"use strict";
(function () {
  const main = document.getElementById("campaign");
  if (!main) return;
  const runID = main.dataset.run;
  const panel = document.getElementById("panel");
  const svg = document.querySelector("#canvas svg");

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

  function stateText(a) {
    const w = a.waiting;
    if (!w) return a.status;
    if (w.reason === "held") return "held for confirmation";
    if (w.until) return "waiting until " + untilText(w.until, w.zone || "UTC");
    return "waiting (" + w.reason + ")";
  }

  // apply puts a run view's states and counts on the canvas.
  function apply(run) {
    const st = document.getElementById("run-status");
    if (st) st.textContent = run.status;
    main.dataset.status = run.status;
    const counts = {};
    for (const t of run.transitions || []) if (t.count !== undefined && t.count !== null) counts[t.from + "." + t.port] = t.count;
    for (const g of document.querySelectorAll("#canvas g.edge")) {
      const k = g.dataset.from + "." + g.dataset.port;
      const text = g.querySelector("text.count");
      if (k in counts) {
        text.textContent = g.dataset.port + ": " + counts[k];
        g.classList.add("counted");
      }
    }
    for (const a of run.activities || []) {
      const g = document.querySelector('#canvas g.act[data-id="' + CSS.escape(a.id) + '"]');
      if (!g) continue;
      const s = stateText(a);
      g.dataset.status = s;
      g.setAttribute("aria-label", a.id + ", " + (a.type || "") + ", " + s);
      const sub = g.querySelector("text.sub");
      if (sub) sub.textContent = (a.type || "") + " · " + s;
    }
    const held = (run.activities || []).filter((a) => a.waiting && a.waiting.reason === "held").map((a) => a.id);
    const shown = [...document.querySelectorAll("button.confirm")].map((b) => b.dataset.activity);
    return held.some((id) => !shown.includes(id));
  }

  const live = (s) => s === "running" || s === "suspended";
  async function poll() {
    try {
      const run = await getJSON("/ui/runs/" + encodeURIComponent(runID));
      const needsForm = apply(run);
      if (needsForm || (!live(run.status) && document.getElementById("stop"))) {
        location.reload(); // the server renders the buttons that fit the new state
        return;
      }
      if (live(run.status)) setTimeout(poll, 700);
    } catch (e) {
      setTimeout(poll, 3000);
    }
  }

  function show(title, nodes) {
    panel.replaceChildren(el("h2", {}, title), ...nodes);
    panel.focus();
  }

  async function rows(from, port, offset) {
    const limit = 50;
    const base = "/ui/runs/" + encodeURIComponent(runID) + "/transitions/" + encodeURIComponent(from) + "/" + encodeURIComponent(port);
    let p;
    try {
      p = await getJSON(base + "?limit=" + limit + "&offset=" + offset);
    } catch (e) {
      show(from + "." + port, [el("p", { class: "error", role: "alert" }, e.message)]);
      return;
    }
    const table = el("table", { class: "rows", id: "rows" });
    const head = el("tr");
    for (const c of p.columns) head.append(el("th", { scope: "col", title: c.type }, c.name));
    table.appendChild(el("thead")).append(head);
    const body = table.appendChild(el("tbody"));
    for (const r of p.rows) {
      const tr = el("tr");
      for (const v of r) tr.append(el("td", {}, v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)));
      body.append(tr);
    }
    const end = offset + p.rows.length;
    const nav = el("p", { class: "pager" });
    nav.append(el("span", { id: "rows-range" }, p.total === 0 ? "no rows" : "rows " + (offset + 1) + "–" + end + " of " + p.total));
    if (offset > 0) {
      const b = el("button", { type: "button" }, "Previous");
      b.addEventListener("click", () => rows(from, port, Math.max(0, offset - limit)));
      nav.append(b);
    }
    if (end < p.total) {
      const b = el("button", { type: "button", id: "rows-next" }, "Next");
      b.addEventListener("click", () => rows(from, port, end));
      nav.append(b);
    }
    const csv = el("a", { href: "/ui/runs/" + encodeURIComponent(runID) + "/csv/" + encodeURIComponent(from) + "/" + encodeURIComponent(port), download: "" }, "Download CSV");
    show(from + "." + port, [nav, table, el("p", {}).appendChild(csv).parentNode]);
  }

  async function activity(id) {
    let a;
    try {
      a = await getJSON("/ui/runs/" + encodeURIComponent(runID) + "/activities/" + encodeURIComponent(id));
    } catch (e) {
      show(id, [el("p", { class: "error", role: "alert" }, e.message)]);
      return;
    }
    const dl = el("dl", { id: "activity" });
    const add = (k, v) => { if (v !== undefined && v !== null && v !== "") { dl.append(el("dt", {}, k), el("dd", {}, String(v))); } };
    add("Type", a.activity.type);
    add("State", stateText(a.activity));
    add("Attempts", a.activity.attempts);
    add("Started", a.activity.startedAt);
    add("Ended", a.activity.endedAt);
    add("Error", a.activity.error);
    const log = el("pre", { class: "log", id: "log" }, a.log.join("\n") || "(no log lines)");
    show(id, [dl, el("h3", {}, "Task log" + (a.dropped ? " (" + a.dropped + " older lines dropped)" : "")), log]);
  }

  if (svg) {
    svg.setAttribute("role", "group");
    svg.setAttribute("aria-label", "Campaign canvas");
    for (const g of svg.querySelectorAll("g.edge")) {
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", "Rows of " + g.dataset.from + "." + g.dataset.port);
      const open = () => runID ? rows(g.dataset.from, g.dataset.port, 0) : show(g.dataset.from + "." + g.dataset.port, [el("p", {}, "Run the campaign to see its rows.")]);
      g.addEventListener("click", open);
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
    }
    for (const g of svg.querySelectorAll("g.act")) {
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", g.dataset.id + (g.dataset.status ? ", " + g.dataset.status : ""));
      const open = () => runID ? activity(g.dataset.id) : show(g.dataset.id, [el("p", {}, "Not run yet.")]);
      g.addEventListener("click", open);
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
    }
  }
  if (runID && live(main.dataset.status)) poll();
})();
