/* pprof's call-graph pruning for the HTML explorer: a line-by-line port of
 * heapviz/graph/reference.py, which is the reference (its docstring lists every rule and
 * tie-break). tests/test_prune_js.py runs this file in Chromium over the golden fixtures in
 * tests/data/pruning and over real profiles, and requires the same result as Python's.
 *
 * heapvizPrune(nodes, samples, options) -> {order, nodes, edges, node_cutoff, edge_cutoff,
 *   dropped_nodes, dropped_edges, nodes_before_count}
 *   nodes: [name, ...] (ids are indices, numbered in the order of the nodes' identity)
 *   samples: [[value, [node, ...root first], [inline, ...], sizeLabel], ...]
 * heapvizPrune.columns(nodes, samples, options): the same from samples as columns (see columns()),
 *   as the explorer holds them; options.node_sums: the nodes' cum, flat and seen (typed arrays by
 *   id) when the caller has them
 */
(function (global) {
  "use strict";
  var MAX_NODELETS = 4;

  // Python compares strings by code point; JavaScript's < by UTF-16 unit. Equal for names
  // without characters beyond U+FFFF; this compares code points so that all names agree.
  function cmpStr(a, b) {
    if (a === b) return 0;
    var ia = 0, ib = 0;
    while (ia < a.length && ib < b.length) {
      var ca = a.codePointAt(ia), cb = b.codePointAt(ib);
      if (ca !== cb) return ca < cb ? -1 : 1;
      ia += ca > 0xffff ? 2 : 1;
      ib += cb > 0xffff ? 2 : 1;
    }
    return (a.length - ia) - (b.length - ib) < 0 ? -1 : ((a.length - ia) === (b.length - ib) ? 0 : 1);
  }

  function cmpNum(a, b) { return a < b ? -1 : (a > b ? 1 : 0); }

  var KEYS = 1;  // node ids are below this: an edge's key is one number (Maps of numbers are fast)
  function key(u, v) { return u * KEYS + v; }

  // (int32, int32) -> int32 >= 0, open addressing on typed arrays: millions of lookups without
  // a Map's hashing (the explorer's flame graph uses it too)
  function PairMap(expected) {  // expected: about how many entries (sized once, not regrown)
    var n = 1 << 12;
    while (3 * n < 4 * (expected || 0) + 4) n *= 2;
    this.alloc(n);
    this.size = 0;
  }
  PairMap.prototype.alloc = function (n) {  // one slot: key a, key b, value + 1 (0: empty), side by side
    this.mask = n - 1; this.t = new Int32Array(3 * n);
  };
  PairMap.prototype.slot = function (a, b) {
    var h = Math.imul(a, 0x9e3779b1) + b | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    var m = this.mask, t = this.t, i = (h ^ (h >>> 13)) & m;
    while (t[3 * i + 2] !== 0 && (t[3 * i] !== a || t[3 * i + 1] !== b)) i = (i + 1) & m;
    return i;
  };
  PairMap.prototype.get = function (a, b) { return this.t[3 * this.slot(a, b) + 2] - 1; };
  PairMap.prototype.set = function (a, b, value) {
    if (4 * (this.size + 1) > 3 * (this.mask + 1)) {
      var old = this.t;
      this.alloc(2 * (this.mask + 1));
      for (var j = 0; j < old.length; j += 3) {
        if (old[j + 2] === 0) continue;
        var k = 3 * this.slot(old[j], old[j + 1]);
        this.t[k] = old[j]; this.t[k + 1] = old[j + 1]; this.t[k + 2] = old[j + 2];
      }
    }
    var i = 3 * this.slot(a, b);
    if (this.t[i + 2] === 0) this.size++;
    this.t[i] = a; this.t[i + 1] = b; this.t[i + 2] = value + 1;
  };
  global.heapvizPairMap = PairMap;

  function grown(a, n) { var b = new a.constructor(n); b.set(a); return b; }

  // (node, node) -> int32 >= 0 for a few nodes (`index`: each one's row, -1 others), on one
  // Int32Array of rows × rows: a lookup without hashing, as PairMap's get/set
  function DenseMap(index, rows) { this.index = index; this.rows = rows; this.t = new Int32Array(rows * rows); }
  DenseMap.prototype.get = function (a, b) { return this.t[this.index[a] * this.rows + this.index[b]] - 1; };
  DenseMap.prototype.set = function (a, b, value) { this.t[this.index[a] * this.rows + this.index[b]] = value + 1; };
  var DENSE = 2048;  // at most this many nodes: edges numbered in a DenseMap (16 MB)
  function edgeMap(kept) {
    var n = kept === null ? KEYS : kept.size;
    if (n > DENSE) return new PairMap();
    var index = new Int32Array(KEYS).fill(-1), rows = 0;
    if (kept === null) { for (var i = 0; i < KEYS; i++) index[i] = rows++; } else kept.forEach(function (k) { index[k] = rows++; });
    return new DenseMap(index, rows);
  }

  // The samples as columns: sample i (of `ids`, in order) has the frames at positions
  // start[i] … start[i + 1] - 1, frame p is node nodeOf[at[p]], inlined if inlineOf[at[p]];
  // its value value[i], its size label labels[label[i]] (label null: none). The explorer passes
  // its selection as it holds it (at: lines; nodeOf, inlineOf: per line); these are the others'.
  function columns(samples, withLabels) {
    var n = samples.length, start = new Int32Array(n + 1), value = new Float64Array(n), label = new Int32Array(n).fill(-1);
    var labelId = new Map(), labels = [];
    samples.forEach(function (s, i) {
      start[i + 1] = start[i] + s[1].length;
      value[i] = s[0];
      if (withLabels && s[3]) {
        if (!labelId.has(s[3])) { labelId.set(s[3], labels.length); labels.push(s[3]); }
        label[i] = labelId.get(s[3]);
      }
    });
    var at = new Int32Array(start[n]), nodeOf = new Int32Array(start[n]), inlineOf = new Uint8Array(start[n]);
    samples.forEach(function (s, i) {
      for (var a = 0; a < s[1].length; a++) { var p = start[i] + a; at[p] = p; nodeOf[p] = s[1][a]; inlineOf[p] = s[2][a] ? 1 : 0; }
    });
    var ids = new Int32Array(n);
    for (var i = 0; i < n; i++) ids[i] = i;
    return {ids: ids, start: start, at: at, nodeOf: nodeOf, inlineOf: inlineOf, value: value, label: withLabels ? label : null, labels: labels};
  }

  // The nodes' sums over typed arrays (by id): cum (each sample once), flat, whether a sample with
  // a value passed (seen), and the size tags of the leaves (tags: Map leaf -> Map label -> weight)
  function nodeSums(C) {
    var cum = new Float64Array(KEYS), flat = new Float64Array(KEYS), seen = new Uint8Array(KEYS), stamp = new Int32Array(KEYS).fill(-1);
    var ids = C.ids, start = C.start, at = C.at, nodeOf = C.nodeOf;
    for (var s = 0; s < ids.length; s++) {
      var sample = ids[s], value = C.value[sample], first = start[sample], end = start[sample + 1];
      if (value === 0) continue;
      for (var p = first; p < end; p++) {
        var node = nodeOf[at[p]];
        if (stamp[node] !== s) { stamp[node] = s; seen[node] = 1; cum[node] += value; }
      }
      if (end > first) flat[nodeOf[at[end - 1]]] += value;
    }
    return {cum: cum, flat: flat, seen: seen, tags: tagSums(C)};
  }

  function tagSums(C) {
    var byPair = new PairMap(), weights = [], leaves = [], labels = [], tags = new Map();
    for (var s = 0; C.label !== null && s < C.ids.length; s++) {
      var sample = C.ids[s], value = C.value[sample], first = C.start[sample], end = C.start[sample + 1];
      if (value === 0 || end === first || C.label[sample] < 0) continue;
      var leaf = C.nodeOf[C.at[end - 1]], t = byPair.get(leaf, C.label[sample]);
      if (t < 0) { t = weights.length; byPair.set(leaf, C.label[sample], t); weights.push(0); leaves.push(leaf); labels.push(C.label[sample]); }
      weights[t] += value;
    }
    weights.forEach(function (w, t) {
      if (!tags.has(leaves[t])) tags.set(leaves[t], new Map());
      tags.get(leaves[t]).set(C.labels[labels[t]], w);
    });
    return tags;
  }

  // The graph of the kept nodes (null: all): their sums (ns, as nodeSums gives them) and the edges
  // between consecutive kept frames, numbered in order of first appearance, then as Maps in the
  // order the reference fills its dicts. With `record`, g.next: the samples as their kept frames'
  // positions (pos[start[i]] … pos[end[i] - 1]), for the next sums (which keep some of these nodes).
  function sums(C, kept, ns, record) {
    var keptMask = null;
    if (kept !== null) { keptMask = new Uint8Array(KEYS); kept.forEach(function (n) { keptMask[n] = 1; }); }
    var edgeOf = edgeMap(kept), cap = 1024, nEdges = 0;
    var eWeight = new Float64Array(cap), eStamp = new Int32Array(cap), eResidual = new Uint8Array(cap), eDirect = new Uint8Array(cap);
    var eFrom = new Int32Array(cap), eTo = new Int32Array(cap);
    var ids = C.ids, start = C.start, at = C.at, pos = C.pos || null, nodeOf = C.nodeOf, inlineOf = C.inlineOf;
    var next = !record ? null : Object.assign({}, C, {start: new Int32Array(start.length), end: new Int32Array(start.length),
                                                      pos: new Int32Array(pos === null ? at.length : C.size)});
    var nextPos = next ? next.pos : null, q = 0;
    for (var s = 0; s < ids.length; s++) {
      var sample = ids[s], value = C.value[sample], first = start[sample], end = pos === null ? start[sample + 1] : C.end[sample];
      if (value === 0) continue;
      if (next) next.start[sample] = q;
      var parent = -1, pPos = 0;  // the last kept frame: its node and position
      for (var p = first; p < end; p++) {
        var cPos = pos === null ? p : pos[p], line = at[cPos], child = nodeOf[line];
        if (keptMask !== null && !keptMask[child]) continue;
        if (next) nextPos[q++] = cPos;
        if (parent >= 0 && parent !== child) {
          var e = edgeOf.get(parent, child);
          if (e < 0) {
            if (nEdges === cap) {
              cap *= 2;
              eWeight = grown(eWeight, cap); eStamp = grown(eStamp, cap); eResidual = grown(eResidual, cap);
              eDirect = grown(eDirect, cap); eFrom = grown(eFrom, cap); eTo = grown(eTo, cap);
            }
            e = nEdges++;
            edgeOf.set(parent, child, e);
            eFrom[e] = parent; eTo[e] = child; eStamp[e] = -1;
          }
          if (eStamp[e] !== s) {
            eStamp[e] = s;
            eWeight[e] += value;
            if (cPos - pPos > 1) eResidual[e] = 1;
            if (!inlineOf[line]) eDirect[e] = 1;
          }
        }
        parent = child; pPos = cPos;
      }
      if (next) next.end[sample] = q;
    }
    if (next) next.size = q;
    var g = nodesGraph(ns, keptMask), keep = new Uint8Array(KEYS);
    g.cum.forEach(function (_, n) { keep[n] = 1; });
    for (var k = 0; k < nEdges; k++) {
      if (!keep[eFrom[k]] || !keep[eTo[k]]) continue;
      var ek = key(eFrom[k], eTo[k]);
      g.weight.set(ek, eWeight[k]);
      g.residual.set(ek, !!eResidual[k]);
      g.ends.set(ek, [eFrom[k], eTo[k]]);
      g.inline.set(ek, !eDirect[k]);
    }
    g.next = next;
    return g;
  }

  // the graph's nodes (those kept, null: all) with a value, no edges
  function nodesGraph(ns, keptMask) {
    var g = {flat: new Map(), cum: new Map(), tags: new Map(), weight: new Map(), residual: new Map(),
             inline: new Map(), ends: new Map()};
    for (var n = 0; n < ns.seen.length; n++) {
      if (!ns.seen[n] || (keptMask !== null && !keptMask[n]) || (ns.cum[n] === 0 && ns.flat[n] === 0)) continue;
      g.cum.set(n, ns.cum[n]);
      g.flat.set(n, ns.flat[n]);
      if (ns.tags.has(n)) g.tags.set(n, ns.tags.get(n));
    }
    return g;
  }

  function nodesOf(g) { return Array.from(g.cum.keys()).sort(cmpNum); }

  function entropy(weights, self) {
    var total = self;
    weights.forEach(function (w) { if (w > 0) total += Math.abs(w); });
    var score = 0;
    if (total) {
      var all = weights.slice();
      if (self > 0) all.push(self);
      all.forEach(function (w) {
        var f = Math.abs(w) / total;
        if (f > 0) score -= f * Math.log2(f);
      });
    }
    return score;
  }

  function score(g, n, around) {
    var ins = around.ins.get(n) || [], outs = around.outs.get(n) || [];
    var s = ins.length ? entropy(ins, 0) : 1;
    s += outs.length ? entropy(outs, g.flat.get(n)) : 1;
    return Math.trunc(s * g.cum.get(n)) + Math.trunc(g.flat.get(n));
  }

  function order(g, names, visual, cumSort) {
    var nodes = nodesOf(g);
    if (visual) {
      var sc = new Map(), around = {ins: new Map(), outs: new Map()};
      g.weight.forEach(function (w, e) {  // each node's edge weights in and out, in the edges' order
        var ends = g.ends.get(e);
        if (!around.ins.has(ends[1])) around.ins.set(ends[1], []);
        if (!around.outs.has(ends[0])) around.outs.set(ends[0], []);
        around.ins.get(ends[1]).push(w);
        around.outs.get(ends[0]).push(w);
      });
      nodes.forEach(function (n) { sc.set(n, score(g, n, around)); });
      return nodes.sort(function (a, b) {
        return cmpNum(-sc.get(a), -sc.get(b)) || cmpStr(names[a], names[b]) ||
          cmpNum(-Math.abs(g.cum.get(a)), -Math.abs(g.cum.get(b))) || cmpNum(a, b);
      });
    }
    var first = cumSort ? g.cum : g.flat, second = cumSort ? g.flat : g.cum;
    return nodes.sort(function (a, b) {
      return cmpNum(-Math.abs(first.get(a)), -Math.abs(first.get(b))) || cmpStr(names[a], names[b]) ||
        cmpNum(-Math.abs(second.get(a)), -Math.abs(second.get(b))) || cmpNum(a, b);
    });
  }

  function dropTags(g, cutoff) {
    g.tags.forEach(function (tags, n) {
      var kept = new Map();
      tags.forEach(function (w, k) { if (Math.abs(w) >= cutoff) kept.set(k, w); });
      g.tags.set(n, kept);
    });
  }

  function dropEdge(g, e) {
    g.weight.delete(e); g.residual.delete(e); g.inline.delete(e); g.ends.delete(e);
  }

  function dropEdges(g, cutoff) {
    var light = [];
    g.weight.forEach(function (w, e) { if (Math.abs(w) < cutoff) light.push(e); });
    light.forEach(function (e) { dropEdge(g, e); });
    return light.length;
  }

  function reachesOtherwise(g, src, dest) {
    var seen = new Set([dest]);
    var queue = [dest];
    while (queue.length) {
      var n = queue.shift();
      var found = false;
      g.ends.forEach(function (ends) {
        if (found) return;
        var p = ends[0], c = ends[1];
        if (c !== n || (p === src && c === dest) || seen.has(p)) return;
        if (p === src) { found = true; return; }
        seen.add(p);
        queue.push(p);
      });
      if (found) return true;
    }
    return false;
  }

  function prune(names, samples, options) {
    return pruneColumns(names, columns(samples, !options || options.visual !== false), options);
  }

  function pruneColumns(names, samples, options) {  // samples: as columns() makes them
    var o = Object.assign({node_count: 80, node_fraction: 0.005, edge_fraction: 0.001, visual: true,
                           cum_sort: false, drop_negative: false}, options || {});
    if (!o.visual) samples = Object.assign({}, samples, {label: null});
    KEYS = names.length + 1;
    // the nodes' sums first (or as the caller has them: options.node_sums), the edges once the
    // nodes they join are known
    var ns = o.node_sums ? Object.assign({tags: tagSums(samples)}, o.node_sums) : nodeSums(samples);
    var g = nodesGraph(ns, null), resum = true;
    var total = 0;
    nodesOf(g).forEach(function (n) { total += g.flat.get(n); });  // in id order, as Python's
    var nodeCutoff = Math.abs(Math.trunc(total * o.node_fraction));
    var edgeCutoff = Math.abs(Math.trunc(total * o.edge_fraction));
    var droppedNodes = 0;
    if (nodeCutoff > 0) {
      var kept = new Set(nodesOf(g).filter(function (n) { return Math.abs(g.cum.get(n)) >= nodeCutoff; }));
      if (kept.size !== g.cum.size) {
        droppedNodes = g.cum.size - kept.size;
        g = sums(samples, kept, ns, true);
        samples = g.next;
        resum = false;
      }
    }
    if (resum) { g = sums(samples, null, ns, true); samples = g.next; }
    if (o.drop_negative) {
      var negative = nodesOf(g).filter(function (n) {
        return g.flat.get(n) < 0 || (g.flat.get(n) === 0 && g.cum.get(n) < 0);
      });
      if (negative.length) {
        var neg = new Set(negative);
        g = sums(samples, new Set(nodesOf(g).filter(function (n) { return !neg.has(n); })), ns, true);
        samples = g.next;
      }
    }
    var beforeCount = g.cum.size;
    var ordered = order(g, names, o.visual, o.cum_sort);
    if (o.node_count > 0) {
      dropTags(g, nodeCutoff);
      dropEdges(g, edgeCutoff);
      var limit = o.node_count;
      if (o.visual) {
        var count = 0;
        for (var i = 0; i < ordered.length; i++) {
          var tags = 0;
          (g.tags.get(ordered[i]) || new Map()).forEach(function (w) { if (w !== 0) tags++; });
          count += 1 + Math.min(tags, MAX_NODELETS);
          if (count >= o.node_count) { limit = i + 1; break; }
        }
      }
      var top = ordered.slice(0, limit);
      if (top.length !== ordered.length) {
        g = sums(samples, new Set(top), ns);
        ordered = order(g, names, o.visual, o.cum_sort);
      }
    }
    dropTags(g, nodeCutoff);
    var droppedEdges = dropEdges(g, edgeCutoff);
    if (o.visual) {
      for (var k = ordered.length - 1; k >= 0; k--) {
        var n = ordered[k];
        var ins = [];
        g.ends.forEach(function (ends) { if (ends[1] === n) ins.push(ends[0]); });
        ins.sort(function (a, b) {
          return cmpNum(-Math.abs(g.weight.get(key(a, n))), -Math.abs(g.weight.get(key(b, n)))) ||
            cmpStr(names[a], names[b]) || cmpStr(names[n], names[n]);
        });
        for (var m = ins.length - 1; m >= 0; m--) {
          var u = ins[m];
          if (!g.residual.get(key(u, n))) break;
          if (reachesOtherwise(g, u, n)) dropEdge(g, key(u, n));
        }
      }
    }
    var nodesOut = {};
    ordered.forEach(function (n) {
      var tags = {};
      Array.from((g.tags.get(n) || new Map()).keys()).sort(cmpStr).forEach(function (t) {
        tags[t] = g.tags.get(n).get(t);
      });
      nodesOut[String(n)] = {flat: g.flat.get(n), cum: g.cum.get(n), tags: tags};
    });
    var edges = [];
    g.weight.forEach(function (w, e) {
      var ends = g.ends.get(e);
      edges.push([ends[0], ends[1], w, g.residual.get(e), g.inline.get(e)]);
    });
    edges.sort(function (a, b) { return cmpNum(a[0], b[0]) || cmpNum(a[1], b[1]); });
    return {order: ordered, nodes: nodesOut, edges: edges, node_cutoff: nodeCutoff, edge_cutoff: edgeCutoff,
            dropped_nodes: droppedNodes, dropped_edges: droppedEdges, nodes_before_count: beforeCount};
  }

  global.heapvizPrune = prune;
  prune.columns = pruneColumns;
})(typeof window !== "undefined" ? window : globalThis);
