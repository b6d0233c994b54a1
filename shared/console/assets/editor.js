// The campaign editor: the YAML text is the source of truth. As you type, the
// API validates it (diagnostics underlined at their line and column, and
// listed) and the server draws it (the canvas is derived, never edited here).
// Ctrl-Space completes from the campaign JSON Schema. Save sends the revision
// the page read; a 409 keeps your text. No inline script or style (CSP).
"use strict";
(function () {
  const page = document.getElementById("editor-page");
  if (!page) return;
  const id = page.dataset.campaign;
  const csrf = page.dataset.csrf;
  let rev = Number(page.dataset.rev);
  const ta = document.getElementById("source");
  const marks = document.getElementById("marks");
  const gutter = document.getElementById("gutter");
  const box = document.getElementById("completions");
  const summary = document.getElementById("diag-summary");
  const diagList = document.getElementById("diagnostics");
  const canvas = document.getElementById("canvas");
  const canvasStatus = document.getElementById("canvas-status");
  const saveStatus = document.getElementById("save-status");
  const conflict = document.getElementById("conflict");
  const form = document.getElementById("edit-form");
  let saved = ta.value; // the text as the server has it at rev
  let diags = [];

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function send(method, url, body) {
    const headers = { Accept: "application/json" };
    const init = { method, credentials: "same-origin", headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body);
    }
    const r = await fetch(url, init);
    const data = await r.json().catch(() => ({}));
    return { status: r.status, ok: r.ok, data };
  }
  const errText = (res) => (res.data.error && res.data.error.message) || "HTTP " + res.status;

  // ---- Line numbers and the marks layer (behind the transparent textarea).

  function lineCount(s) {
    let n = 1;
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 10) n++;
    return n;
  }
  let shownLines = 0;
  function renderGutter() {
    const n = lineCount(ta.value);
    if (n === shownLines) return;
    shownLines = n;
    const nums = [];
    for (let i = 1; i <= n; i++) nums.push(i);
    gutter.textContent = nums.join("\n") + "\n\n\n"; // room for the textarea's scrollbar
  }

  // tokenEnd is where the word a diagnostic points at ends: a key, a value.
  function tokenEnd(line, start) {
    const m = /^[^\s:,{}\[\]#]+/.exec(line.slice(start));
    return start + (m ? m[0].length : 1);
  }

  // inText tells a diagnostic of this text from one of another file (the
  // catalog, a message template): validate names the text <id>.yaml (.json).
  function docFile() {
    const json = /^\s*\{/.test(ta.value);
    const m = json ? /"id"\s*:\s*"([a-z0-9-]{1,64})"/.exec(ta.value) : /^id:[ \t]*["']?([a-z0-9-]{1,64})["']?[ \t]*(#.*)?$/m.exec(ta.value);
    return (m ? m[1] : "campaign") + (json ? ".json" : ".yaml");
  }
  const inText = (d, file) => d.line > 0 && d.file === file;

  function renderMarks() {
    const lines = ta.value.split("\n");
    const byLine = new Map();
    const file = docFile();
    for (const d of diags) {
      if (!inText(d, file) || d.line > lines.length) continue;
      const text = lines[d.line - 1];
      let start = d.col > 0 ? d.col - 1 : text.search(/\S/);
      if (start < 0) start = 0;
      start = Math.min(start, text.length);
      const end = d.col > 0 ? tokenEnd(text, start) : text.length;
      if (!byLine.has(d.line)) byLine.set(d.line, []);
      byLine.get(d.line).push({ start, end: Math.max(end, start + 1), d });
    }
    const out = [];
    lines.forEach((text, i) => {
      const ranges = (byLine.get(i + 1) || []).sort((a, b) => a.start - b.start);
      let at = 0;
      for (const r of ranges) {
        if (r.start < at) continue; // overlaps the previous mark
        out.push(document.createTextNode(text.slice(at, r.start)));
        const word = text.slice(r.start, r.end);
        const span = el("span", { class: "diag " + r.d.severity, "data-line": String(r.d.line), "data-col": String(r.d.col) }, word + (r.end > text.length ? " ".repeat(r.end - Math.max(text.length, r.start)) : ""));
        out.push(span);
        at = Math.min(r.end, text.length);
      }
      out.push(document.createTextNode(text.slice(at) + "\n"));
    });
    out.push(document.createTextNode("\n\n"));
    marks.replaceChildren(...out);
    syncScroll();
  }

  function syncScroll() {
    marks.scrollTop = ta.scrollTop;
    marks.scrollLeft = ta.scrollLeft;
    gutter.scrollTop = ta.scrollTop;
  }
  ta.addEventListener("scroll", syncScroll);

  // goTo puts the caret at a line and column and shows it.
  function goTo(line, col) {
    const lines = ta.value.split("\n");
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    pos += Math.max(0, Math.min((col || 1) - 1, (lines[line - 1] || "").length));
    ta.focus();
    ta.setSelectionRange(pos, pos);
    const m = metrics();
    const top = (line - 1) * m.line;
    if (top < ta.scrollTop || top > ta.scrollTop + ta.clientHeight - 2 * m.line) ta.scrollTop = Math.max(0, top - ta.clientHeight / 2);
  }

  // ---- Diagnostics (the API's validate) and the canvas (drawn by the server).

  let seq = 0;
  let lastSummary = "";
  function showDiagnostics(res) {
    if (!res.ok) {
      diags = [];
      setSummary("Not checked: " + errText(res));
      diagList.replaceChildren();
      renderMarks();
      return;
    }
    diags = res.data.diagnostics || [];
    const file = docFile();
    const items = diags.map((d) => {
      const li = el("li", { class: d.severity });
      if (!inText(d, file)) {
        li.textContent = d.text || d.message;
        return li;
      }
      const b = el("button", { type: "button" }, d.text || d.message);
      b.addEventListener("click", () => goTo(d.line, d.col));
      li.append(b);
      return li;
    });
    diagList.replaceChildren(...items);
    const errors = diags.filter((d) => d.severity === "error").length;
    const warnings = diags.length - errors;
    if (diags.length === 0) {
      setSummary("No problems. " + (res.data.output || "").trim());
    } else {
      const first = diags[0];
      const where = first.line ? "line " + first.line + ", column " + first.col + ": " : "";
      setSummary(errors + (errors === 1 ? " error" : " errors") + (warnings ? ", " + warnings + (warnings === 1 ? " warning" : " warnings") : "") + ". First: " + where + first.message);
    }
    renderMarks();
  }
  function setSummary(s) {
    if (s === lastSummary) return; // announced once (aria-live)
    lastSummary = s;
    summary.textContent = s;
  }

  async function check() {
    const mine = ++seq;
    const source = ta.value;
    let v, d;
    try {
      [v, d] = await Promise.all([send("POST", "/ui/validate", { source }), send("POST", "/ui/draw", { source })]);
    } catch (e) {
      if (mine === seq) setSummary("Not checked: " + e.message);
      return;
    }
    if (mine !== seq) return; // a newer check is on its way
    showDiagnostics(v);
    if (d.ok && d.data.svg) {
      const doc = new DOMParser().parseFromString(d.data.svg, "image/svg+xml");
      const svg = doc.documentElement;
      if (svg && svg.nodeName === "svg") {
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", "Canvas of the text: " + d.data.activities + " activities");
        canvas.replaceChildren(document.importNode(svg, true));
        canvasStatus.textContent = d.data.activities + " activities, drawn from the text.";
      }
    } else if (d.ok) {
      canvasStatus.textContent = (d.data.error || "The text does not parse") + " (the canvas shows the last text that did).";
    }
  }

  let timer = 0;
  function changed() {
    renderGutter();
    renderMarks();
    clearTimeout(timer);
    timer = setTimeout(check, 350);
    if (ta.value !== saved && !saveStatus.classList.contains("error")) saveStatus.textContent = "Unsaved changes.";
  }
  ta.addEventListener("input", () => {
    changed();
    if (open) complete(false);
  });

  // ---- Editing keys: Tab indents, Enter keeps the indentation.

  function insert(text, from, to) {
    ta.focus();
    if (from !== undefined) ta.setSelectionRange(from, to);
    // execCommand keeps the browser's undo; setRangeText where it is gone.
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      ta.setRangeText(text, ta.selectionStart, ta.selectionEnd, "end");
      ta.dispatchEvent(new Event("input"));
    }
  }

  // replaceAll puts a whole other text in the editor (inserting it as typed
  // text would cost seconds for a long document).
  function replaceAll(text) {
    ta.value = text;
    ta.setSelectionRange(0, 0);
    ta.scrollTop = 0;
    ta.dispatchEvent(new Event("input"));
  }

  function lineStart(pos) {
    return ta.value.lastIndexOf("\n", pos - 1) + 1;
  }

  function indentLines(out) {
    const v = ta.value;
    const s = lineStart(ta.selectionStart);
    let e = v.indexOf("\n", ta.selectionEnd - (ta.selectionEnd > ta.selectionStart && v[ta.selectionEnd - 1] === "\n" ? 1 : 0));
    if (e < 0) e = v.length;
    const block = v.slice(s, e).split("\n").map((l) => (out ? l.replace(/^ {1,2}/, "") : "  " + l)).join("\n");
    insert(block, s, e);
    ta.setSelectionRange(s, s + block.length);
  }

  let leaving = false; // Escape, then Tab, leaves the editor
  ta.addEventListener("keydown", (e) => {
    if (open) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        select(active + (e.key === "ArrowDown" ? 1 : -1));
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        accept(active);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        close();
        return;
      }
    }
    if (e.ctrlKey && (e.key === " " || e.code === "Space")) {
      e.preventDefault();
      complete(true);
      return;
    }
    if (e.key === "Escape") {
      leaving = true;
      return;
    }
    if (e.key === "Tab" && !leaving && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      if (e.shiftKey || ta.selectionStart !== ta.selectionEnd) indentLines(e.shiftKey);
      else insert("  ");
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey && ta.selectionStart === ta.selectionEnd) {
      const s = lineStart(ta.selectionStart);
      const before = ta.value.slice(s, ta.selectionStart);
      let ind = /^[ ]*/.exec(before)[0];
      const dash = /^([ ]*)- /.exec(before);
      if (dash && /:\s*$/.test(before)) ind = dash[1] + "    ";
      else if (dash) ind = dash[1] + "  ";
      else if (/:\s*$/.test(before)) ind += "  ";
      e.preventDefault();
      insert("\n" + ind);
      return;
    }
    if (e.key !== "Shift") leaving = false;
  });

  // ---- Completion from the campaign JSON Schema.

  let schema = null;
  async function loadSchema() {
    if (schema) return schema;
    const r = await send("GET", "/ui/schema/campaign.json");
    if (r.ok) schema = r.data;
    return schema;
  }
  loadSchema();

  function deref(s) {
    for (let i = 0; s && s.$ref && i < 20; i++) s = schema.$defs[s.$ref.replace("#/$defs/", "")];
    return s || {};
  }
  // alts are a schema and its oneOf/anyOf alternatives.
  function alts(s, depth) {
    s = deref(s);
    const out = [s];
    if ((depth || 0) > 4) return out;
    for (const k of ["oneOf", "anyOf"]) for (const x of s[k] || []) out.push(...alts(x, (depth || 0) + 1));
    return out;
  }
  // holds tells whether an if-schema matches a mapping's known values.
  function holds(cond, sib) {
    for (const [k, v] of Object.entries(cond.properties || {})) {
      if ("const" in v && String(sib[k]) !== String(v.const)) return false;
    }
    return true;
  }
  // props are the keys a mapping of schema s may have, given its other values
  // (an activity's type brings its configuration's keys).
  function props(s, sib) {
    const out = {};
    for (const a of alts(s)) {
      for (const [k, v] of Object.entries(a.properties || {})) if (!(k in out)) out[k] = v;
      for (const c of a.allOf || []) {
        if (c.if && c.then && holds(c.if, sib)) {
          for (const [k, v] of Object.entries(deref(c.then).properties || {})) if (!(k in out)) out[k] = v;
        }
      }
    }
    return out;
  }
  function child(s, seg, sib) {
    if (!s) return null;
    if (seg === "[]") {
      for (const a of alts(s)) if (a.items && typeof a.items === "object") return a.items;
      return null;
    }
    const p = props(s, sib);
    if (p[seg]) return p[seg];
    for (const a of alts(s)) if (a.additionalProperties && typeof a.additionalProperties === "object") return a.additionalProperties;
    return null;
  }
  function describe(s) {
    s = deref(s);
    return s.description || s.type || (s.oneOf ? "one of several forms" : "");
  }

  // A line of block YAML: its dashes, its key and where they are.
  function info(line) {
    if (/^\s*(#|$)/.test(line)) return null;
    const m = /^( *)((?:-(?: +|$))*)(.*)$/.exec(line);
    const dashes = [];
    let c = m[1].length;
    for (const part of m[2].match(/-( +|$)/g) || []) {
      dashes.push(c);
      c += part.length;
    }
    const k = /^("[^"]*"|'[^']*'|[^\s:#{}\[\],"'][^:#{}\[\],]*?)\s*:(?:\s|$)/.exec(m[3]);
    const r = { indent: m[1].length, dashes, col: c };
    if (k) {
      r.key = k[1].replace(/^["']|["']$/g, "");
      r.value = m[3].slice(k[0].length).replace(/\s+#.*$/, "").trim();
    }
    return r;
  }

  // siblings are the keys and scalar values of the block mapping at column
  // col around line row (skip: a line to leave out).
  function siblings(lines, row, col, skip) {
    const out = {};
    const take = (i, li) => {
      if (i !== skip && li && li.key !== undefined && li.col === col) out[li.key] = li.value;
    };
    take(row, info(lines[row] || ""));
    const own = info(lines[row] || "");
    if (!(own && own.dashes.length && own.col === col)) {
      for (let i = row - 1; i >= 0; i--) {
        const li = info(lines[i]);
        if (!li) continue;
        if (li.col === col) {
          take(i, li);
          if (li.dashes.length) break; // the item's first line
          continue;
        }
        if (li.indent >= col) continue;
        break;
      }
    }
    for (let i = row + 1; i < lines.length; i++) {
      const li = info(lines[i]);
      if (!li) continue;
      if (li.dashes.length && li.dashes[li.dashes.length - 1] < col) break;
      if (li.indent > col) continue;
      if (li.indent < col) break;
      take(i, li);
    }
    return out;
  }

  // context finds what the caret is in: the path of mappings and sequences
  // from the document's top, the values around, and whether a key or a value
  // is being typed.
  function context() {
    const v = ta.value;
    const pos = ta.selectionStart;
    const s = lineStart(pos);
    const lines = v.split("\n");
    const row = lineCount(v.slice(0, s)) - 1;
    const before = v.slice(s, pos);
    const cur = info(before) || { indent: before.length, dashes: [], col: before.length };
    // The flow collections ({…} and […]) open before the caret on this line.
    const flow = [];
    let tok = "";
    let key = null;
    let quote = "";
    for (let i = cur.col; i < before.length; i++) {
      const ch = before[i];
      if (quote) {
        if (ch === quote) quote = "";
        tok += ch;
        continue;
      }
      const top = flow[flow.length - 1];
      if (ch === '"' || ch === "'") {
        quote = ch;
        tok += ch;
      } else if (ch === "{" || ch === "[") {
        const via = top ? (top.kind === "seq" ? "[]" : key) : key;
        flow.push({ kind: ch === "{" ? "map" : "seq", via, sib: {} });
        tok = "";
        key = null;
      } else if (ch === "}" || ch === "]") {
        flow.pop();
        tok = "";
        key = null;
      } else if (ch === ":" && (i + 1 >= before.length || /\s/.test(before[i + 1])) && key === null) {
        key = tok.trim().replace(/^["']|["']$/g, "");
        tok = "";
      } else if (ch === ",") {
        if (top && top.kind === "map" && key !== null) top.sib[key] = tok.trim();
        tok = "";
        key = null;
      } else if (ch === "#" && /\s/.test(before[i - 1] || " ")) {
        return null; // in a comment
      } else {
        tok += ch;
      }
    }
    if (quote) return null;
    // The block path, walking up the lines from the caret's.
    const rev = [];
    let want = cur.col;
    let at = row;
    for (let j = cur.dashes.length - 1; j >= 0; j--) {
      if (cur.dashes[j] < want) {
        rev.push({ seg: "[]", col: want, line: row });
        want = cur.dashes[j];
      }
    }
    for (let i = row - 1; i >= 0 && want > 0; i--) {
      const li = info(lines[i]);
      if (!li) continue;
      if (li.key !== undefined && li.col < want && li.value === "") {
        rev.push({ seg: li.key, col: want, line: at });
        want = li.col;
        at = i;
      }
      for (let j = li.dashes.length - 1; j >= 0; j--) {
        if (li.dashes[j] < want) {
          rev.push({ seg: "[]", col: want, line: i });
          want = li.dashes[j];
          at = i;
        }
      }
    }
    rev.reverse();
    const path = rev.map((r, k) => ({ seg: r.seg, sib: k + 1 < rev.length && rev[k + 1].seg === "[]" ? {} : siblings(lines, r.line, r.col, -1) }));
    const root = siblings(lines, at, want, -1);
    const prefix = tok.trimStart();
    const ctx = { root, path, prefix, from: pos - prefix.length, to: pos };
    if (flow.length) {
      // Each open collection is a node below the line's block mapping: under
      // the key before it, or an item of the sequence it is in.
      const setSib = (sib) => {
        if (path.length) path[path.length - 1].sib = sib;
        else ctx.root = sib;
      };
      for (const f of flow) {
        if (f.via !== null) path.push({ seg: f.via, sib: {} });
        setSib(f.kind === "map" ? f.sib : {});
      }
      const top = flow[flow.length - 1];
      if (top.kind === "seq") return Object.assign(ctx, { mode: "value", key: "[]" });
      if (key !== null) return Object.assign(ctx, { mode: "value", key });
      return Object.assign(ctx, { mode: "key", existing: top.sib });
    }
    if (key !== null) return Object.assign(ctx, { mode: "value", key });
    if (/\s/.test(prefix)) return null; // a plain scalar in a sequence
    const mine = siblings(lines, row, cur.col, row);
    if (path.length) path[path.length - 1].sib = mine;
    else ctx.root = mine;
    return Object.assign(ctx, { mode: "key", existing: mine });
  }

  // candidates are the completions at the caret: keys valid in its mapping
  // (less those it has), or the values a key allows (enums, booleans).
  function candidates() {
    if (!schema) return [];
    const ctx = context();
    if (!ctx) return [];
    let s = deref({ $ref: schema.$ref });
    let sib = ctx.root;
    for (const p of ctx.path) {
      s = child(s, p.seg, sib);
      sib = p.sib;
      if (!s) return [];
    }
    let out = [];
    if (ctx.mode === "key") {
      for (const [k, v] of Object.entries(props(s, sib))) {
        if (!(k in ctx.existing)) out.push({ label: k, insert: k + ": ", hint: describe(v) });
      }
    } else {
      const vs = child(s, ctx.key, sib);
      if (!vs) return [];
      const seen = new Set();
      for (const a of alts(vs)) {
        for (const x of a.enum || []) seen.add(String(x));
        if ("const" in a) seen.add(String(a.const));
        if (a.type === "boolean") ["true", "false"].forEach((x) => seen.add(x));
      }
      out = [...seen].map((x) => ({ label: x, insert: x, hint: "" }));
    }
    const pre = ctx.prefix.toLowerCase();
    out = out.filter((c) => c.label.toLowerCase().startsWith(pre) && c.insert !== ctx.prefix);
    return out.map((c) => Object.assign(c, { from: ctx.from, to: ctx.to }));
  }

  let open = false;
  let items = [];
  let active = 0;
  ta.setAttribute("aria-autocomplete", "list");
  ta.setAttribute("aria-controls", "completions");
  ta.setAttribute("aria-expanded", "false");

  function metrics() {
    const cs = getComputedStyle(ta);
    const ctx2d = document.createElement("canvas").getContext("2d");
    ctx2d.font = cs.font;
    return { ch: ctx2d.measureText("MMMMMMMMMM").width / 10, line: parseFloat(cs.lineHeight) || 20, left: parseFloat(cs.paddingLeft), top: parseFloat(cs.paddingTop) };
  }

  async function complete(explicit) {
    if (!(await loadSchema())) return;
    items = candidates();
    if (items.length === 0) {
      close();
      if (explicit) setSummaryHint("No completion here.");
      return;
    }
    open = true;
    active = Math.min(active, items.length - 1);
    if (explicit) active = 0;
    box.replaceChildren(
      ...items.map((c, i) => {
        const li = el("li", { role: "option", id: "cmp-" + i, "aria-selected": "false", "data-value": c.label }, c.label);
        if (c.hint) li.append(el("small", {}, c.hint));
        li.addEventListener("mousedown", (e) => {
          e.preventDefault();
          accept(i);
        });
        return li;
      })
    );
    const m = metrics();
    const before = ta.value.slice(0, ta.selectionStart);
    const row = lineCount(before) - 1;
    const col = before.length - lineStart(ta.selectionStart);
    // The caret's line in view, then the list under it (over it near the bottom).
    if (row * m.line < ta.scrollTop || (row + 1) * m.line + 2 * m.top > ta.scrollTop + ta.clientHeight) {
      ta.scrollTop = Math.max(0, row * m.line - ta.clientHeight / 2);
      syncScroll();
    }
    box.hidden = false;
    const caretTop = m.top + row * m.line - ta.scrollTop;
    const below = caretTop + m.line + 2;
    const h = box.offsetHeight;
    const room = box.parentNode.clientHeight;
    box.style.top = Math.round(below + h > room && caretTop - h - 2 > 0 ? caretTop - h - 2 : below) + "px";
    box.style.left = Math.round(Math.min(gutter.offsetWidth + m.left + col * m.ch - ta.scrollLeft, Math.max(0, box.parentNode.clientWidth - box.offsetWidth))) + "px";
    ta.setAttribute("aria-expanded", "true");
    select(active);
  }
  function setSummaryHint(s) {
    saveStatus.textContent = s;
  }
  function select(i) {
    if (!items.length) return;
    active = (i + items.length) % items.length;
    box.querySelectorAll("li").forEach((li, k) => li.setAttribute("aria-selected", k === active ? "true" : "false"));
    const li = document.getElementById("cmp-" + active);
    ta.setAttribute("aria-activedescendant", "cmp-" + active);
    // Scroll the list only (scrollIntoView would scroll the editor's box too).
    if (li && li.offsetTop < box.scrollTop) box.scrollTop = li.offsetTop;
    else if (li && li.offsetTop + li.offsetHeight > box.scrollTop + box.clientHeight) box.scrollTop = li.offsetTop + li.offsetHeight - box.clientHeight;
  }
  function close() {
    open = false;
    box.hidden = true;
    box.replaceChildren();
    ta.setAttribute("aria-expanded", "false");
    ta.removeAttribute("aria-activedescendant");
  }
  function accept(i) {
    const c = items[i];
    close();
    if (!c) return;
    insert(c.insert, c.from, c.to);
  }
  ta.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== ta) close(); }, 0));
  ta.addEventListener("click", close);

  // ---- Save with the revision read; a 409 keeps the text.

  async function save(text, atRev) {
    saveStatus.classList.remove("error");
    saveStatus.textContent = "Saving…";
    let res;
    try {
      res = await send("POST", "/ui/campaigns/" + encodeURIComponent(id) + "/save", { source: text, rev: atRev });
    } catch (e) {
      saveStatus.classList.add("error");
      saveStatus.textContent = "Not saved: " + e.message;
      return;
    }
    if (res.ok) {
      rev = res.data.rev;
      document.getElementById("rev").value = String(rev);
      saved = text;
      conflict.hidden = true;
      conflict.replaceChildren();
      saveStatus.textContent = "Saved: revision " + rev + (res.data.valid === false ? ", with errors (see the diagnostics)." : ".");
      return;
    }
    saveStatus.classList.add("error");
    if (res.status === 409 && res.data.error && res.data.error.code === "conflict") {
      saveStatus.textContent = "Not saved: someone else saved this campaign.";
      showConflict(text);
      return;
    }
    const details = ((res.data.error && res.data.error.details) || []).map((d) => d.message);
    saveStatus.textContent = "Not saved: " + [errText(res), ...details].join("; ");
  }

  // showConflict explains a 409 and offers to load their version (keeping
  // yours beside it) or to save yours over theirs.
  function showConflict(mine) {
    const load = el("button", { type: "button", id: "load-theirs" }, "Load their version (keep mine beside it)");
    const over = el("button", { type: "button", id: "overwrite" }, "Save mine over theirs");
    conflict.replaceChildren(
      el("p", { id: "conflict-message" }, "Someone else saved " + id + " after you opened it (your text is based on revision " + rev + "). Your text is still in the editor, not saved."),
      load,
      document.createTextNode(" "),
      over
    );
    conflict.hidden = false;
    async function latest() {
      const r = await send("GET", "/ui/campaigns/" + encodeURIComponent(id));
      if (!r.ok) throw new Error(errText(r));
      return r.data;
    }
    load.addEventListener("click", async () => {
      let theirs;
      try {
        theirs = await latest();
      } catch (e) {
        saveStatus.textContent = "Could not load their version: " + e.message;
        return;
      }
      rev = theirs.rev;
      document.getElementById("rev").value = String(rev);
      saved = theirs.source;
      const keep = el("textarea", { id: "mine", rows: "10", readonly: "", "aria-label": "Your text, not saved" });
      keep.value = mine;
      const back = el("button", { type: "button", id: "put-mine-back" }, "Put my text back in the editor");
      back.addEventListener("click", () => replaceAll(mine));
      conflict.replaceChildren(el("p", {}, "The editor now has their revision " + rev + ". Your text is below: copy what you need, or put it back and save it over theirs."), keep, back);
      replaceAll(theirs.source);
      saveStatus.classList.remove("error");
      saveStatus.textContent = "Loaded revision " + rev + ".";
    });
    over.addEventListener("click", async () => {
      try {
        const theirs = await latest();
        await save(mine === ta.value ? mine : ta.value, theirs.rev);
      } catch (e) {
        saveStatus.textContent = "Not saved: " + e.message;
      }
    });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    save(ta.value, rev);
  });
  document.getElementById("review").addEventListener("click", (e) => {
    if (ta.value !== saved) {
      e.preventDefault();
      saveStatus.classList.add("error");
      saveStatus.textContent = "Save first: the review compares the saved draft with the published version.";
    }
  });
  window.addEventListener("beforeunload", (e) => {
    if (ta.value !== saved) e.preventDefault();
  });

  renderGutter();
  renderMarks();
  check();
})();
