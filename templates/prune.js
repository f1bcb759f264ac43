/* pprof's call-graph pruning for the HTML explorer: a line-by-line port of
 * heapviz/graph/reference.py, which is the reference (its docstring lists every rule and
 * tie-break). tests/test_prune_js.py runs this file in Chromium over the golden fixtures in
 * tests/data/pruning and over real profiles, and requires the same result as Python's.
 *
 * heapvizPrune(nodes, samples, options) -> {order, nodes, edges, node_cutoff, edge_cutoff,
 *   dropped_nodes, dropped_edges, nodes_before_count}
 *   nodes: [name, ...] (ids are indices, numbered in the order of the nodes' identity)
 *   samples: [[value, [node, ...root first], [inline, ...], sizeLabel], ...]
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

  function sums(samples, kept) {
    var g = {flat: new Map(), cum: new Map(), tags: new Map(), weight: new Map(), residual: new Map(),
             inline: new Map(), ends: new Map()};
    var direct = new Map();
    var stamp = new Int32Array(KEYS).fill(-1), edgeStamp = new Map();  // what a sample has counted
    var seqPos = [], seqNode = [];
    for (var s = 0; s < samples.length; s++) {
      var value = samples[s][0], frames = samples[s][1], inline = samples[s][2], label = samples[s][3];
      if (value === 0) continue;
      seqPos.length = 0;
      seqNode.length = 0;
      for (var p = 0; p < frames.length; p++) {
        if (kept === null || kept.has(frames[p])) { seqPos.push(p); seqNode.push(frames[p]); }
      }
      for (var i = 0; i < seqNode.length; i++) {
        var node = seqNode[i];
        if (stamp[node] === s) continue;
        stamp[node] = s;
        g.cum.set(node, (g.cum.has(node) ? g.cum.get(node) : 0) + value);
      }
      if (frames.length && (kept === null || kept.has(frames[frames.length - 1]))) {
        var leaf = frames[frames.length - 1];
        g.flat.set(leaf, (g.flat.has(leaf) ? g.flat.get(leaf) : 0) + value);
        if (label) {
          if (!g.tags.has(leaf)) g.tags.set(leaf, new Map());
          var tags = g.tags.get(leaf);
          tags.set(label, (tags.has(label) ? tags.get(label) : 0) + value);
        }
      }
      for (var j = 0; j + 1 < seqNode.length; j++) {
        var pPos = seqPos[j], parent = seqNode[j], cPos = seqPos[j + 1], child = seqNode[j + 1];
        if (parent === child) continue;
        var e = key(parent, child);
        if (edgeStamp.get(e) === s) continue;
        edgeStamp.set(e, s);
        g.weight.set(e, (g.weight.has(e) ? g.weight.get(e) : 0) + value);
        g.residual.set(e, (g.residual.get(e) || false) || cPos - pPos > 1);
        direct.set(e, (direct.get(e) || false) || !inline[cPos]);
        g.ends.set(e, [parent, child]);
      }
    }
    var keep = new Set();
    g.cum.forEach(function (c, n) { if (c !== 0 || (g.flat.get(n) || 0) !== 0) keep.add(n); });
    var cum = new Map(), flat = new Map(), tagsKept = new Map();
    keep.forEach(function (n) {
      cum.set(n, g.cum.get(n));
      flat.set(n, g.flat.has(n) ? g.flat.get(n) : 0);
      if (g.tags.has(n)) tagsKept.set(n, g.tags.get(n));
    });
    g.cum = cum; g.flat = flat; g.tags = tagsKept;
    Array.from(g.weight.keys()).forEach(function (e) {
      var ends = g.ends.get(e);
      if (!keep.has(ends[0]) || !keep.has(ends[1])) {
        g.weight.delete(e); g.residual.delete(e); g.ends.delete(e);
      } else {
        g.inline.set(e, !direct.get(e));
      }
    });
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
    var o = Object.assign({node_count: 80, node_fraction: 0.005, edge_fraction: 0.001, visual: true,
                           cum_sort: false, drop_negative: false}, options || {});
    if (!o.visual) samples = samples.map(function (s) { return [s[0], s[1], s[2], ""]; });
    KEYS = names.length + 1;
    var g = sums(samples, null);
    var total = 0;
    nodesOf(g).forEach(function (n) { total += g.flat.get(n); });  // in id order, as Python's
    var nodeCutoff = Math.abs(Math.trunc(total * o.node_fraction));
    var edgeCutoff = Math.abs(Math.trunc(total * o.edge_fraction));
    var droppedNodes = 0;
    if (nodeCutoff > 0) {
      var kept = new Set(nodesOf(g).filter(function (n) { return Math.abs(g.cum.get(n)) >= nodeCutoff; }));
      if (kept.size !== g.cum.size) {
        droppedNodes = g.cum.size - kept.size;
        g = sums(samples, kept);
      }
    }
    if (o.drop_negative) {
      var negative = nodesOf(g).filter(function (n) {
        return g.flat.get(n) < 0 || (g.flat.get(n) === 0 && g.cum.get(n) < 0);
      });
      if (negative.length) {
        var neg = new Set(negative);
        g = sums(samples, new Set(nodesOf(g).filter(function (n) { return !neg.has(n); })));
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
        g = sums(samples, new Set(top));
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
})(typeof window !== "undefined" ? window : globalThis);
