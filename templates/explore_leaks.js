/* heapviz report explorer: the leak sites (distinct stacks at line granularity, largest first,
 * as heapviz/report/collect.py's _leak_sites ranks them) recomputed under the explorer's state.
 * Names go into the page as text only. The report's own sites come back when the state does.
 */
(function () {
  "use strict";
  var X = window.heapvizExplorer;
  if (!X) { return; }
  var D = X.D, S = X.S, el = X.el;
  var MAX_LEAK_SITES = 50, OPEN_SITES = 5;
  var SYSTEM_DIRS = ["/usr/", "/lib/", "/lib64/", "/lib32/"];
  var RUNTIME = ["std::", "__gnu_cxx::", "__cxxabiv1::", "__libc_", "__GI_", "_dl_", "_start"];
  var W = D.words || {};

  function starts(s, list) { return list.some(function (p) { return s.indexOf(p) === 0; }); }
  function isUserCode(fn, file, mapping) {  // collect.is_user_code
    if (!file || starts(fn, RUNTIME)) { return false; }
    if (starts(mapping, SYSTEM_DIRS) || starts(file, SYSTEM_DIRS)) { return false; }
    return !starts(file, ["./", "../"]);
  }
  function basename(p) { return p.split("/").pop(); }
  // the report's allocation wrappers (heapviz/wrappers.py): sites are keyed below them
  var WRAPPERS = new Set(D.wrappers || []);
  var UNNAMED = /^(\[.*\]|0x[0-9a-f]+|[^\s+]+\+0x[0-9a-f]+|\?\?|)$/;
  function wrapperCut(s) {  // wrappers.leaf_cut: leading wrapper lines (and unnamed ones before a wrapper)
    if (!WRAPPERS.size) { return 0; }
    var n = s.lines.length, cut = 0;
    for (var i = 0; i < n; i++) {
      var name = S[D.functions[4 * D.line_function[s.lines[n - 1 - i]]]];
      if (WRAPPERS.has(name)) { cut = i + 1; } else if (!UNNAMED.test(name)) { break; }
    }
    return cut >= n ? 0 : cut;
  }
  function countText(v, noun) { var n = X.pyRound(v); return n + " " + noun + (Math.abs(n) === 1 ? "" : "s"); }

  // the location of each line (the table stores lines per location)
  var lineLoc = new Int32Array(D.line_function.length);
  for (var k = 0; k + 1 < D.loc_lines.length; k++) {
    for (var j = D.loc_lines[k]; j < D.loc_lines[k + 1]; j++) { lineLoc[j] = k; }
  }
  X.lineLoc = lineLoc;

  function frameOf(j, inline) {
    var fn = D.line_function[j], k = lineLoc[j], full = S[D.functions[4 * fn + 2]], file = S[D.functions[4 * fn + 3]];
    var mapping = S[D.loc_binary[k]];
    return {function: S[D.functions[4 * fn]], full_name: full, file: file, line: D.line_number[j], inline: inline,
            binary: mapping ? basename(mapping) : "", user: isUserCode(full, file, mapping), j: j};
  }
  function location(f) {
    if (f.file) { return f.line ? f.file + ":" + f.line : f.file; }
    return f.binary ? "[" + f.binary + "]" : "";
  }
  X.frameLocation = location;

  // The sites of the selection for its sample type: [{rank, value, bytes, objects, frames (leaf first)}]
  function leakSites(sel) {
    var t = sel.t, values = X.column(t), types = D.sample_types.map(function (v) { return v.type; });
    var gt = D.growth_types || [], iBytes = types.indexOf(gt[0]), iObjs = types.indexOf(gt[1]);
    var bytesCol = iBytes >= 0 ? X.column(iBytes) : null, objsCol = iObjs >= 0 ? X.column(iObjs) : null;
    // each location's kept frames as one id, numbered in location order (as collect does)
    var tupleId = new Map(), locId = new Int32Array(sel.kept.length);
    function tupleKey(lines) {
      return lines.map(function (j, c) {
        var f = frameOf(j, c > 0);
        return [f.function, f.full_name, f.file, f.line, f.inline, f.binary, f.user].join("\u0001");
      }).join("\u0002");
    }
    function idOf(key) {
      var id = tupleId.get(key);
      if (id === undefined) { id = tupleId.size; tupleId.set(key, id); }
      return id;
    }
    for (var k = 0; k < sel.kept.length; k++) { locId[k] = idOf(tupleKey(sel.kept[k])); }
    var groups = new Map(), list = [];
    sel.samples.forEach(function (s) {
      var v = values[s.i];
      if (v === 0) { return; }
      // the stack as location ids, leaf first; a location's kept lines are consecutive in s.lines.
      // Below the wrappers: a location cut partway stands for its lines left (as collect does)
      var ids = [], keep = s.lines.length - wrapperCut(s);
      for (var a = keep - 1; a >= 0; a--) {
        if (a === keep - 1 && keep < s.lines.length && s.inline[keep]) {
          var b = a;
          while (b > 0 && s.inline[b]) { b--; }
          ids.push(idOf(tupleKey(s.lines.slice(b, keep))));
          a = b;
        } else if (a === keep - 1 || !s.inline[a + 1]) { ids.push(locId[lineLoc[s.lines[a]]]); }
      }
      var key = ids.join(",");
      var g = groups.get(key);
      if (!g) { g = {value: 0, bytes: 0, objects: 0, ids: ids, sample: s}; groups.set(key, g); list.push(g); }
      g.value += v;
      if (bytesCol) { g.bytes += bytesCol[s.i]; }
      if (objsCol) { g.objects += objsCol[s.i]; }
    });
    // only the largest sites are shown: those at or above the MAX_LEAK_SITES-th |value| are sorted
    var total = list.length, sizes = new Float64Array(total);
    for (var q = 0; q < total; q++) { sizes[q] = -Math.abs(list[q].value); }
    if (total > MAX_LEAK_SITES) {
      var cut = -sizes.sort()[MAX_LEAK_SITES - 1];
      list = list.filter(function (g) { return Math.abs(g.value) >= cut; });
    }
    list.sort(function (x, y) {
      var d = Math.abs(y.value) - Math.abs(x.value);
      if (d) { return d; }
      for (var i = 0; i < Math.min(x.ids.length, y.ids.length); i++) { if (x.ids[i] !== y.ids[i]) { return x.ids[i] - y.ids[i]; } }
      return x.ids.length - y.ids.length;
    });
    return {total: total, sites: list.slice(0, MAX_LEAK_SITES).map(function (g, r) {
      var s = g.sample, frames = [], wrappers = [], keep = s.lines.length - wrapperCut(s);
      for (var a = s.lines.length - 1; a >= 0; a--) { (a < keep ? frames : wrappers).push(frameOf(s.lines[a], s.inline[a])); }
      return {rank: r + 1, value: g.value, bytes: iBytes >= 0 ? g.bytes : null, objects: iObjs >= 0 ? g.objects : null,
              frames: frames, wrappers: wrappers, sample: s};
    })};
  }
  X.leakSites = leakSites;

  function namesOf(frames) {
    return frames.map(function (f) { return f.function + "\n" + f.full_name + "\n" + f.file + "\n" + f.binary + "\n"; }).join("");
  }

  var section = document.getElementById("leaks");
  var slot = section ? new X.Slot(section, Array.prototype.slice.call(section.querySelectorAll(":scope > details.leak"))) : null;
  var heading = section ? section.querySelector("h2 small") : null, headingText = heading ? heading.textContent : "";
  function render(ctx) {
    if (!slot) { return; }
    if (ctx.initial) {
      slot.show(slot.original);
      if (heading) { heading.textContent = headingText; }
      return;
    }
    var sel = ctx.sel, vt = D.sample_types[sel.t], total = D.totals[sel.t];
    var fmt = function (v) { return X.formatValue(v, vt.unit, ctx.graph.unit); };
    var bytesUnit = D.options.unit === "minimum" ? "auto" : D.options.unit;
    var fmtBytes = function (v) { return X.formatValue(v, "bytes", bytesUnit); };
    var got = leakSites(sel);
    ctx.leaks = got;
    var blocks = got.sites.map(function (site) {
      var f0 = site.frames[0], uf = null;
      site.frames.forEach(function (f) { if (!uf && f.user) { uf = f; } });
      var valueText = fmt(site.value), bytesText = site.bytes !== null ? fmtBytes(site.bytes) : "";
      var summary = el("summary", {}, [el("span", {cls: "rank", text: "#" + site.rank}), " ", el("strong", {text: valueText}),
        " (" + X.percentage(site.value, total) + ")"]);
      if (site.bytes !== null && bytesText !== valueText) {
        summary.appendChild(document.createTextNode(" — "));
        summary.appendChild(el("span", {cls: "b", title: X.pyRound(site.bytes).toLocaleString("en-US") + " bytes", text: bytesText}));
      }
      if (site.objects !== null) { summary.appendChild(document.createTextNode(" in " + countText(site.objects, W.objects || "object"))); }
      summary.appendChild(document.createTextNode(" " + (W.site_verb || "") + " "));
      summary.appendChild(el("code", {title: f0 ? f0.full_name : "", "data-node": f0 ? f0.function : "", text: f0 ? f0.function : "?"}));
      if (uf) {
        summary.appendChild(document.createTextNode(", your code: "));
        summary.appendChild(el("code", {cls: "loc", text: location(uf)}));
      }
      var rows = site.frames.map(function (f, i) {
        var fn = el("td", {cls: "fn", title: f.full_name, "data-node": f.function, text: f.function});
        if (f.inline) { fn.appendChild(document.createTextNode(" ")); fn.appendChild(el("span", {cls: "tag", text: "inlined"})); }
        return el("tr", {cls: (f.inline ? "inline" : "") + (f.user ? " user" : "")}, [el("td", {cls: "idx", text: String(i)}), fn,
                                                                                       el("td", {cls: "loc", text: location(f)})]);
      });
      var d = el("details", {cls: "leak", id: "leak-" + site.rank, "data-names": namesOf(site.frames)},
                 [summary, el("table", {cls: "stack"}, [el("tbody", {}, rows)])]);
      d.open = site.rank <= OPEN_SITES;
      if (X.siteSource) { X.siteSource(d, site, sel, ctx); }
      return d;
    });
    slot.show(blocks);
    if (heading) { heading.textContent = "(" + blocks.length + " largest of " + got.total + " distinct stacks, by " + vt.type + ")"; }
  }
  X.views.push({name: "leaks", render: render});
})();
