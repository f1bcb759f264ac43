/* heapviz report explorer: the flame graph recomputed under the explorer's state, as
 * heapviz/graph/tree.py builds the call tree and heapviz/render/flame.py draws it, in three
 * modes: top-down (the root on top, today's), bottom-up (the leaf frames at the root: where the
 * values were allocated) and sandwich (the callers of one function above it, its callees below).
 * With --base, widths come from the new profile and colours from the difference. Names are text
 * in the SVG (textContent), never markup.
 */
(function () {
  "use strict";
  var X = window.heapvizExplorer;
  if (!X) { return; }
  var D = X.D, S = X.S, el = X.el;
  var NS = "http://www.w3.org/2000/svg";
  var WIDTH = 1200, PAD = 10, FH = 16, FS = 12, CHAR = 0.61 * FS, MIN_WIDTH = 0.5, MAX_DEPTH = 400;
  var INNER = WIDTH - 2 * PAD, KEEP = MIN_WIDTH / INNER / 2;
  var MATCH_FILL = "#0a4fe0";

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
  var CRC = (function () {
    var t = new Uint32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) { c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
      t[n] = c >>> 0;
    }
    return t;
  })();
  function crc32(text) {
    var bytes = new TextEncoder().encode(text), c = 0xffffffff;
    for (var i = 0; i < bytes.length; i++) { c = CRC[(c ^ bytes[i]) & 0xff] ^ (c >>> 8); }
    return (c ^ 0xffffffff) >>> 0;
  }
  function hsl(h, s, l) {
    var c = (1 - Math.abs(2 * l - 1)) * s, hp = h / 60, x = c * (1 - Math.abs(hp % 2 - 1));
    var rgb = [[c, x, 0], [x, c, 0], [0, c, x], [0, x, c], [x, 0, c], [c, 0, x]][Math.floor(hp) % 6], m = l - c / 2;
    return rgb.map(function (v) { return X.pyRound((v + m) * 255); });
  }
  function hex(rgb) { return "#" + rgb.map(function (v) { return v.toString(16).padStart(2, "0"); }).join(""); }

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
    while (todo.length) {
      var t = todo.pop(), up = t[0], d = t[1], list = pool.a, keys = [], cum = [], self = [], direct = [], firstAt = [], count = [];
      task++;
      for (var a = 0; a < t[3]; a++) {  // the children: sums per next frame
        var s = list[t[2] + a], v = values[wIds[s]];
        if (W.len[s] <= d) { groupOf[a] = -1; continue; }
        var p = W.from[s] + W.dir * d, f = lineNode[line[p]], g = group[f];
        if (seen[f] !== task) { seen[f] = task; g = group[f] = keys.length; keys.push(f); cum.push(0); self.push(0); direct.push(false); firstAt.push(p); count.push(0); }
        groupOf[a] = g;
        cum[g] += v;
        count[g]++;
        if (W.len[s] === d + 1) { self[g] += v; }
        if (!sel.inline[line[p]]) { direct[g] = true; }
      }
      var kids = [];  // the drawn children, each with its sample lists: [node, depth, from, count, shown from, count]
      for (var c = 0; c < keys.length; c++) {
        if (cum[c] < min) { up.pruned++; up.prunedValue += cum[c]; kids.push(null); continue; }
        var o = frameNode(sel, line[firstAt[c]]);
        o.direct = direct[c]; o.cum = cum[c]; o.self = self[c];
        up.kids.set(keys[c], o);
        // an only child with every sample: the same list
        kids.push([o, d + 1, count[c] === t[3] ? t[2] : pool.take(count[c]), count[c] === t[3] ? count[c] : 0, 0, 0]);
      }
      list = pool.a;
      for (var b = 0; b < t[3] && !(keys.length === 1 && count[0] === t[3]); b++) {  // each drawn child's samples
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

  function sortedKids(n) {
    return Array.from(n.kids.values()).sort(function (a, b) {
      return X.cmpStr(a.name, b.name) || X.cmpStr(a.full, b.full) || ((!a.direct) - (!b.direct));
    });
  }
  X.sortedKids = sortedKids;

  // boxes in pre-order: [node, depth, x, w]
  function layout(tree, zoomTo) {
    var root = zoomTo || tree.root, boxes = [];
    if (root.cum <= 0) { return boxes; }
    var scale = INNER / root.cum, todo = [[root, 0, 0]];
    while (todo.length) {
      var t = todo.pop(), n = t[0], depth = t[1], x = t[2];
      boxes.push([n, depth, x, n.cum * scale]);
      if (depth >= MAX_DEPTH) { continue; }
      var drawn = [], cx = x;
      sortedKids(n).forEach(function (c) {
        if (c.cum * scale < MIN_WIDTH) { return; }
        drawn.push([c, depth + 1, cx]);
        cx += c.cum * scale;
      });
      for (var i = drawn.length - 1; i >= 0; i--) { todo.push(drawn[i]); }
    }
    return boxes;
  }

  function maxDelta(tree) {
    var m = 0, todo = sortedKids(tree.root);
    while (todo.length) {
      var n = todo.pop();
      m = Math.max(m, Math.abs(n.delta));
      n.kids.forEach(function (c) { todo.push(c); });
    }
    return m;
  }
  function fill(tree, n, depth, biggest) {
    if (tree.diff) {
      if (n.delta === 0 || !biggest) { return "#e6e6e6"; }
      var k = X.pyRound(40 + 170 * Math.min(1, Math.abs(n.delta) / Math.abs(biggest)));
      return hex(n.delta > 0 ? [255, 255 - k, 255 - k] : [255 - k, 255, 255 - k]);
    }
    if (depth === 0) { return "#c8c8c8"; }
    return hex(hsl(crc32(n.pkg) % 360, 0.55, n.direct ? 0.72 : 0.86));
  }
  function label(name, w) {
    var chars = Math.floor((w - 6) / CHAR);
    if (chars < 3) { return ""; }
    return name.length <= chars ? name : name.slice(0, chars - 1) + "\u2026";
  }

  // One flame chart as an SVG element: `up` draws the root at the bottom (a sandwich's callers).
  function draw(tree, fmt, opts) {
    var boxes = layout(tree, opts.zoomTo), depth = 0, biggest = maxDelta(tree);
    boxes.forEach(function (b) { depth = Math.max(depth, b[1]); });
    var height = (depth + 1) * FH + 4;
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("width", WIDTH);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + height);
    svg.setAttribute("class", "heapviz-flame explorer-flame");
    svg.setAttribute("font-family", "DejaVu Sans Mono, monospace");
    svg.setAttribute("font-size", FS);
    boxes.forEach(function (b, i) {
      var n = b[0], y = opts.up ? height - 4 - (b[1] + 1) * FH : b[1] * FH;
      var g = document.createElementNS(NS, "g");
      g.setAttribute("class", "f" + (n.direct ? "" : " inl") + (n.self && b[1] ? " self" : ""));
      g.setAttribute("data-i", i);
      var title = document.createElementNS(NS, "title");
      var lines = [n.name];
      if (n.full && n.full !== n.name && b[1]) { lines.push(n.full); }
      lines.push(fmt(n.cum) + " (" + X.percentage(n.cum, tree.total) + ")" + (tree.diff ? " in the new profile" : ""));
      if (n.self) { lines.push((D.words && D.words.flat || "self") + ": " + fmt(n.self) + " (" + X.percentage(n.self, tree.total) + ")"); }
      if (tree.diff) { lines.push("change since base: " + (n.delta > 0 ? "+" : "") + (n.delta ? fmt(n.delta) : "0")); }
      if (!n.direct) { lines.push("(inlined)"); }
      if (b[1] && n.pkg) { lines.push("in " + n.pkg); }
      if (n.pruned) { lines.push(n.pruned + " narrower callee frame" + (n.pruned > 1 ? "s" : "") + " (" + fmt(n.prunedValue) + ") not drawn"); }
      title.textContent = lines.join("\n");
      var r = document.createElementNS(NS, "rect");
      r.setAttribute("x", (PAD + b[2]).toFixed(2));
      r.setAttribute("y", y);
      r.setAttribute("width", b[3].toFixed(2));
      r.setAttribute("height", FH - 1);
      r.setAttribute("fill", fill(tree, n, b[1], biggest));
      r.setAttribute("stroke", n.self && b[1] ? "#8b0000" : "#ffffff");
      r.setAttribute("stroke-width", n.self && b[1] ? 1.5 : 0.5);
      if (!n.direct) { r.setAttribute("stroke-dasharray", "3,2"); }
      var t = document.createElementNS(NS, "text");
      t.setAttribute("x", (PAD + b[2] + 3).toFixed(2));
      t.setAttribute("y", y + FH - 4.5);
      t.textContent = label(n.name, b[3]);
      g.appendChild(title);
      g.appendChild(r);
      g.appendChild(t);
      svg.appendChild(g);
      g.addEventListener("click", function (e) {
        if (opts.onFrame) { opts.onFrame(e, n, b[1]); }
      });
    });
    svg.heapvizBoxes = boxes;
    return svg;
  }

  var section = document.getElementById("flame");
  var box = section ? section.querySelector(".flame-box") : null;
  var original = box ? Array.prototype.slice.call(box.childNodes) : [];
  var bar = document.getElementById("flame-modes");
  var zoomTo = null, lastKey = "";
  X.flameZoom = function (n) { zoomTo = n; if (X.rerender) { X.rerender(); } };

  function search(re) {
    if (!box) { return; }
    Array.prototype.forEach.call(box.querySelectorAll("svg.explorer-flame g.f"), function (g) {
      var hit = re !== null && g.getAttribute("data-i") !== "0" && re.test(g.querySelector("title").textContent.split("\n")[0]);
      g.classList.toggle("match", hit);
      g.querySelector("rect").style.fill = hit ? MATCH_FILL : "";
    });
  }
  var find = document.getElementById("flame-search");
  if (find) {
    find.addEventListener("input", function () {
      var re = null;
      try { re = find.value ? new RegExp(find.value) : null; } catch (e) { return; }
      search(re);
    });
  }

  function render(ctx) {
    if (!box) { return; }
    var st = ctx.state, mode = st.flame || "top-down", sel = ctx.sel;
    if (bar) {
      Array.prototype.forEach.call(bar.querySelectorAll("button[data-mode]"), function (b) {
        b.setAttribute("aria-pressed", String(b.getAttribute("data-mode") === mode));
      });
      var label = document.getElementById("flame-focus");
      if (label) { label.textContent = mode === "sandwich" ? st.flame_fn : ""; }
    }
    var key = JSON.stringify([ctx.key, mode, st.flame_fn]);
    if (key !== lastKey) { zoomTo = null; lastKey = key; }
    if (ctx.initial && mode === "top-down" && !zoomTo) {
      original.forEach(function (n) { if (n.parentNode !== box) { box.appendChild(n); } });
      Array.prototype.slice.call(box.childNodes).forEach(function (n) { if (original.indexOf(n) < 0) { box.removeChild(n); } });
      return;
    }
    var vt = D.sample_types[sel.t];
    var unit = ctx.graph.unit, fmt = function (v) { return X.formatValue(v, vt.unit, unit); };
    var parts = [];
    var onFrame = function (e, n, depth) { if (X.frameMenu) { X.frameMenu(e, n.name, depth > 0, function () { X.flameZoom(n); }); } };
    var head = function (text) { return el("p", {cls: "flame-head", text: text}); };
    if (mode === "sandwich") {
      var focus = sel.names.indexOf(st.flame_fn);
      if (focus < 0) {
        parts.push(head("Sandwich: " + (st.flame_fn || "no function chosen") + " is not in this view; click a frame and choose “sandwich”."));
      } else {
        var up = buildTree(sel, "callers", focus), down = buildTree(sel, "callees", focus);
        ctx.flame = {callers: up, callees: down};
        parts.push(head("Callers of " + st.flame_fn + " (above), " + fmt(up.root.cum) + "; its callees below"));
        parts.push(draw(up, fmt, {up: true, onFrame: onFrame, zoomTo: null}));
        parts.push(draw(down, fmt, {onFrame: onFrame, zoomTo: null}));
      }
    } else {
      var tree = buildTree(sel, mode, -1);
      ctx.flame = {tree: tree};
      var total = tree.root.cum ? fmt(tree.root.cum) : "0";
      parts.push(head((mode === "bottom-up" ? "Bottom-up: the frames that allocate at the root, their callers below; " : "Top-down; ") +
                      vt.type + ", " + total + (tree.diff ? " in the new profile; colour: change since base (red grew, green shrank)" : "") +
                      (zoomTo ? " — zoomed into " + zoomTo.name : "")));
      parts.push(draw(tree, fmt, {onFrame: onFrame, zoomTo: zoomTo}));
    }
    while (box.firstChild) { box.removeChild(box.firstChild); }
    parts.forEach(function (p) { box.appendChild(p); });
    if (find && find.value) { find.dispatchEvent(new Event("input")); }
  }
  X.views.push({name: "flame", render: render});
})();
