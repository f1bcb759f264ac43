/* heapviz report explorer: the selection every view starts from (the samples the filters keep,
 * each as its kept lines root first), held in typed arrays and cached by what changes it:
 *   - each sample's locations, root first, in one array (made once, when the data is decoded);
 *   - the structure (granularity, --inlines, --hide, --show): each location's kept lines, each
 *     sample's lines in one array (CSR: sample i's lines are line[start[i]] … line[start[i + 1] - 1]),
 *     each line's node identity and inline flag;
 *   - the choice (--focus, --ignore): a verdict per location, then one pass over the location
 *     prefix tree (parents before children) marks each tree node dropped or focused, and a
 *     sample is kept iff its leaf's marks say so: no per-frame work per sample.
 * A sample type switch changes no selection: the views' sums are passes over these arrays.
 * window.heapvizExplorer.select(options) -> sel: {o, t, ids (the kept samples of the shown profile),
 *   wids (of the --base widths, or null), start, line, inline (per line), lineNode (per line: its
 *   node, numbered in order of first appearance as NodeInfo), infos, names, fullNames, firstLine,
 *   warnings, kept (per location: its kept lines), st (the structure)}
 */
(function () {
  "use strict";
  var X = window.heapvizExplorer;
  if (!X) { return; }
  var D = X.D, S = X.S;
  var nLoc = D.loc_binary.length, nLines = D.line_function.length;
  var DROP = 1, FOCUS = 2;

  // each line's location
  var lineLoc = new Int32Array(nLines);
  for (var k0 = 0; k0 < nLoc; k0++) { for (var j0 = D.loc_lines[k0]; j0 < D.loc_lines[k0 + 1]; j0++) { lineLoc[j0] = k0; } }

  // ---- each sample's locations root first (CSR), once the block is decoded
  var locStart = null, locOf = null;
  X.loaded = X.loaded.then(function (doc) {
    var clock = performance.now(), parent = D.tree_parent, loc = D.tree_location, n = D.sample_stack.length;
    var depth = new Int32Array(parent.length);
    for (var i = 0; i < parent.length; i++) { depth[i] = parent[i] >= 0 ? depth[parent[i]] + 1 : 1; }
    locStart = new Int32Array(n + 1);
    for (var s = 0; s < n; s++) { locStart[s + 1] = locStart[s] + (D.sample_stack[s] >= 0 ? depth[D.sample_stack[s]] : 0); }
    locOf = new Int32Array(locStart[n]);
    for (var k = 0; k < n; k++) {
      var p = locStart[k + 1];
      for (var t = D.sample_stack[k]; t >= 0; t = parent[t]) { locOf[--p] = loc[t]; }
    }
    X.loadTimes.stacks = performance.now() - clock;
    return doc;
  });

  // ---- the filters of heapviz/graph/filters.py
  function regex(src, name) {
    if (!src) { return null; }
    try { return new RegExp(src); } catch (e) { throw new Error("--" + name + ": bad regular expression: " + e.message); }
  }
  function lineMatches(rx, fn) {
    var file = S[D.functions[4 * fn + 3]];
    return rx.test(S[D.functions[4 * fn + 1]]) || rx.test(S[D.functions[4 * fn + 2]]) || (!!file && rx.test(file));
  }
  function locLines(k) {
    var out = [];
    for (var j = D.loc_lines[k]; j < D.loc_lines[k + 1]; j++) { out.push(j); }
    return out;
  }
  function locMatches(rx, k) {
    var lines = locLines(k);
    for (var i = 0; i < lines.length; i++) { if (lineMatches(rx, D.line_function[lines[i]])) { return true; } }
    var bin = S[D.loc_binary[k]];
    return !!bin && rx.test(bin);
  }

  // ---- node identities at a granularity (NodeInfo): each line's, numbered in line order
  var identityCache = {};
  function identities(granularity) {
    if (identityCache[granularity]) { return identityCache[granularity]; }
    var keyOf = new Map(), infos = [], lineKey = new Int32Array(nLines);
    for (var j = 0; j < nLines; j++) {
      var fn = D.line_function[j], name = S[D.functions[4 * fn]], file = S[D.functions[4 * fn + 3]], info;
      if (granularity === "files") { info = {name: file ? "" : name, file: file, line: 0}; } else if (granularity === "lines") {
        info = {name: name, file: file, line: D.line_number[j]};
      } else { info = {name: name, file: "", line: 0}; }
      var key = info.name + "\u0000" + info.file + "\u0000" + info.line, id = keyOf.get(key);
      if (id === undefined) { id = infos.length; keyOf.set(key, id); infos.push(info); }
      lineKey[j] = id;
    }
    identityCache[granularity] = {lineKey: lineKey, infos: infos};
    return identityCache[granularity];
  }

  // ---- the structure: what --hide, --show and --inlines keep of each location, and the
  // samples' lines (CSR); the last few are kept (a focus or a sample type leaves it as it is,
  // and a refine is often undone)
  var structures = [], KEEP_STRUCTURES = 2;
  function structure(o) {
    var key = JSON.stringify([o.granularity, !!o.inlines, o.hide || "", o.show || ""]);
    for (var u = 0; u < structures.length; u++) {
      if (structures[u].key === key) { structures.unshift(structures.splice(u, 1)[0]); return structures[0]; }
    }
    var hide = regex(o.hide, "hide"), show = regex(o.show, "show"), matched = {hide: false, show: false};
    var kept = new Array(nLoc), nk = new Int32Array(nLoc), lineInline = new Uint8Array(nLines);
    var prev = new Int32Array(nLines).fill(-1);  // an inline line's kept line before it
    for (var k = 0; k < nLoc; k++) {
      var lines = locLines(k);
      if (hide && locMatches(hide, k)) {
        matched.hide = true;
        lines = lines.filter(function (j) { return !lineMatches(hide, D.line_function[j]); });
      }
      if (show) {
        lines = lines.filter(function (j) { return lineMatches(show, D.line_function[j]); });
        matched.show = matched.show || lines.length > 0;
      }
      if (!o.inlines) { lines = lines.slice(0, 1); }
      kept[k] = lines;
      nk[k] = lines.length;
      for (var c = 1; c < lines.length; c++) { lineInline[lines[c]] = 1; prev[lines[c]] = lines[c - 1]; }
    }
    var n = locStart.length - 1, start = new Int32Array(n + 1);
    for (var s = 0; s < n; s++) {
      var len = 0;
      for (var p = locStart[s]; p < locStart[s + 1]; p++) { len += nk[locOf[p]]; }
      start[s + 1] = start[s] + len;
    }
    var line = new Int32Array(start[n]), at = 0;
    for (var q = 0; q < locOf.length; q++) {
      var ls = kept[locOf[q]];
      for (var b = 0; b < ls.length; b++) { line[at++] = ls[b]; }
    }
    var id = identities(o.granularity);
    structures.unshift({key: key, kept: kept, nk: nk, matched: matched, start: start, line: line, inline: lineInline, prev: prev,
                        lineKey: id.lineKey, infos: id.infos, cache: {}});
    structures.length = Math.min(structures.length, KEEP_STRUCTURES);
    return structures[0];
  }

  // ---- the choice: the samples --focus and --ignore keep (all with frames when neither is set)
  function choose(st, o, matched) {
    var focus = regex(o.focus, "focus"), ignore = regex(o.ignore, "ignore"), n = st.start.length - 1;
    var nShown = D.widths_from >= 0 ? D.widths_from : n, marks = null;
    if (focus || ignore) {
      var verdict = new Uint8Array(nLoc);  // DROP ignored, FOCUS focused (or no --focus), 0 neither
      for (var k = 0; k < nLoc; k++) {
        if (ignore && locMatches(ignore, k)) { verdict[k] = DROP; matched.ignore = true; } else if (!focus || locMatches(focus, k)) {
          verdict[k] = FOCUS;
          matched.focus = matched.focus || !!focus;
        }
      }
      var parent = D.tree_parent, loc = D.tree_location;
      marks = new Uint8Array(parent.length);
      for (var t = 0; t < parent.length; t++) { marks[t] = (parent[t] >= 0 ? marks[parent[t]] : 0) | verdict[loc[t]]; }
    }
    function pick(first, end) {
      var out = new Int32Array(end - first), m = 0;
      for (var i = first; i < end; i++) {
        var leaf = D.sample_stack[i];
        if (leaf < 0 || st.start[i + 1] === st.start[i]) { continue; }
        if (marks && (marks[leaf] & DROP || !(marks[leaf] & FOCUS))) { continue; }
        out[m++] = i;
      }
      return out.subarray(0, m);
    }
    return {ids: pick(0, nShown), wids: D.widths_from >= 0 ? pick(nShown, n) : null};
  }

  // The samples the filters keep, each as its kept lines (root first) with their inline flags:
  // every view starts from this. Nodes are numbered in order of first appearance (NodeInfo).
  // (the last few choices of a structure are kept, with the node sums the views made of them
  // per sample type: a sample type switch changes no selection)
  var KEEP_CHOICES = 2;
  function select(o) {
    var st = structure(o), key = JSON.stringify([o.focus || "", o.ignore || ""]);
    st.choices = st.choices || [];
    var base = st.choices.filter(function (c) { return c.key === key; })[0];
    if (!base) {
      base = choice(st, o);
      base.key = key;
      st.choices.unshift(base);
      st.choices.length = Math.min(st.choices.length, KEEP_CHOICES);
    }
    return Object.assign({}, base, {o: o, t: o.sample_index});
  }
  function choice(st, o) {
    var matched = {focus: false, ignore: false, hide: st.matched.hide, show: st.matched.show};
    var got = choose(st, o, matched), start = st.start, line = st.line, lineKey = st.lineKey;
    var nodeOfKey = new Int32Array(st.infos.length).fill(-1), infos = [], firstLine = [];
    var named = new Uint8Array(nLines);
    function number(ids, shown) {
      for (var k = 0; k < ids.length; k++) {
        for (var p = start[ids[k]], end = start[ids[k] + 1]; p < end; p++) {
          var j = line[p], key = lineKey[j];
          if (nodeOfKey[key] < 0) { nodeOfKey[key] = infos.length; infos.push(st.infos[key]); firstLine.push(j); }
          if (shown) { named[j] = 1; }
        }
      }
    }
    number(got.ids, true);
    if (got.wids) { number(got.wids, false); }
    var lineNode = new Int32Array(nLines), fullNames = infos.map(function () { return new Set(); });
    for (var j = 0; j < nLines; j++) {
      lineNode[j] = nodeOfKey[lineKey[j]];
      if (named[j]) { fullNames[lineNode[j]].add(S[D.functions[4 * D.line_function[j] + 2]]); }
    }
    var warnings = ["focus", "ignore", "hide", "show"].filter(function (k) { return o[k] && !matched[k]; })
      .map(function (k) { return "--" + k + "=" + o[k] + " matched nothing"; });
    return {st: st, ids: got.ids, wids: got.wids, start: start, line: line, inline: st.inline, lineNode: lineNode,
            infos: infos, names: infos.map(printable), fullNames: fullNames, firstLine: firstLine, warnings: warnings,
            kept: st.kept, sums: {}};
  }
  function printable(n) {
    var parts = [];
    if (n.name) { parts.push(n.name); }
    if (n.line) { parts.push(n.file + ":" + n.line); } else if (n.file) { parts.push(n.file); }
    return parts.join(" ") || "<unknown>";
  }

  // one kept sample as arrays (a leak site's frames): {i, lines, inline, frames}
  function sampleOf(sel, i) {
    var out = {i: i, lines: [], inline: [], frames: []};
    for (var p = sel.start[i]; p < sel.start[i + 1]; p++) {
      var j = sel.line[p];
      out.lines.push(j); out.inline.push(!!sel.inline[j]); out.frames.push(sel.lineNode[j]);
    }
    return out;
  }

  X.select = select;
  X.lineLoc = lineLoc;
  X.printable = printable;
  X.sampleOf = sampleOf;
})();
