/* heapviz report explorer: the leak sites' code (heapviz/report/sources.py) under the explorer's
 * state. The page holds the code of the report's own sites (highlighted by Pygments when the
 * report was written); a recomputed site shows the lines of that code around its hot lines, with
 * per-line values recomputed from the stack table: this site's value on its hot lines, and each
 * line's cum over every shown stack in the function (each sample once per line, as `heapviz list`).
 * Lines whose code the page does not hold are listed with their values and said to be missing.
 */
(function () {
  "use strict";
  var X = window.heapvizExplorer;
  if (!X) { return; }
  var D = X.D, S = X.S, el = X.el;
  var SITES = 10, CONTEXT = 4, LINES = 40;

  function clean(path) {  // source.clean: /proc/self/cwd/ and ./ removed, `..` folded
    ["/proc/self/cwd/", "./"].forEach(function (p) { if (path.indexOf(p) === 0) { path = path.slice(p.length); } });
    if (!path) { return ""; }
    var abs = path[0] === "/", out = [];
    path.split("/").forEach(function (part) {
      if (part === "" || part === ".") { return; }
      if (part === ".." && out.length && out[out.length - 1] !== "..") { out.pop(); } else if (part !== ".." || !abs) { out.push(part); }
    });
    return (abs ? "/" : "") + out.join("/") || (abs ? "/" : ".");
  }

  // the code the page holds: (function, file) -> line -> its code cell
  var code = new Map();
  Array.prototype.forEach.call(document.querySelectorAll("#leaks .src-block"), function (b) {
    var head = b.querySelector(".src-head"), codes = head ? head.querySelectorAll("code") : [];
    if (codes.length < 2) { return; }
    var fn = codes[0].textContent, loc = codes[1].textContent, file = loc.replace(/:\d+$/, "");
    var key = fn + "\u0000" + file, lines = code.get(key) || new Map();
    code.set(key, lines);
    Array.prototype.forEach.call(b.querySelectorAll("table.src tbody tr:not(.gap)"), function (tr) {
      var ln = parseInt(tr.querySelector("td.ln").textContent, 10);
      if (!lines.has(ln)) { lines.set(ln, tr.querySelector("td.code")); }
    });
  });

  // each (function, file, line)'s cum over the selection's samples, for the wanted (function, file) pairs
  function lineCums(sel, wanted) {
    var values = X.column(sel.t), keyOf = new Int32Array(D.line_function.length).fill(-1), keys = new Map(), names = [];
    for (var j = 0; j < D.line_function.length; j++) {
      var fn = D.line_function[j], pair = S[D.functions[4 * fn]] + "\u0000" + clean(S[D.functions[4 * fn + 3]]);
      if (!wanted.has(pair)) { continue; }
      var k = pair + "\u0000" + D.line_number[j], id = keys.get(k);
      if (id === undefined) { id = keys.size; keys.set(k, id); names.push(k); }
      keyOf[j] = id;
    }
    var cum = new Float64Array(keys.size), stamp = new Int32Array(keys.size).fill(-1);
    for (var n = 0; n < sel.ids.length; n++) {
      var v = values[sel.ids[n]];
      if (v === 0) { continue; }
      for (var p = sel.start[sel.ids[n]]; p < sel.start[sel.ids[n] + 1]; p++) {
        var id = keyOf[sel.line[p]];
        if (id >= 0 && stamp[id] !== n) { stamp[id] = n; cum[id] += v; }
      }
    }
    return function (fn, file, line) {
      var id = keys.get(fn + "\u0000" + file + "\u0000" + line);
      return id === undefined ? 0 : cum[id];
    };
  }

  // The code blocks of the first sites: [{rank, blocks: [{frame, frames, function, file, line, rows}]}]
  function sources(sel, sites, fmt) {
    var chosen = sites.slice(0, SITES), groupsOf = [], wanted = new Set();
    chosen.forEach(function (site) {
      var groups = new Map();
      site.frames.forEach(function (f, i) {
        var file = clean(f.file);
        if (!f.user || !file) { return; }
        var key = f.function + "\u0000" + file;
        if (!groups.has(key)) { groups.set(key, {function: f.function, file: file, frames: []}); }
        groups.get(key).frames.push([i, f.line]);
        wanted.add(key);
      });
      groupsOf.push(groups);
    });
    var cumOf = wanted.size ? lineCums(sel, wanted) : null;
    return chosen.map(function (site, k) {
      var budget = LINES, blocks = [];
      groupsOf[k].forEach(function (g, key) {
        if (budget <= 0) { return; }
        var have = code.get(key) || new Map(), hot = [];
        g.frames.forEach(function (f) { if (hot.indexOf(f[1]) < 0) { hot.push(f[1]); } });
        hot.sort(function (a, b) { return a - b; });
        var shown = new Set(hot);
        hot.forEach(function (h) { for (var n = h - CONTEXT; n <= h + CONTEXT; n++) { if (have.has(n)) { shown.add(n); } } });
        var rows = Array.from(shown).sort(function (a, b) { return a - b; }).slice(0, Math.max(budget, hot.length)).map(function (n) {
          var v = cumOf(g.function, g.file, n), isHot = hot.indexOf(n) >= 0;
          return {line: n, site_text: isHot ? fmt(site.value) : "", all_text: v ? fmt(v) : "", hot: isHot, code: have.get(n) || null};
        });
        budget -= rows.length;
        blocks.push({frame: g.frames[0][0], frames: g.frames.map(function (f) { return f[0]; }), function: g.function,
                     file: g.file, line: g.frames[0][1], rows: rows});
      });
      return {rank: site.rank, blocks: blocks};
    }).filter(function (s) { return s.blocks.length; });
  }
  X.sources = sources;

  var cache = {key: null, byRank: null};
  X.siteSource = function (details, site, sel, ctx) {
    if (cache.key !== ctx) {
      var vt = D.sample_types[sel.t];
      var fmt = function (v) { return X.formatValue(v, vt.unit, ctx.graph.unit); };
      cache = {key: ctx, byRank: new Map(), type: vt.type};
      sources(sel, ctx.leaks ? ctx.leaks.sites : [site], fmt).forEach(function (s) { cache.byRank.set(s.rank, s); });
    }
    var src = cache.byRank.get(site.rank);
    if (!src) { return; }
    var box = el("details", {cls: "src"}, [el("summary", {}, ["Code ", el("small", {
      text: "(" + src.blocks.length + " function" + (src.blocks.length > 1 ? "s" : "") + " of your code on the stack, innermost first; values in " +
            cache.type + ", recomputed in this page)"})])]);
    box.open = true;
    var links = {};
    src.blocks.forEach(function (b) {
      b.frames.forEach(function (f) { links[f] = b.frame; });
      var body = el("tbody");
      var missing = 0;
      b.rows.forEach(function (r, i) {
        if (i && r.line > b.rows[i - 1].line + 1) { body.appendChild(el("tr", {cls: "gap"}, [el("td", {colspan: "4", text: "⋯"})])); }
        var cell = r.code ? r.code.cloneNode(true) : el("td", {cls: "code"});
        if (!r.code) { missing++; }
        body.appendChild(el("tr", r.hot ? {cls: "hot"} : {}, [el("td", {cls: "num", text: r.site_text}), el("td", {cls: "num", text: r.all_text}),
                                                             el("td", {cls: "num ln", text: String(r.line)}), cell]));
      });
      var table = el("table", {cls: "src"}, [el("thead", {}, [el("tr", {}, [
        el("th", {cls: "num", title: "what this site's stack holds on the line it passes through", text: "this site"}),
        el("th", {cls: "num", title: "the line's cum: every shown stack through this line of " + b.function, text: "all stacks"}),
        el("th", {cls: "num", text: "line"}), el("th")])]), body]);
      var block = el("div", {cls: "src-block", id: "src-" + site.rank + "-" + b.frame}, [
        el("div", {cls: "src-head"}, [el("span", {cls: "idx", text: b.frames.join(", ")}), " ", el("code", {text: b.function}), " ",
                                     el("code", {cls: "loc", text: b.file + ":" + b.line})]), table]);
      if (missing) { block.appendChild(el("p", {cls: "note", text: "The code of " + missing + " line" + (missing > 1 ? "s" : "") + " is not in this file (it holds the code of the report's own leak sites)."})); }
      box.appendChild(block);
    });
    details.appendChild(box);
    // the site's frames link to their code
    Array.prototype.forEach.call(details.querySelectorAll("table.stack tr"), function (tr, i) {
      if (!(i in links)) { return; }
      var loc = tr.querySelector("td.loc"), a = el("a", {cls: "src-link", href: "#src-" + site.rank + "-" + links[i], title: "its code, below", text: loc.textContent});
      loc.textContent = "";
      loc.appendChild(a);
    });
  };
})();
