/* heapviz report explorer: recompute the call graph in the page from the embedded stack table
 * (heapviz/report/explorer_data.py documents its fields), as `heapviz graph` does: nodes at a
 * granularity, --focus/--ignore/--hide/--show (heapviz/graph/filters.py), pprof's pruning
 * (prune.js, the port of heapviz/graph/reference.py; the selection they start from: explore_select.js),
 * DOT as heapviz/render/dot.py writes it,
 * laid out by the vendored Graphviz (Viz, WebAssembly). Nothing is fetched. The server-rendered
 * SVG stays until the first refine.
 * window.heapvizExplorer: {loaded: Promise (the data decoded), refine(options) -> Promise, compute(options) -> graph,
 *                         lastGraph, lastDot}
 */
(function () {
  "use strict";
  var dataEl = document.getElementById("heapviz-explorer");
  var form = document.getElementById("explorer");
  if (!dataEl || !form || typeof heapvizPrune !== "function" || typeof heapvizExplorerData !== "function") { return; }
  var D = JSON.parse(dataEl.textContent);
  var S = D.strings;
  function column(t) { return D.same_as[t] >= 0 ? D.values[D.same_as[t]] : D.values[t]; }
  var started = performance.now(), loadTimes = {};
  var loaded = window.heapvizExplorerData(D).then(function () {
    loadTimes.decode = performance.now() - started;
    return D;
  });

  // ---- numbers as heapviz/units.py prints them
  var MEMORY_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];
  var TIME_UNITS = {ns: 1, us: 1e3, ms: 1e6, s: 1e9, mins: 60e9, hrs: 3600e9, days: 86400e9, wks: 7 * 86400e9,
                    yrs: 365 * 86400e9};
  var TIME_SAMPLE = {nanoseconds: 1, nanosecond: 1, ns: 1, microseconds: 1e3, microsecond: 1e3, us: 1e3,
                     milliseconds: 1e6, millisecond: 1e6, ms: 1e6, seconds: 1e9, second: 1e9, sec: 1e9, s: 1e9};
  function dimension(u) {
    if (u === "bytes") { return "bytes"; }
    return Object.prototype.hasOwnProperty.call(TIME_SAMPLE, u.toLowerCase()) ? "time" : "count";
  }
  function bestMemory(v) {
    v = Math.abs(v);
    var unit = "B";
    for (var i = 0; i < MEMORY_UNITS.length; i++) { if (v >= Math.pow(1024, i)) { unit = MEMORY_UNITS[i]; } }
    return unit;
  }
  function bestTime(ns) {
    ns = Math.abs(ns);
    var limits = [["ns", 1e3], ["us", 1e6], ["ms", 1e9], ["s", 60e9], ["mins", 3600e9], ["hrs", 86400e9],
                  ["days", 15 * 86400e9], ["wks", 120 * 86400e9]];
    for (var i = 0; i < limits.length; i++) { if (ns < limits[i][1]) { return limits[i][0]; } }
    return "yrs";
  }
  function best(v, su) {
    var f = dimension(su);
    if (f === "bytes") { return bestMemory(v); }
    if (f === "time") { return bestTime(v * TIME_SAMPLE[su.toLowerCase()]); }
    return "";
  }
  function pyRound(v) {  // Python's round(): halves to even
    var f = Math.floor(v), d = v - f;
    if (d === 0.5) { return f % 2 === 0 ? f : f + 1; }
    return Math.round(v);
  }
  function fixed2(x) {  // Python's f"{x:.2f}" (exact ties round to even)
    var sign = x < 0 ? "-" : "", a = Math.abs(x), k = a * 1000;
    if (Number.isInteger(k) && k % 10 === 5) {
      var n = Math.floor(a * 100);
      if (n % 2 === 1) { n += 1; }
      var s = String(n).padStart(3, "0");
      return sign + s.slice(0, -2) + "." + s.slice(-2);
    }
    return sign + a.toFixed(2);
  }
  function chooseUnit(su, requested, nodeValues, total) {
    var f = dimension(su);
    if (f === "count") { return ""; }
    if (requested !== "minimum" && requested !== "auto") {
      var wrong = f === "bytes" ? Object.prototype.hasOwnProperty.call(TIME_UNITS, requested)
        : MEMORY_UNITS.indexOf(requested) >= 0;
      return wrong ? "auto" : requested;
    }
    if (requested === "auto") { return requested; }
    var minimum = 0;
    nodeValues.forEach(function (fc) {
      var v = Math.abs(fc[0]) || Math.abs(fc[1]);
      if (v && (!minimum || v < minimum)) { minimum = v; }
    });
    var maximum = Math.abs(total);
    if (!minimum) { minimum = maximum; }
    var mn = best(minimum, su), mx = best(maximum, su);
    if (mn !== mx && minimum * 100 < maximum) { return best(100 * minimum, su); }
    return mn;
  }
  function formatValue(v, su, unit) {
    if (v === 0) { return "0"; }
    var f = dimension(su);
    if (f === "count" || !unit) { return String(pyRound(v)); }
    var known = f === "time" ? Object.prototype.hasOwnProperty.call(TIME_UNITS, unit) : MEMORY_UNITS.indexOf(unit) >= 0;
    if (unit === "auto" || !known) { unit = best(v, su); }
    var s;
    if (f === "time") {
      s = fixed2(v * TIME_SAMPLE[su.toLowerCase()] / TIME_UNITS[unit]).replace(/\.00$/, "");
      return s === "0" || s === "-0" ? "0" : s + unit;
    }
    if (unit === "B") { return pyRound(v) + "B"; }
    return fixed2(v / Math.pow(1024, MEMORY_UNITS.indexOf(unit))).replace(/\.00$/, "") + unit;
  }
  function g2(x) {  // Python's f"{x:.2g}" for x >= 0
    if (x === 0) { return "0"; }
    var e = x.toExponential(1).split("e"), exp = parseInt(e[1], 10), mant = e[0].replace(/\.0$/, "");
    if (exp < -4 || exp >= 2) { return mant + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0"); }
    return x.toFixed(Math.max(0, 1 - exp)).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  }
  function percentage(value, total) {  // stripped, as the DOT labels use it
    var ratio = total ? Math.abs(value / total) * 100 : 0;
    if (ratio >= 99.95 && ratio <= 100.05) { return "100%"; }
    if (ratio >= 1) { return fixed2(ratio) + "%"; }
    return g2(ratio) + "%";
  }

  // ---- DOT as heapviz/render/dot.py writes it
  var FONT = "DejaVu Sans", MIN_FONT_SIZE = 14, MAX_LABEL_TEMPLATE = 12, MAX_TOOLTIP = 2000, MAX_NODELETS = 4;
  function wellFormed(text) {  // lone surrogates (undecodable bytes in names) become U+FFFD, as in Python
    if (text.toWellFormed) { return text.toWellFormed(); }
    return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(^|[^\ud800-\udbff])[\udc00-\udfff]/g, function (m, pre) {
      return (pre || "") + "\ufffd";
    });
  }
  function escape(text, tooltip) {
    return wellFormed(text).replace(/&/g, "&amp;").replace(/\\/g, tooltip ? "\\\\\\\\" : "\\\\").replace(/"/g, "\\\"")
      .replace(/[\x00-\x1f\x7f]/g, " ");
  }
  var W = "[\\p{L}\\p{N}_]";
  var CPP_CLASS_METHOD = new RegExp("^(?:[_a-zA-Z]" + W + "*::)+(_*[A-Z]" + W + "*::~?[_a-zA-Z]" + W +
                                    "*(?:<.*>)?)$", "u");
  var GO_PACKAGE_PATH = new RegExp("^(?:(?:" + W + "|[\\-.~])+/)+([^./\\s]+\\..+)$", "u");
  var ANON = "(anonymous namespace)::";
  function operatorEnd(name, i) {
    var j = i + 8;
    while (j < name.length && "<>=".indexOf(name[j]) >= 0) { j++; }
    return j;
  }
  function shortenTemplates(name) {
    if (name.indexOf("<") < 0) { return name; }
    var out = [], depth = 0, start = 0, i = 0;
    while (i < name.length) {
      if (name.startsWith("operator", i)) {
        var j = operatorEnd(name, i);
        if (depth === 0) { out.push(name.slice(i, j)); }
        i = j;
        continue;
      }
      var c = name[i];
      if (c === "<") {
        if (depth === 0) { start = i; }
        depth++;
      } else if (c === ">" && depth) {
        depth--;
        if (depth === 0) {
          var inner = name.slice(start, i + 1);
          out.push(Array.from(inner).length <= MAX_LABEL_TEMPLATE + 2 ? inner : "<…>");
        }
      } else if (depth === 0) { out.push(c); }
      i++;
    }
    if (depth) { out.push(name.slice(start)); }
    return out.join("");
  }
  function shortenFunctionName(name) {
    if (name.indexOf("::") < 0) {
      var go = GO_PACKAGE_PATH.exec(name);
      if (go) { return go[1]; }
    }
    if (name.startsWith(ANON)) { name = name.slice(ANON.length); }
    var m = CPP_CLASS_METHOD.exec(name);
    if (m) { name = m[1]; }
    return shortenTemplates(name);
  }
  function splitScopes(name) {
    var parts = [], depth = 0, cur = "", i = 0;
    while (i < name.length) {
      if (name.startsWith("operator", i)) {
        var j = operatorEnd(name, i);
        cur += name.slice(i, j);
        i = j;
        continue;
      }
      var c = name[i];
      if ("<({".indexOf(c) >= 0) { depth++; } else if (">)}".indexOf(c) >= 0 && depth) { depth--; }
      if (depth === 0 && name.startsWith("::", i)) { parts.push(cur); cur = ""; i += 2; continue; }
      cur += c;
      i++;
    }
    parts.push(cur);
    return parts.filter(function (p) { return p; });
  }
  function nodeLabel(n) {
    var lines = [];
    if (n.name) { lines = lines.concat(splitScopes(shortenFunctionName(n.name))); }
    if (n.line) { lines.push(n.file.split("/").pop() + ":" + n.line); } else if (n.file) { lines.push(n.file.split("/").pop()); }
    if (!lines.length) { lines.push("<unknown>"); }
    return lines.map(function (l) { return escape(l) + "\\n"; }).join("");
  }
  function dotColor(score, background) {
    score = Math.max(-1, Math.min(1, score));
    var sat = background ? 0.1 : 1.0, val = background ? 0.93 : 0.7;
    if (Math.abs(score) < 0.2) { sat *= Math.abs(score) / 0.2; }
    score = score ? Math.sign(score) * Math.pow(Math.abs(score), 0.3) : 0;
    var r, g;
    if (score < 0) { r = val * (1 + sat * score); g = val; } else { r = val; g = val * (1 - sat * score); }
    var b = val * (1 - sat);
    var hex = function (x) { return Math.trunc(x * 255).toString(16).padStart(2, "0"); };
    return "#" + hex(r) + hex(g) + hex(b);
  }
  function fontSize(flat, maxFlat) {
    if (maxFlat && flat && Math.abs(flat) <= maxFlat) { return 8 + Math.ceil(16 * Math.sqrt(Math.abs(flat) / maxFlat)); }
    return 8;
  }
  function edgeWeight(w, total) { return total ? 1 + Math.min(Math.abs(Math.trunc(w * 100 / total)), 100) : 1; }
  function penWidth(w, total) { return total ? 1 + Math.min(Math.abs(Math.trunc(w * 5 / total)), 5) : 1; }
  function nodelets(tags) {  // tags: [[label, size, weight]]
    var ordered = tags.filter(function (t) { return t[2] !== 0; }).sort(function (a, b) {
      return (Math.abs(b[2]) - Math.abs(a[2])) || cmpStr(a[0], b[0]);
    });
    var groups = ordered.slice(0, MAX_NODELETS).map(function (t) { return [t]; });
    ordered.slice(MAX_NODELETS).forEach(function (t) {
      var bestI = 0;
      for (var i = 1; i < MAX_NODELETS; i++) {
        if (Math.abs(t[1] - groups[i][0][1]) < Math.abs(t[1] - groups[bestI][0][1])) { bestI = i; }
      }
      groups[bestI].push(t);
    });
    var out = groups.map(function (grp) {
      var lo = Math.min.apply(null, grp.map(function (t) { return t[1]; }));
      var hi = Math.max.apply(null, grp.map(function (t) { return t[1]; }));
      var w = 0;
      grp.forEach(function (t) { w += t[2]; });
      return [lo, hi, w];
    });
    return out.sort(function (a, b) { return (Math.abs(b[2]) - Math.abs(a[2])) || (a[0] - b[0]); });
  }
  function cmpStr(a, b) {  // by code point, as Python compares strings (no arrays made: tables sort thousands)
    if (a === b) { return 0; }
    var ia = 0, ib = 0;
    while (ia < a.length && ib < b.length) {
      var ca = a.codePointAt(ia), cb = b.codePointAt(ib);
      if (ca !== cb) { return ca < cb ? -1 : 1; }
      ia += ca > 0xffff ? 2 : 1;
      ib += cb > 0xffff ? 2 : 1;
    }
    var ra = a.length - ia, rb = b.length - ib;
    return ra < rb ? -1 : (ra === rb ? 0 : 1);
  }


  function compute(o) { return graphOf(window.heapvizExplorer.select(o)); }

  // each sample's size label (its bytes per object, as the nodelets group them), once
  var labelCache = null;
  function sizeLabels() {
    if (labelCache) { return labelCache; }
    var n = D.sample_stack.length, cols = D.values.map(function (_, i) { return column(i); });
    var label = new Int32Array(n).fill(-1), size = new Float64Array(n), ids = new Map(), texts = [], bySize = new Map();
    for (var i = 0; i < n && D.size_pairs.length; i++) {
      var s = 0;
      for (var p = 0; p < D.size_pairs.length; p++) {
        var cnt = cols[D.size_pairs[p][0]][i];
        if (cnt !== 0) { s = Math.trunc(cols[D.size_pairs[p][1]][i] / cnt + 1e-9); break; }
      }
      var text = bySize.get(s);
      if (text === undefined) { text = formatValue(s, "bytes", "auto"); bySize.set(s, text); }
      if (!text) { continue; }
      if (!ids.has(text)) { ids.set(text, texts.length); texts.push(text); }
      label[i] = ids.get(text);
      size[i] = s;
    }
    labelCache = {label: label, size: size, texts: texts};
    return labelCache;
  }

  function graphOf(sel) {
    var o = sel.o, t = sel.t, vt = D.sample_types[t];
    var infos = sel.infos, fullNames = sel.fullNames;
    // reference ids: sorted by (name, file, line)
    var rank = infos.map(function (_, i) { return i; }).sort(function (x, y) {
      return cmpStr(infos[x].name, infos[y].name) || cmpStr(infos[x].file, infos[y].file) ||
        (infos[x].line - infos[y].line);
    });
    var number = new Array(infos.length);
    rank.forEach(function (old, i) { number[old] = i; });
    var names = rank.map(function (old) { return sel.names[old]; });
    var lineRank = new Int32Array(sel.lineNode.length);
    for (var j = 0; j < lineRank.length; j++) { lineRank[j] = sel.lineNode[j] >= 0 ? number[sel.lineNode[j]] : -1; }
    var L = sizeLabels(), sizeOf = {}, named = new Uint8Array(L.texts.length);
    for (var k = 0; k < sel.ids.length; k++) {  // a label's size: its first sample's
      var i = sel.ids[k], id = L.label[i];
      if (id >= 0 && !named[id]) { named[id] = 1; sizeOf[L.texts[id]] = L.size[i]; }
    }
    var samples = {ids: sel.ids, start: sel.start, at: sel.line, nodeOf: lineRank, inlineOf: sel.inline, value: column(t),
                   label: L.texts.length ? L.label : null, labels: L.texts};
    var ns = window.heapvizExplorer.nodeSums(sel, t), given = {cum: new Float64Array(infos.length),  // as the tables have them
      flat: new Float64Array(infos.length), seen: new Uint8Array(infos.length)};
    for (var n = 0; n < infos.length; n++) { given.cum[number[n]] = ns.cum[n]; given.flat[number[n]] = ns.flat[n]; given.seen[number[n]] = ns.has[n]; }
    var r = heapvizPrune.columns(names, samples, {node_count: o.node_count, node_fraction: o.node_fraction,
                                                  edge_fraction: o.edge_fraction, visual: true, cum_sort: false,
                                                  drop_negative: o.drop_negative, node_sums: given});
    var total = D.totals[t], warnings = sel.warnings;
    var graph = {
      nodes: r.order.map(function (n) {
        return {name: names[n], flat: pyRound(r.nodes[n].flat), cum: pyRound(r.nodes[n].cum)};
      }),
      edges: r.edges.map(function (e) {
        return {from: names[e[0]], to: names[e[1]], weight: pyRound(e[2]), residual: e[3], inline: e[4]};
      }),
      total: total, dropped_nodes: r.dropped_nodes, dropped_edges: r.dropped_edges, warnings: warnings,
    };
    // DOT
    var nodeValues = r.order.map(function (n) { return [r.nodes[n].flat, r.nodes[n].cum]; });
    var unit = chooseUnit(vt.unit, o.unit, nodeValues, total);
    var fmt = function (v) { return formatValue(v, vt.unit, unit); };
    var legend = (D.legend_headers[t] || []).slice();
    var active = ["focus", "ignore", "hide", "show"].filter(function (k) { return o[k]; });
    if (active.length) {
      legend.push("Active filters:");
      active.forEach(function (k) { legend.push("   " + Array.from(k + "=" + o[k]).slice(0, 80).join("")); });
    }
    var shown = 0;
    r.order.forEach(function (n) { shown += r.nodes[n].flat; });
    legend.push("Showing nodes accounting for " + fmt(shown) + ", " + percentage(shown, total) + " of " + fmt(total) + " total");
    if (r.dropped_nodes) { legend.push("Dropped " + r.dropped_nodes + " nodes (cum <= " + fmt(r.node_cutoff) + ")"); }
    if (r.dropped_edges) { legend.push("Dropped " + r.dropped_edges + " edges (freq <= " + fmt(r.edge_cutoff) + ")"); }
    if (r.order.length < r.nodes_before_count) {
      legend.push("Showing top " + r.order.length + " nodes out of " + r.nodes_before_count);
    }
    var out = ["digraph \"" + escape(D.title) + "\" {", "graph [fontname=\"" + FONT + "\" id=\"callgraph\"]",
               "node [style=filled fillcolor=\"#f8f8f8\" fontname=\"" + FONT + "\"]", "edge [fontname=\"" + FONT + "\"]"];
    out.push("subgraph cluster_L { \"legend\" [shape=box fontsize=16 label=\"" +
             legend.map(function (l) { return escape(l) + "\\l"; }).join("") + "\" tooltip=\"" + escape(D.title, true) + "\"] }");
    var ids = new Map();
    r.order.forEach(function (n, i) { ids.set(n, i + 1); });
    var maxFlat = 0;
    r.order.forEach(function (n) { maxFlat = Math.max(maxFlat, Math.abs(r.nodes[n].flat)); });
    var hasNodelets = new Set();
    r.order.forEach(function (n) {
      var a = r.nodes[n], flat = a.flat, cum = a.cum, id = ids.get(n), info = infos[rank[n]];
      var label = nodeLabel(info);
      label += flat ? fmt(flat) + " (" + percentage(flat, total) + ")" : "0";
      if (cum !== flat) { label += (flat ? "\\n" : " ") + "of " + fmt(cum) + " (" + percentage(cum, total) + ")"; }
      var full = Array.from(fullNames[rank[n]]).sort(cmpStr).join("\n") || names[n];
      if (Array.from(full).length > MAX_TOOLTIP) { full = Array.from(full).slice(0, MAX_TOOLTIP).join("") + "…"; }
      var score = total ? cum / Math.abs(total) : 0;
      out.push("N" + id + " [label=\"" + label + "\" id=\"node" + id + "\" fontsize=" +
               Math.max(MIN_FONT_SIZE, fontSize(flat, maxFlat)) + " shape=box tooltip=\"" + escape(full, true) + " (" +
               fmt(cum) + ")\" color=\"" + dotColor(score, false) + "\" fillcolor=\"" + dotColor(score, true) + "\"]");
      var tags = Object.keys(a.tags).map(function (k) { return [k, sizeOf[k], a.tags[k]]; });
      nodelets(tags).forEach(function (nl, j) {
        var nid = "NN" + id + "_" + j, tag = nl[0] === nl[1] ? fmt(nl[0]) : fmt(nl[0]) + ".." + fmt(nl[1]);
        out.push(nid + " [label=\"" + escape(tag) + "\" id=\"" + nid + "\" fontsize=" + MIN_FONT_SIZE +
                 " shape=box3d tooltip=\"" + fmt(nl[2]) + "\"]");
        out.push("N" + id + " -> " + nid + " [label=\" " + fmt(nl[2]) + "\" weight=100 tooltip=\"" + fmt(nl[2]) +
                 "\" labeltooltip=\"" + fmt(nl[2]) + "\"]");
        hasNodelets.add(n);
      });
    });
    var edges = r.edges.slice().sort(function (x, y) {
      return (Math.abs(y[2]) - Math.abs(x[2])) || cmpStr(names[x[0]], names[y[0]]) || cmpStr(names[x[1]], names[y[1]]) ||
        (ids.get(x[0]) - ids.get(y[0])) || (ids.get(x[1]) - ids.get(y[1]));
    });
    edges.forEach(function (e) {
      var w = e[2], attrs = ["label=\" " + fmt(w) + (e[4] ? "\\n (inline)" : "") + "\""];
      if (total) {
        var wt = edgeWeight(w, total), pw = penWidth(w, total);
        if (wt > 1) { attrs.push("weight=" + wt); }
        if (pw > 1) { attrs.push("penwidth=" + pw); }
        attrs.push("color=\"" + dotColor(w / Math.abs(total), false) + "\"");
      }
      var tip = "\"" + escape(names[e[0]], true) + " " + (e[3] ? "..." : "->") + " " + escape(names[e[1]], true) +
        " (" + fmt(w) + ")\"";
      attrs.push("tooltip=" + tip + " labeltooltip=" + tip);
      if (e[3]) { attrs.push("style=\"dotted\""); }
      if (hasNodelets.has(e[0])) { attrs.push("minlen=2"); }
      out.push("N" + ids.get(e[0]) + " -> N" + ids.get(e[1]) + " [" + attrs.join(" ") + "]");
    });
    out.push("}");
    graph.dot = out.join("\n") + "\n";
    graph.legend = legend;
    graph.unit = unit;
    return graph;
  }

  // ---- the page: state, refinements, the URL fragment, the command line; views register in `views`
  window.heapvizExplorer = {
    D: D, S: S, loaded: loaded, loadTimes: loadTimes, column: column, graphOf: graphOf, compute: function (o) {
      return compute(Object.assign({}, D.options, o));
    }, formatValue: formatValue, percentage: percentage, chooseUnit: chooseUnit, cmpStr: cmpStr,
    pyRound: pyRound, views: [], lastGraph: null, lastDot: ""
  };
})();
