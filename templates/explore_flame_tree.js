/* heapviz report explorer: the flame graph's call tree (heapviz/graph/tree.py's build_tree) under
 * the explorer's selection, for explore_flame.js to draw: only the nodes wide enough to draw
 * become objects, each {name, full, pkg, direct, cum, self, delta, kids (by node), pruned,
 * prunedValue}; a large profile has millions of tree nodes.
 * window.heapvizExplorer.buildTree(sel, mode, focus) -> {root, diff, total}; flameGeometry.
 */
(function () {
  "use strict";
  var X = window.heapvizExplorer;
  if (!X) { return; }
  var D = X.D, S = X.S;
  var WIDTH = 1200, PAD = 10, MIN_WIDTH = 0.5;  // the drawing's (explore_flame.js)
  var KEEP = MIN_WIDTH / (WIDTH - 2 * PAD) / 2;  // narrower than this share of the root: not drawn, not made
  X.flameGeometry = {width: WIDTH, pad: PAD, minWidth: MIN_WIDTH};

  function packageOf(name, binary) {  // graph/tree.py's package_of
    var depth = 0;
    for (var i = 0; i < name.length; i++) {
      var c = name[i];
      if (c === "<" || c === "(") { depth++; } else if ((c === ">" || c === ")") && depth) { depth--; } else if (depth === 0 && i > 0 && name.startsWith("::", i)) {
        return name.slice(0, i);
      } else if (depth === 0 && c === " ") { break; }
    }
    return binary;
  }
  function node(name, full, pkg, inline) {
    return {name: name, full: full, pkg: pkg, direct: !inline, cum: 0, self: 0, delta: 0, kids: new Map(), pruned: 0, prunedValue: 0};
  }
  function frameNode(sel, j) {
    var fn = D.line_function[j], full = S[D.functions[4 * fn + 2]], bin = S[D.loc_binary[X.lineLoc[j]]];
    return node(sel.names[sel.lineNode[j]], full, packageOf(full, bin ? bin.split("/").pop() : ""), sel.inline[j]);
  }

  // The samples' paths for the mode, root of the drawn tree first: sample k's frame at depth d is
  // the line at position from[k] + dir * d, for d < len[k] (k: its index in `ids`; len -1: none)
  function paths(sel, ids, mode, focus) {
    var n = ids.length, from = new Int32Array(n), len = new Int32Array(n), dir = mode === "bottom-up" || mode === "callers" ? -1 : 1;
    for (var k = 0; k < n; k++) {
      var first = sel.start[ids[k]], end = sel.start[ids[k] + 1], p = first;
      if (mode === "callers" || mode === "callees") {
        while (p < end && sel.lineNode[sel.line[p]] !== focus) { p++; }  // the focus's first frame
        if (p === end) { len[k] = -1; continue; }
      }
      from[k] = mode === "bottom-up" ? end - 1 : p;
      len[k] = mode === "top-down" ? end - first : (mode === "bottom-up" ? end - first : (dir < 0 ? p - first + 1 : end - p));
    }
    return {from: from, len: len, dir: dir};
  }

  // a growing Int32Array of sample lists, each a slice [a, b)
  function Pool() { this.a = new Int32Array(1 << 16); this.n = 0; }
  Pool.prototype.take = function (count) {
    if (this.n + count > this.a.length) { var b = new Int32Array(2 * (this.n + count)); b.set(this.a); this.a = b; }
    this.n += count;
    return this.n - count;
  };

  // A column's sums are exact in any order when its values are integers far below 2^53: then the
  // top-down tree can be summed on the location prefix tree (below), else sample by sample.
  var exactCache = {};
  function exact(t) {
    if (!(t in exactCache)) {
      var col = X.column(t), total = 0, ok = true;
      for (var i = 0; i < col.length && ok; i++) { ok = Number.isInteger(col[i]); total += Math.abs(col[i]); }
      exactCache[t] = ok && total < Math.pow(2, 52);
    }
    return exactCache[t];
  }

  // The top-down tree from the location prefix tree: each tree node's sums (the kept samples'
  // values with a leaf below it, its own as a last frame, its first such sample) in one pass,
  // children after parents; then from the root down, a drawn node stands for tree nodes (and the
  // line of their kept lines it is at), whose next lines or tree children, grouped by their node,
  // are its children. The work is the tree's nodes once and the drawn nodes' members.
  var buffers = null;
  function topDownByTree(sel, values) {
    var tParent = D.tree_parent, tLoc = D.tree_location, nT = tParent.length, nk = sel.st.nk, kept = sel.kept;
    if (!buffers || buffers.sub.length !== nT) { buffers = {sub: new Float64Array(nT), self: new Float64Array(nT), first: new Int32Array(nT)}; }
    var sub = buffers.sub.fill(0), own = buffers.self.fill(0), first = buffers.first.fill(0x7fffffff);
    var root = node("all", "all", "", false);
    for (var k = 0; k < sel.ids.length; k++) {
      var v = values[sel.ids[k]], leaf = D.sample_stack[sel.ids[k]];
      if (!(v > 0)) { continue; }
      root.cum += v; sub[leaf] += v; own[leaf] += v;
      if (first[leaf] > k) { first[leaf] = k; }
    }
    for (var t = nT - 1; t >= 0; t--) {
      var p = tParent[t];
      if (p < 0 || first[t] === 0x7fffffff) { continue; }
      sub[p] += sub[t];
      if (first[p] > first[t]) { first[p] = first[t]; }
      if (nk[tLoc[t]] === 0) { own[p] += own[t]; }  // no frame of its own: its samples end at its parent's
    }
    var TC = treeChildren(), min = root.cum * KEEP, nNodes = sel.infos.length;
    var group = new Int32Array(nNodes), seen = new Int32Array(nNodes).fill(-1), task = 0;
    var todo = [[root, [-1], [-1]]];  // a drawn node, its members: tree nodes and their line (-1: its tree children next)
    while (todo.length) {
      var job = todo.pop(), up = job[0], mt = job[1], mc = job[2], kids = [];
      task++;
      var add = function (x, c) {  // tree node x's c-th kept line is a child
        var j = kept[tLoc[x]][c], f = sel.lineNode[j], g;
        if (seen[f] !== task) {
          seen[f] = task; g = group[f] = kids.length;
          kids.push({f: f, first: first[x], j: j, cum: 0, self: 0, direct: false, mt: [], mc: []});
        } else { g = group[f]; }
        var kid = kids[g];
        if (first[x] < kid.first) { kid.first = first[x]; kid.j = j; }
        kid.cum += sub[x];
        if (c === nk[tLoc[x]] - 1) { kid.self += own[x]; }
        if (!sel.inline[j]) { kid.direct = true; }
        kid.mt.push(x); kid.mc.push(c);
      };
      for (var m = 0; m < mt.length; m++) {
        var x = mt[m], c = mc[m];
        if (x >= 0 && c + 1 < nk[tLoc[x]]) { add(x, c + 1); continue; }
        var kidsOf = [x];  // tree children, through those without a frame
        while (kidsOf.length) {
          var y = kidsOf.pop(), lo = y < 0 ? 0 : TC.first[y], hi = y < 0 ? TC.roots : TC.end[y];
          for (var z = lo; z >= 0 && z < hi; z++) {
            if (first[z] === 0x7fffffff) { continue; }  // no kept sample below
            if (nk[tLoc[z]] === 0) { kidsOf.push(z); } else { add(z, 0); }
          }
        }
      }
      kids.sort(function (a, b) { return a.first - b.first; });  // in the order their first sample met them
      var next = [];
      kids.forEach(function (kid) {
        if (kid.cum < min) { up.pruned++; up.prunedValue += kid.cum; return; }
        var o = frameNode(sel, kid.j);
        o.direct = kid.direct; o.cum = kid.cum; o.self = kid.self;
        up.kids.set(kid.f, o);
        next.push([o, kid.mt, kid.mc]);
      });
      for (var r = next.length - 1; r >= 0; r--) { todo.push(next[r]); }
    }
    return {root: root, diff: false, total: D.totals[sel.t]};
  }
  function treeChildren() {  // a tree node's children are consecutive (the tree is numbered level by level)
    if (X.treeChildren) { return X.treeChildren; }
    var tParent = D.tree_parent, nT = tParent.length, first = new Int32Array(nT).fill(-1), end = new Int32Array(nT), roots = 0;
    for (var t = nT - 1; t >= 0; t--) { if (tParent[t] >= 0) { first[tParent[t]] = t; } else { roots++; } }
    for (var u = 0; u < nT; u++) { if (tParent[u] >= 0) { end[tParent[u]] = u + 1; } }
    X.treeChildren = {first: first, end: end, roots: roots};
    return X.treeChildren;
  }

  // The call tree of the selection for its sample type (graph/tree.py's build_tree), drawn part
  // only: from the root down, each drawn node's samples (in profile order) are grouped by their
  // next frame, which gives its children's sums; a child too narrow to draw is counted in its
  // parent and not descended into. The work is the samples' frames down to the narrow nodes, not
  // the millions of tree nodes of a large profile. Children come in the order their first sample
  // met them, with the names of that sample's frame, as build_tree's.
  function buildTree(sel, mode, focus) {
    var values = X.column(sel.t), diff = !!sel.wids, nNodes = sel.infos.length;
    // the tree's pass costs its millions of nodes, the samples' their frames down to the narrow
    // nodes (about 8 drawn levels, each a pass over the samples' scattered frames): the cheaper
    if (mode === "top-down" && !diff && exact(sel.t) && 24 * sel.ids.length > D.tree_parent.length) { return topDownByTree(sel, values); }
    var wIds = diff ? sel.wids : sel.ids, W = paths(sel, wIds, mode, focus);
    var sIds = diff ? sel.ids : null, P = diff ? paths(sel, sIds, mode, focus) : null;
    var pool = new Pool(), root = node("all", "all", "", false), line = sel.line, lineNode = sel.lineNode;
    var wa = pool.take(wIds.length), wn = 0, sa = 0, sn = 0;
    for (var k = 0; k < wIds.length; k++) {
      if (values[wIds[k]] > 0 && W.len[k] >= 0) { pool.a[wa + wn++] = k; root.cum += values[wIds[k]]; }
    }
    if (diff) {
      sa = pool.take(sIds.length);
      for (var q = 0; q < sIds.length; q++) {
        if (values[sIds[q]] !== 0 && P.len[q] >= 0) { pool.a[sa + sn++] = q; root.delta += values[sIds[q]]; }
      }
    }
    var min = root.cum * KEEP, group = new Int32Array(nNodes).fill(-1), seen = new Int32Array(nNodes).fill(-1), task = 0;
    var groupOf = new Int32Array(wn), todo = [[root, 0, wa, wn, sa, sn]];  // groupOf: each listed sample's child
    // a node's children's sums, by their order of appearance (one node at a time)
    var keys = new Int32Array(nNodes), cum = new Float64Array(nNodes), self = new Float64Array(nNodes);
    var direct = new Uint8Array(nNodes), firstAt = new Int32Array(nNodes), count = new Int32Array(nNodes);
    while (todo.length) {
      var t = todo.pop(), up = t[0], d = t[1], list = pool.a, nKeys = 0;
      task++;
      for (var a = 0; a < t[3]; a++) {  // the children: sums per next frame
        var s = list[t[2] + a], v = values[wIds[s]];
        if (W.len[s] <= d) { groupOf[a] = -1; continue; }
        var p = W.from[s] + W.dir * d, f = lineNode[line[p]], g = group[f];
        if (seen[f] !== task) {
          seen[f] = task; g = group[f] = nKeys++;
          keys[g] = f; cum[g] = 0; self[g] = 0; direct[g] = 0; firstAt[g] = p; count[g] = 0;
        }
        groupOf[a] = g;
        cum[g] += v;
        count[g]++;
        if (W.len[s] === d + 1) { self[g] += v; }
        if (!sel.inline[line[p]]) { direct[g] = 1; }
      }
      var kids = [];  // the drawn children, each with its sample lists: [node, depth, from, count, shown from, count]
      for (var c = 0; c < nKeys; c++) {
        if (cum[c] < min) { up.pruned++; up.prunedValue += cum[c]; kids.push(null); continue; }
        var o = frameNode(sel, line[firstAt[c]]);
        o.direct = !!direct[c]; o.cum = cum[c]; o.self = self[c];
        up.kids.set(keys[c], o);
        // an only child with every sample: the same list
        kids.push([o, d + 1, count[c] === t[3] ? t[2] : pool.take(count[c]), count[c] === t[3] ? count[c] : 0, 0, 0]);
      }
      list = pool.a;
      for (var b = 0; b < t[3] && !(nKeys === 1 && count[0] === t[3]); b++) {  // each drawn child's samples
        var kid = groupOf[b] >= 0 ? kids[groupOf[b]] : null;
        if (kid) { list[kid[2] + kid[3]++] = list[t[2] + b]; }
      }
      if (diff) { shownDown(sel, values, sIds, P, pool, t, d, kids, group, seen, task); }
      for (var r = kids.length - 1; r >= 0; r--) { if (kids[r]) { todo.push(kids[r]); } }
    }
    return {root: root, diff: diff, total: diff ? D.widths_totals[sel.t] : D.totals[sel.t]};
  }
  // with --base: the shown profile's samples (the difference) follow the drawn children
  function shownDown(sel, values, sIds, P, pool, t, d, kids, group, seen, task) {
    var counts = kids.map(function () { return 0; }), line = sel.line, lineNode = sel.lineNode, list = pool.a;
    function kidOf(s) {
      if (P.len[s] <= d) { return -1; }
      var f = lineNode[line[P.from[s] + P.dir * d]];
      return seen[f] === task && kids[group[f]] ? group[f] : -1;
    }
    for (var a = t[4]; a < t[4] + t[5]; a++) {
      var g = kidOf(list[a]);
      if (g >= 0) { kids[g][0].delta += values[sIds[list[a]]]; counts[g]++; }
    }
    kids.forEach(function (kid, g) { if (kid) { kid[4] = pool.take(counts[g]); } });
    list = pool.a;
    for (var b = t[4]; b < t[4] + t[5]; b++) {
      var h = kidOf(list[b]);
      if (h >= 0) { list[kids[h][4] + kids[h][5]++] = list[b]; }
    }
  }
  X.buildTree = buildTree;
})();
