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
  // the report's allocation wrappers (heapviz/wrappers.py): sites are keyed below them. Each
  // line's name once: 1 a wrapper, 2 unnamed, 0 neither
  var WRAPPERS = new Set(D.wrappers || []);
  var UNNAMED = /^(\[.*\]|0x[0-9a-f]+|[^\s+]+\+0x[0-9a-f]+|\?\?|)$/;
  var lineWrap = new Uint8Array(D.line_function.length);
  for (var w = 0; w < lineWrap.length && WRAPPERS.size; w++) {
    var wname = S[D.functions[4 * D.line_function[w]]];
    lineWrap[w] = WRAPPERS.has(wname) ? 1 : (UNNAMED.test(wname) ? 2 : 0);
  }
  function wrapperCut(sel, i) {  // wrappers.leaf_cut: sample i's leading wrapper lines (and unnamed ones before a wrapper)
    var first = sel.start[i], n = sel.start[i + 1] - first, cut = 0;
    for (var k = 0; k < n; k++) {
      var c = lineWrap[sel.line[first + n - 1 - k]];
      if (c === 1) { cut = k + 1; } else if (c !== 2) { break; }
    }
    return cut >= n ? 0 : cut;
  }
  function countText(v, noun) { var n = X.pyRound(v); return n + " " + noun + (Math.abs(n) === 1 ? "" : "s"); }

  var lineLoc = X.lineLoc;  // each line's location (explore_select.js)

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

  // Each sample's site (once per structure: the selection's kept lines): its stack below the
  // wrappers as location ids, leaf first, a location's kept frames being one id (numbered in
  // location order, as collect does; a location cut partway by the wrappers stands for its lines
  // left, numbered after them). Equal stacks are one site: found by a hash of the ids and
  // confirmed by comparing them. -> {site (per sample, -1 none), seq: the sites' ids (CSR), partial}
  function siteTable(sel) {
    var st = sel.st;
    if (st.cache.sites) { return st.cache.sites; }
    var tupleId = new Map(), locId = new Int32Array(sel.kept.length), line = sel.line, start = sel.start, inl = sel.inline;
    function idOf(lines) {
      var key = lines.map(function (j, c) {
        var f = frameOf(j, c > 0);
        return [f.function, f.full_name, f.file, f.line, f.inline, f.binary, f.user].join("\u0001");
      }).join("\u0002");
      var id = tupleId.get(key);
      if (id === undefined) { id = tupleId.size; tupleId.set(key, id); }
      return id;
    }
    for (var k = 0; k < sel.kept.length; k++) { locId[k] = idOf(sel.kept[k]); }
    var partial = tupleId.size;  // ids from here: locations cut partway
    var n = start.length - 1, site = new Int32Array(n).fill(-1), bySum = new window.heapvizPairMap(1024);
    var seqStart = [0], seq = new Int32Array(1024), buf = new Int32Array(64);
    for (var i = 0; i < n; i++) {
      var len = start[i + 1] - start[i];
      if (!len) { continue; }
      if (len > buf.length) { buf = new Int32Array(2 * len); }
      var keep = start[i] + len - wrapperCut(sel, i), m = 0;
      for (var a = keep - 1; a >= start[i]; a--) {
        if (a === keep - 1 && keep < start[i + 1] && inl[line[keep]]) {
          var b = a, part = [];
          while (b > start[i] && inl[line[b]]) { b--; }
          for (var c = b; c < keep; c++) { part.push(line[c]); }
          buf[m++] = idOf(part);
          a = b;
        } else if (a === keep - 1 || !inl[line[a + 1]]) { buf[m++] = locId[lineLoc[line[a]]]; }
      }
      var h1 = m, h2 = 0x2545f491;
      for (var q = 0; q < m; q++) { h1 = Math.imul(h1, 31) + buf[q] | 0; h2 = Math.imul(h2 ^ buf[q], 0x9e3779b1) + q | 0; }
      for (;;) {  // the site with these ids: probe while the hash is another stack's
        var s = bySum.get(h1, h2);
        if (s < 0) {
          s = seqStart.length - 1;
          bySum.set(h1, h2, s);
          if (seq.length < seqStart[s] + m) { var grown = new Int32Array(2 * (seqStart[s] + m)); grown.set(seq); seq = grown; }
          seq.set(buf.subarray(0, m), seqStart[s]);
          seqStart.push(seqStart[s] + m);
          break;
        }
        var same = seqStart[s + 1] - seqStart[s] === m;
        for (var r = 0; same && r < m; r++) { same = seq[seqStart[s] + r] === buf[r]; }
        if (same) { break; }
        h2 = h2 + 1 | 0;
      }
      site[i] = s;
    }
    st.cache.sites = {site: site, seqStart: seqStart, seq: seq, partial: partial};
    return st.cache.sites;
  }

  // The sites of the selection for its sample type: [{rank, value, bytes, objects, frames (leaf first)}]
  function leakSites(sel) {
    var t = sel.t, values = X.column(t), types = D.sample_types.map(function (v) { return v.type; });
    var gt = D.growth_types || [], iBytes = types.indexOf(gt[0]), iObjs = types.indexOf(gt[1]);
    var bytesCol = iBytes >= 0 ? X.column(iBytes) : null, objsCol = iObjs >= 0 ? X.column(iObjs) : null;
    var T = siteTable(sel), nSites = T.seqStart.length - 1;
    // the kept samples' sites in order of first appearance, their sums
    var slot = new Int32Array(nSites).fill(-1), order = [], value = [], bytes = [], objects = [], rep = [];
    for (var k = 0; k < sel.ids.length; k++) {
      var i = sel.ids[k], v = values[i];
      if (v === 0) { continue; }
      var g = slot[T.site[i]];
      if (g < 0) { g = slot[T.site[i]] = order.length; order.push(T.site[i]); value.push(0); bytes.push(0); objects.push(0); rep.push(i); }
      value[g] += v;
      if (bytesCol) { bytes[g] += bytesCol[i]; }
      if (objsCol) { objects[g] += objsCol[i]; }
    }
    // a partial location's id: numbered in order of first appearance here
    var partialRank = new Map();
    order.forEach(function (s) {
      var id = T.seq[T.seqStart[s]];
      if (T.seqStart[s + 1] > T.seqStart[s] && id >= T.partial && !partialRank.has(id)) { partialRank.set(id, T.partial + partialRank.size); }
    });
    function idAt(s, r) {  // site s's r-th id
      var id = T.seq[T.seqStart[s] + r];
      return r === 0 && id >= T.partial ? partialRank.get(id) : id;
    }
    function cmp(x, y) {  // largest |value| first, then by ids
      var d = Math.abs(value[y]) - Math.abs(value[x]);
      if (d) { return d; }
      var sx = order[x], sy = order[y], nx = T.seqStart[sx + 1] - T.seqStart[sx], ny = T.seqStart[sy + 1] - T.seqStart[sy];
      for (var r = 0; r < Math.min(nx, ny); r++) { var a = idAt(sx, r), b = idAt(sy, r); if (a !== b) { return a - b; } }
      return nx - ny;
    }
    // only the largest sites are shown: the first MAX_LEAK_SITES in that order, kept sorted in one pass
    var total = order.length, best = [];
    for (var c = 0; c < total; c++) {
      if (best.length === MAX_LEAK_SITES && cmp(c, best[best.length - 1]) >= 0) { continue; }
      var lo = 0, hi = best.length;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (cmp(best[mid], c) < 0) { lo = mid + 1; } else { hi = mid; } }
      best.splice(lo, 0, c);
      if (best.length > MAX_LEAK_SITES) { best.pop(); }
    }
    var list = best.map(function (g) { return {value: value[g], bytes: bytes[g], objects: objects[g], sample: rep[g]}; });
    return {total: total, sites: list.map(function (g, r) {
      var s = X.sampleOf(sel, g.sample), frames = [], wrappers = [], keep = s.lines.length - wrapperCut(sel, g.sample);
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
