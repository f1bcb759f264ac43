/* heapviz report explorer, the page: the state (sample type, granularity, nodecount,
 * nodefraction, a stack of focus/ignore/hide/show refinements, the flame graph's mode), the form
 * and the refinement chips, context menus on graph nodes, table rows and flame frames, the URL
 * fragment (#explore?…) that reopens a view, the "copy command" line, and the keyboard (`/` to
 * the filter box, Esc clears it). Every view (explore_views.js, explore_leaks.js,
 * explore_flame.js) is recomputed from one selection per state; in the report's own state the
 * report's own elements are shown.
 * window.heapvizExplorer: {refine(options) -> Promise, compute(options), state(), setState(s), lastGraph, ...}
 */
(function () {
  "use strict";
  var X = window.heapvizExplorer;
  var form = document.getElementById("explorer");
  if (!X || !form) { return; }
  var D = X.D, KINDS = ["focus", "ignore", "hide", "show"];
  var status = document.getElementById("explorer-status");
  var chips = document.getElementById("explorer-refinements");
  var types = D.sample_types.map(function (v) { return v.type; });

  function initialState() {
    var o = D.options, s = {sample_index: o.sample_index, granularity: o.granularity, node_count: o.node_count,
                            node_fraction: o.node_fraction, flame: "top-down", flame_fn: ""};
    KINDS.forEach(function (k) { s[k] = o[k] ? [o[k]] : []; });
    return s;
  }
  var INITIAL = initialState(), state = initialState();

  function options(s) {  // the state as heapviz's options (explore.js's compute)
    var o = Object.assign({}, D.options, {sample_index: s.sample_index, granularity: s.granularity,
                                          node_count: s.node_count, node_fraction: s.node_fraction});
    KINDS.forEach(function (k) { o[k] = s[k].join("|"); });
    return o;
  }
  function viewKey(s) { return JSON.stringify(options(s)); }
  function isInitial(s) { return viewKey(s) === viewKey(INITIAL); }

  // ---- the URL fragment: #explore?t=alloc_space&focus=main&g=lines&nc=80&nf=0.005&flame=bottom-up
  function toFragment(s) {
    var p = new URLSearchParams();
    p.set("t", types[s.sample_index]);
    if (s.granularity !== INITIAL.granularity) { p.set("g", s.granularity); }
    if (s.node_count !== INITIAL.node_count) { p.set("nc", String(s.node_count)); }
    if (s.node_fraction !== INITIAL.node_fraction) { p.set("nf", String(s.node_fraction)); }
    KINDS.forEach(function (k) { s[k].forEach(function (r) { p.append(k, r); }); if (!s[k].length && INITIAL[k].length) { p.append(k, ""); } });
    if (s.flame !== "top-down") { p.set("flame", s.flame); }
    if (s.flame_fn) { p.set("fn", s.flame_fn); }
    return "#explore?" + p.toString();
  }
  function fromFragment(hash) {
    if (hash.indexOf("#explore?") !== 0) { return null; }
    var p = new URLSearchParams(hash.slice("#explore?".length)), s = initialState();
    var t = types.indexOf(p.get("t"));
    if (t >= 0) { s.sample_index = t; }
    if (["functions", "files", "lines"].indexOf(p.get("g")) >= 0) { s.granularity = p.get("g"); }
    if (p.has("nc") && !isNaN(parseInt(p.get("nc"), 10))) { s.node_count = Math.max(0, parseInt(p.get("nc"), 10)); }
    if (p.has("nf") && !isNaN(parseFloat(p.get("nf")))) { s.node_fraction = Math.max(0, parseFloat(p.get("nf"))); }
    KINDS.forEach(function (k) { if (p.has(k)) { s[k] = p.getAll(k).filter(function (r) { return r; }); } });
    if (["top-down", "bottom-up", "sandwich"].indexOf(p.get("flame")) >= 0) { s.flame = p.get("flame"); }
    s.flame_fn = p.get("fn") || "";
    return s;
  }

  // ---- the command line that writes this view's graph
  function quote(a) { return /^[A-Za-z0-9_.\/:=@%+,-]+$/.test(a) ? a : "'" + a.replace(/'/g, "'\\''") + "'"; }
  function command(s) {
    var o = options(s), args = ["heapviz", "graph"];
    KINDS.forEach(function (k) { if (o[k]) { args.push("--" + k, o[k]); } });
    if (o.granularity !== "functions") { args.push("--" + o.granularity); }
    args.push("--nodecount", String(o.node_count), "--nodefraction", String(o.node_fraction));
    args.push("--sample-index", types[o.sample_index]);
    (D.command && D.command.base || []).forEach(function (b) { args.push("--base", b); });
    (D.command && D.command.profiles || []).forEach(function (p) { args.push(p); });
    args.push("-o", "out.svg");
    return args.map(quote).join(" ");
  }

  // ---- the form and the chips show the state
  function field(name) { return form.elements.namedItem(name); }
  function writeForm(s) {
    KINDS.forEach(function (k) { field(k).value = s[k].join("|"); });
    field("sample_index").value = String(s.sample_index);
    field("granularity").value = s.granularity;
    field("node_count").value = String(s.node_count);
    field("node_fraction").value = String(s.node_fraction);
    if (!chips) { return; }
    while (chips.firstChild) { chips.removeChild(chips.firstChild); }
    KINDS.forEach(function (k) {
      s[k].forEach(function (r, i) {
        var x = X.el("button", {type: "button", cls: "chip-x", title: "remove this refinement", "aria-label": "remove " + k + " " + r, text: "×"});
        x.addEventListener("click", function () {
          var next = copy(state);
          next[k].splice(i, 1);
          go(next);
        });
        chips.appendChild(X.el("span", {cls: "chip chip-" + k}, [X.el("span", {cls: "k", text: k + " "}), X.el("code", {text: r}), x]));
      });
    });
  }
  function readForm() {
    var s = copy(state);
    KINDS.forEach(function (k) {
      var v = field(k).value;
      if (v !== s[k].join("|")) { s[k] = v ? [v] : []; }
    });
    s.sample_index = parseInt(field("sample_index").value, 10);
    s.granularity = field("granularity").value;
    s.node_count = Math.max(0, parseInt(field("node_count").value, 10) || 0);
    s.node_fraction = Math.max(0, parseFloat(field("node_fraction").value) || 0);
    return s;
  }
  function copy(s) { return JSON.parse(JSON.stringify(s)); }

  // ---- the graph view: the report's SVG in its own state, else laid out here by Viz
  var viz = null, layoutSeq = 0;
  var originalViewport = document.getElementById("graph-viewport");
  function layout(dot) {
    if (!viz) { viz = Viz.instance(); }
    return viz.then(function (v) { return v.renderSVGElement(dot); });
  }
  function showViewport(box) {
    var old = document.getElementById("graph-viewport");
    if (old === box) { return; }
    old.parentNode.replaceChild(box, old);
    var bar = document.querySelector(".toolbar[data-for='graph-viewport']");
    if (bar) { bar.parentNode.replaceChild(bar.cloneNode(true), bar); }  // drops the old viewer's listeners
    if (window.heapvizReport) { window.heapvizReport.viewer(box); }
    attachGraphClicks(box);
  }
  var graphHeading = document.querySelector("#graph h2 small"), graphHeadingText = graphHeading ? graphHeading.textContent : "";
  function renderGraph(ctx) {
    var seq = ++layoutSeq, g = ctx.graph;
    if (graphHeading) { graphHeading.textContent = ctx.initial ? graphHeadingText : "(" + types[ctx.sel.t] + ", " + g.nodes.length + " nodes)"; }
    var summary = g.nodes.length + " nodes, " + g.edges.length + " edges" + (g.warnings.length ? "; " + g.warnings.join("; ") : "");
    if (ctx.initial) {
      showViewport(originalViewport);
      status.textContent = summary;
      return Promise.resolve(g);
    }
    status.textContent = "Laying out " + g.nodes.length + " nodes…";
    return layout(g.dot).then(function (svg) {
      if (seq !== layoutSeq) { return g; }  // a later state is being drawn
      var box = document.createElement("div");
      box.className = "viewport";
      box.id = "graph-viewport";
      svg.removeAttribute("width");
      svg.removeAttribute("height");
      box.appendChild(svg);
      showViewport(box);
      status.textContent = summary;
      return g;
    }, function (e) {
      status.textContent = "Graphviz failed: " + e.message;
      return null;
    });
  }

  // ---- one state, every view
  var current = null;
  var loaded = false;
  X.loaded.then(function () { loaded = true; }, function () {});
  function go(s, push) {
    if (!loaded) { return X.loaded.then(function () { return go(s, push); }); }  // the data is still being decoded
    var o = options(s), sel, clock = performance.now(), times = {};
    var lap = function (name) { var now = performance.now(); times[name] = (times[name] || 0) + now - clock; clock = now; };
    X.timings = times;  // each phase's milliseconds (bench/explorer_bench.py)
    try {
      sel = X.select(o);
      lap("select");
    } catch (e) {
      status.textContent = e.message;
      writeForm(s);
      return Promise.resolve(null);
    }
    state = s;
    var g = X.graphOf(sel);
    lap("graph");
    X.lastGraph = g;
    X.lastDot = g.dot;
    var ctx = {state: s, sel: sel, graph: g, initial: isInitial(s), key: viewKey(s)};
    current = ctx;
    writeForm(s);
    X.views.forEach(function (v) { v.render(ctx); lap(v.name); });
    var filter = document.getElementById("filter");
    if (filter && filter.value) { filter.dispatchEvent(new Event("input")); }
    var frag = ctx.initial && s.flame === "top-down" ? "" : toFragment(s);
    if (frag !== location.hash && (frag || location.hash.indexOf("#explore") === 0)) {
      history.replaceState(null, "", frag || location.pathname + location.search);
    }
    var note = document.getElementById("explorer-note");
    if (note) {  // the answer at the top stays the report's: say which view the sections below show
      note.hidden = ctx.initial && s.flame === "top-down";
      var what = [types[s.sample_index]].concat(KINDS.filter(function (k) { return s[k].length; }).map(function (k) { return k + "=" + s[k].join("|"); }));
      if (s.granularity !== INITIAL.granularity) { what.push(s.granularity); }
      note.textContent = "The explorer shows another view (" + what.join(", ") + "): the call graph and the sections after it follow it; " +
        "this summary is the report as written. Reset (at the call graph) returns to it.";
    }
    var cmd = document.getElementById("explorer-command");
    if (cmd) { cmd.textContent = command(s); }
    return renderGraph(ctx).then(function (got) { lap("layout"); return got; });
  }
  X.rerender = function () { if (current) { X.views.forEach(function (v) { if (v.name === "flame") { v.render(current); } }); } };
  X.refine = function (o) {  // the report's state with these options, as explore.js's compute takes them (tests, scripts)
    var s = initialState();
    o = o || {};
    ["sample_index", "granularity", "node_count", "node_fraction"].forEach(function (k) { if (k in o) { s[k] = o[k]; } });
    KINDS.forEach(function (k) { if (k in o) { s[k] = o[k] ? [o[k]] : []; } });
    if ("flame" in o) { s.flame = o.flame; }
    if ("flame_fn" in o) { s.flame_fn = o.flame_fn; }
    return go(s);
  };
  X.state = function () { return copy(state); };
  // every view's numbers for a state, as JSON (tests compare them with Python's)
  X.snapshot = function (o) {
    var sel = X.select(Object.assign({}, D.options, o)), g = X.graphOf(sel);
    var tree = function (n) {
      return {name: n.name, cum: n.cum, self: n.self, delta: n.delta, inline: !n.direct, kids: X.sortedKids(n).map(tree)};
    };
    var leaks = X.leakSites(sel);
    return {tables: X.tableTypes(sel.t).reduce(function (acc, t) { return acc.concat([X.topRows(sel, t, false), X.topRows(sel, t, true)]); }, []),
            peek: X.peekRows(sel, g.unit), leak_total: leaks.total,
            leaks: leaks.sites.map(function (s) {
              return {rank: s.rank, value: s.value, bytes: s.bytes, objects: s.objects, frames: s.frames.map(function (f) {
                return [f.function, f.file, f.line, f.inline, f.user];
              })};
            }),
            flame: tree(X.buildTree(sel, "top-down", -1).root), unit: g.unit,
            sources: X.sources(sel, leaks.sites, function (v) { return X.formatValue(v, D.sample_types[sel.t].unit, g.unit); })
              .map(function (s) {
                return {rank: s.rank, blocks: s.blocks.map(function (b) {
                  return {function: b.function, file: b.file, line: b.line, frames: b.frames, rows: b.rows.map(function (r) {
                    return [r.line, r.site_text, r.all_text, r.hot, r.code ? r.code.textContent : null];
                  })};
                })};
              })};
  };
  X.current = function () { return current; };
  X.command = function () { return command(state); };
  X.reset = function () { return go(initialState()); };

  // ---- refinements from a node's name: the functions behind it, as a regex both Python and JavaScript read alike
  function esc(text) { return text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&"); }
  function regexFor(name) {
    var sel = current.sel, id = sel.names.indexOf(name);
    if (id < 0) { return "^" + esc(name) + "$"; }
    var info = sel.infos[id];
    if (sel.o.granularity === "files" && info.file) { return "^" + esc(info.file) + "$"; }
    var fn = D.line_function[sel.firstLine[id]];
    return "^" + esc(X.S[D.functions[4 * fn + 1]]) + "$";
  }
  X.regexFor = regexFor;
  function addRefinement(kind, name) {
    var s = copy(state), r = regexFor(name);
    if (s[kind].indexOf(r) < 0) { s[kind].push(r); }
    return go(s);
  }
  X.addRefinement = addRefinement;

  // ---- the context menu
  var menu = X.el("div", {id: "explorer-menu", cls: "explorer-menu", role: "menu", hidden: ""});
  document.body.appendChild(menu);
  function closeMenu() { menu.hidden = true; }
  function openMenu(e, name, extra) {
    while (menu.firstChild) { menu.removeChild(menu.firstChild); }
    menu.appendChild(X.el("div", {cls: "menu-title", text: name}));
    var items = [["focus", "Focus on it (keep stacks through it)"], ["ignore", "Ignore it (drop stacks through it)"],
                 ["hide", "Hide it (remove its frames)"], ["show", "Show only it (keep only its frames)"]];
    items.forEach(function (it) {
      var b = X.el("button", {type: "button", role: "menuitem", "data-action": it[0], text: it[1]});
      b.addEventListener("click", function () { closeMenu(); addRefinement(it[0], name); });
      menu.appendChild(b);
    });
    (extra || []).forEach(function (it) {
      var b = X.el("button", {type: "button", role: "menuitem", "data-action": it[0], text: it[1]});
      b.addEventListener("click", function () { closeMenu(); it[2](); });
      menu.appendChild(b);
    });
    menu.hidden = false;
    var x = Math.min(e.clientX, window.innerWidth - 300), y = Math.min(e.clientY, window.innerHeight - 200);
    menu.style.left = Math.max(0, x) + "px";
    menu.style.top = Math.max(0, y) + "px";
    var first = menu.querySelector("button");
    if (first) { first.focus(); }
    e.stopPropagation();
  }
  X.openMenu = openMenu;
  document.addEventListener("click", function (e) { if (!menu.hidden && !menu.contains(e.target)) { closeMenu(); } });
  function sandwich(name) { var s = copy(state); s.flame = "sandwich"; s.flame_fn = name; return go(s); }
  X.frameMenu = function (e, name, isFrame, zoom) {
    if (!current) { return; }
    zoom();  // a click zooms, as in every flame graph; the menu offers the refinements beside it
    if (isFrame) { openMenu(e, name, [["sandwich", "Sandwich: its callers and callees", function () { sandwich(name); }]]); }
  };

  var down = null;
  function attachGraphClicks(box) {
    box.addEventListener("mousedown", function (e) { down = [e.clientX, e.clientY]; });
    box.addEventListener("click", function (e) {
      if (down && Math.abs(e.clientX - down[0]) + Math.abs(e.clientY - down[1]) > 4) { return; }  // a drag to pan
      var g = e.target.closest && e.target.closest("g.node");
      if (!g || !current) { return; }
      var m = /^node(\d+)$/.exec(g.id);
      var n = m && current.graph.nodes[parseInt(m[1], 10) - 1];
      if (n) { e.preventDefault(); openMenu(e, n.name); }
    });
  }
  attachGraphClicks(originalViewport);
  // rows of the top tables, callers/callees and the leak sites' frames
  function nameIn(target) {
    var c = target.closest("[data-node]");
    if (c) { return c.getAttribute("data-node"); }
    var row = target.closest("#tables tbody tr, #peek tbody tr, #leaks table.stack tr");
    if (!row) { return null; }
    if (row.closest("#tables")) { return (row.getAttribute("data-names") || "").split("\n")[0].replace(/ \((partial-)?inline\)$/, ""); }
    var cell = row.querySelector("td.name, td.fn");
    var text = cell && cell.firstChild && cell.firstChild.nodeType === 3 ? cell.firstChild.textContent : (cell ? cell.textContent : "");
    return text.trim() || null;
  }
  document.addEventListener("click", function (e) {
    if (!current || !e.target.closest || e.target.closest("a, button, summary, input, th")) { return; }
    if (!e.target.closest("#tables, #peek, #leaks")) { return; }
    if (window.getSelection && String(window.getSelection())) { return; }  // selecting text to copy it
    var name = nameIn(e.target);
    if (name && e.target.closest("td, code")) { openMenu(e, name); }
  });

  // ---- keyboard: `/` to the filter box, Esc clears it (and closes the menu); nothing else
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      if (!menu.hidden) { closeMenu(); return; }
      var t = e.target;
      if (t && (t.id === "filter" || t.id === "flame-search")) {
        t.value = "";
        t.dispatchEvent(new Event("input"));
        t.blur();
      }
      return;
    }
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (e.target && e.target.isContentEditable)) { return; }
    var box = document.getElementById("filter");
    if (box) { e.preventDefault(); box.focus(); box.select(); }
  });

  // in-page links keep the explorer's fragment: they scroll instead of replacing it
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[href^='#']");
    if (!a || location.hash.indexOf("#explore?") !== 0 || e.defaultPrevented) { return; }
    var target = document.getElementById(decodeURIComponent(a.getAttribute("href").slice(1)));
    if (!target) { return; }
    e.preventDefault();
    for (var p = target; p; p = p.parentElement) { if (p.tagName === "DETAILS") { p.open = true; } }
    target.scrollIntoView();
  });

  // ---- wiring
  form.hidden = false;
  form.addEventListener("submit", function (e) { e.preventDefault(); go(readForm()); });
  form.addEventListener("change", function (e) { if (e.target.name) { go(readForm()); } });
  form.addEventListener("reset", function (e) { e.preventDefault(); go(initialState()); });
  var copyButton = document.getElementById("explorer-copy");
  if (copyButton) {
    copyButton.addEventListener("click", function () {
      var text = command(state), done = function () { copyButton.textContent = "Copied"; setTimeout(function () { copyButton.textContent = "Copy command"; }, 1500); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { selectCommand(); });
      } else { selectCommand(); }
    });
  }
  function selectCommand() {
    var cmd = document.getElementById("explorer-command"), r = document.createRange();
    r.selectNodeContents(cmd);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(r);
  }
  var modes = document.getElementById("flame-modes");
  if (modes) {
    modes.hidden = false;
    Array.prototype.forEach.call(modes.querySelectorAll("button[data-mode]"), function (b) {
      b.addEventListener("click", function () {
        var s = copy(state);
        s.flame = b.getAttribute("data-mode");
        if (s.flame === "sandwich" && !s.flame_fn && current && current.graph.nodes.length) { s.flame_fn = current.graph.nodes[0].name; }
        go(s);
      });
    });
  }
  window.addEventListener("hashchange", function () {
    var s = fromFragment(location.hash);
    if (s && viewKey(s) + s.flame + s.flame_fn !== viewKey(state) + state.flame + state.flame_fn) { go(s); }
  });
  // after the first paint: the report reads (and scrolls) while the explorer computes its state
  X.ready = X.loaded.then(function () {
    return new Promise(function (resolve) {
      setTimeout(function () { resolve(go(fromFragment(location.hash) || initialState())); }, 0);
    });
  }, function (e) { status.textContent = e.message; throw e; });
})();
