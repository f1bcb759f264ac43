/* heapviz report explorer, the views that are tables: the top tables (flat and cum), callers and
 * callees (peek) and the leak sites with their code, recomputed from the explorer's selection
 * (explore.js) as heapviz/report/collect.py computes them: heapviz/text.py's top_rows,
 * heapviz/graph/peek.py, collect._leak_sites and report/sources.py. Every name goes into the
 * page as text (textContent), never as markup. Each view keeps the report's own elements and
 * puts them back when the state is the report's own.
 */
(function () {
  "use strict";
  var X = window.heapvizExplorer;
  if (!X) { return; }
  var D = X.D, S = X.S;
  var MAX_TABLE_ROWS = 300, PEEK_FUNCTIONS = 30, MAX_LEAK_SITES = 50;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else if (k === "cls") { e.className = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return e;
  }
  X.el = el;
  function pct(v, total) { return X.percentage(v, total); }  // stripped, as the report shows them

  // A view's own elements of the report as written, put back when the state is the report's own.
  function Slot(parent, nodes) {
    this.parent = parent;
    this.original = nodes;
    this.shown = nodes;
  }
  Slot.prototype.show = function (nodes, before) {
    var self = this;
    if (nodes === this.shown) { return; }
    var anchor = before || (this.shown.length ? this.shown[this.shown.length - 1].nextSibling : null);
    nodes.forEach(function (n) { self.parent.insertBefore(n, anchor); });
    this.shown.forEach(function (n) { if (nodes.indexOf(n) < 0 && n.parentNode) { n.parentNode.removeChild(n); } });
    this.shown = nodes;
  };
  X.Slot = Slot;

  // ---- flat and cum per node for one sample type (heapviz/graph/tables.py)
  // (once per selection and sample type: the tables and peek share it). An edge into a node is
  // inlined where its frame is a location's inlined line: mark[n] & 1 says an edge into n is
  // inlined wherever it occurs, & 2 that one is not (the table's "(inline)", "(partial-inline)")
  function nodeSums(sel, t) {
    sel.sums = sel.sums || {};
    if (sel.sums[t]) { return sel.sums[t]; }
    var values = X.column(t), n = sel.infos.length, node = sel.lineNode, line = sel.line, inl = sel.inline, prev = sel.st.prev;
    var flat = new Float64Array(n), cum = new Float64Array(n), has = new Uint8Array(n), stamp = new Int32Array(n).fill(-1);
    var mark = new Uint8Array(n), inlineInto = new Uint8Array(n), inlineSeen = new Uint8Array(node.length);
    for (var j = 0; j < node.length; j++) { if (inl[j] && node[j] >= 0 && node[prev[j]] !== node[j]) { inlineInto[node[j]] = 1; } }
    var direct = new window.heapvizPairMap();  // direct occurrences of the edges some inlined frame makes too
    for (var k = 0; k < sel.ids.length; k++) {
      var i = sel.ids[k], v = values[i];
      if (v === 0) { continue; }
      var first = sel.start[i], end = sel.start[i + 1], up = -1;
      for (var p = first; p < end; p++) {
        var f = node[line[p]];
        if (stamp[f] !== k) { stamp[f] = k; cum[f] += v; has[f] = 1; }
        if (p > first && up !== f) {
          if (inl[line[p]]) { inlineSeen[line[p]] = 1; } else {
            mark[f] |= 2;
            if (inlineInto[f]) { direct.set(up, f, 0); }
          }
        }
        up = f;
      }
      flat[node[line[end - 1]]] += v;
    }
    for (var q = 0; q < node.length; q++) {
      if (inlineSeen[q] && direct.get(node[prev[q]], node[q]) < 0) { mark[node[q]] |= 1; }
    }
    sel.sums[t] = {flat: flat, cum: cum, has: has, mark: mark, total: D.totals[t]};
    return sel.sums[t];
  }
  X.nodeSums = nodeSums;

  // the edges into and out of some nodes (`chosen`: each one's index, -1 others), each [weight,
  // stamp, direct at any occurrence, parent, child], in order of first appearance; numbered in
  // one Int32Array: an edge into the i-th chosen node from u at i * n + u, else out of it at (k + i) * n + v
  function more(a) { var b = new a.constructor(2 * a.length); b.set(a); return b; }
  function edgesAround(sel, t, chosen, k) {
    var values = X.column(t), node = sel.lineNode, line = sel.line, inl = sel.inline, n = sel.infos.length;
    var slots = new Int32Array(2 * k * n), size = 0;  // slots: an edge's number + 1
    var weight = new Float64Array(1024), stamp = new Int32Array(1024), direct = new Uint8Array(1024), from = new Int32Array(1024), to = new Int32Array(1024);
    for (var q = 0; q < sel.ids.length; q++) {
      var i = sel.ids[q], v = values[i];
      if (v === 0) { continue; }
      for (var p = sel.start[i] + 1; p < sel.start[i + 1]; p++) {
        var u = node[line[p - 1]], f = node[line[p]];
        if (u === f || (chosen[u] < 0 && chosen[f] < 0)) { continue; }
        var slot = chosen[f] >= 0 ? chosen[f] * n + u : (k + chosen[u]) * n + f, e = slots[slot] - 1;
        if (e < 0) {
          if (size === weight.length) {
            weight = more(weight); stamp = more(stamp); direct = more(direct); from = more(from); to = more(to);
          }
          e = size++;
          slots[slot] = size; weight[e] = 0; stamp[e] = -1; from[e] = u; to[e] = f;
        }
        if (stamp[e] !== q) { stamp[e] = q; weight[e] += v; }
        if (!inl[line[p]]) { direct[e] = 1; }
      }
    }
    var list = [];
    for (var c = 0; c < size; c++) { list.push([weight[c], stamp[c], !!direct[c], from[c], to[c]]); }
    return list;
  }

  function byFlat(sel, s, cumFirst) {
    var nodes = [];
    for (var i = 0; i < sel.infos.length; i++) { if (s.has[i] && (s.cum[i] !== 0 || s.flat[i] !== 0)) { nodes.push(i); } }
    var first = cumFirst ? s.cum : s.flat, second = cumFirst ? s.flat : s.cum;
    return nodes.sort(function (a, b) {
      return (Math.abs(first[b]) - Math.abs(first[a])) || X.cmpStr(sel.names[a], sel.names[b]) ||
        (Math.abs(second[b]) - Math.abs(second[a]));
    });
  }

  // ---- the top tables: the shown sample type and the kind's growth types, flat and cum
  function topRows(sel, t, sortCum) {
    var s = nodeSums(sel, t), vt = D.sample_types[t];
    var order = byFlat(sel, s, sortCum);
    var unit = X.chooseUnit(vt.unit, sel.o.unit, order.map(function (n) { return [s.flat[n], s.cum[n]]; }), s.total);
    var fmt = function (v) { return X.formatValue(v, vt.unit, unit); };
    var running = 0;
    var rows = order.slice(0, MAX_TABLE_ROWS).map(function (n) {  // the rows shown
      running += s.flat[n];
      var m = s.mark[n], name = sel.names[n] + (m & 1 ? (m === 1 ? " (inline)" : " (partial-inline)") : "");
      return {name: name, full_names: Array.from(sel.fullNames[n]).sort(X.cmpStr), flat: X.pyRound(s.flat[n]),
              cum: X.pyRound(s.cum[n]), flat_text: fmt(s.flat[n]), cum_text: fmt(s.cum[n]),
              flat_pct: pct(s.flat[n], s.total), sum_pct: pct(running, s.total), cum_pct: pct(s.cum[n], s.total)};
    });
    return {key: vt.type + "-" + (sortCum ? "cum" : "flat"), title: vt.type + " by " + (sortCum ? "cum" : "flat"),
            total_text: fmt(s.total), rows: rows, omitted: Math.max(0, order.length - MAX_TABLE_ROWS)};
  }
  X.topRows = topRows;

  function tableTypes(t) {
    var out = [t];
    (D.growth_types || []).forEach(function (name) {
      var i = D.sample_types.map(function (v) { return v.type; }).indexOf(name);
      if (i >= 0 && out.indexOf(i) < 0) { out.push(i); }
    });
    return out;
  }
  X.tableTypes = tableTypes;

  var section = document.getElementById("tables");
  var tablesSlot = section ? new Slot(section, Array.prototype.slice.call(section.querySelectorAll(":scope > details.table-block"))) : null;
  function renderTables(ctx) {
    if (!tablesSlot) { return; }
    if (ctx.initial) { tablesSlot.show(tablesSlot.original); return; }
    var blocks = [];
    tableTypes(ctx.sel.t).forEach(function (t) {
      [false, true].forEach(function (sortCum) {
        var tb = topRows(ctx.sel, t, sortCum);
        var head = el("tr", {}, ["flat", "flat%", "sum%", "cum", "cum%"].map(function (h) { return el("th", {cls: "num", text: h}); })
          .concat([el("th", {text: "name"})]));
        var body = el("tbody", {}, tb.rows.map(function (r, i) {
          var tr = el("tr", {"data-names": [r.name].concat(r.full_names).join("\n"), "data-node": r.name.replace(/ \((partial-)?inline\)$/, "")}, [
            el("td", {cls: "num", "data-v": r.flat, title: r.flat, text: r.flat_text}),
            el("td", {cls: "num", "data-v": r.flat, text: r.flat_pct}),
            el("td", {cls: "num", "data-v": i, text: r.sum_pct}),
            el("td", {cls: "num", "data-v": r.cum, title: r.cum, text: r.cum_text}),
            el("td", {cls: "num", "data-v": r.cum, text: r.cum_pct}),
            el("td", {cls: "name", title: r.full_names.join("\n"), text: r.name})]);
          return tr;
        }));
        var table = el("table", {cls: "data sortable", id: "tbl-" + tb.key}, [el("thead", {}, [head]), body]);
        var small = "(total " + tb.total_text + ", " + tb.rows.length + " rows" + (tb.omitted ? ", " + tb.omitted + " more not shown" : "") + ")";
        var d = el("details", {cls: "table-block", id: "table-" + tb.key}, [
          el("summary", {}, [el("h3", {}, [tb.title + " ", el("small", {text: small})])]), table]);
        d.open = blocks.length < 2;
        blocks.push(d);
        if (window.heapvizReport) { window.heapvizReport.sortable(table); }
      });
    });
    tablesSlot.show(blocks);
  }

  // ---- callers and callees: the top functions by cum (heapviz/graph/peek.py)
  var peekSection = document.getElementById("peek");
  var peekSlot = peekSection ? new Slot(peekSection, Array.prototype.slice.call(peekSection.querySelectorAll(":scope > details.peek"))) : null;
  function peekRows(sel, unit) {
    var t = sel.t, vt = D.sample_types[t], s = nodeSums(sel, t);
    var fmt = function (v) { return X.formatValue(v, vt.unit, unit); };
    var chosen = byFlat(sel, s, true).slice(0, PEEK_FUNCTIONS);
    var ins = new Map(), outs = new Map(), index = new Int32Array(sel.infos.length).fill(-1);
    chosen.forEach(function (n, i) { ins.set(n, []); outs.set(n, []); index[n] = i; });
    edgesAround(sel, t, index, chosen.length).forEach(function (e) {
      if (ins.has(e[4])) { ins.get(e[4]).push([e[3], e[0], !e[2]]); }
      if (outs.has(e[3])) { outs.get(e[3]).push([e[4], e[0], !e[2]]); }
    });
    var edges = function (list, cum) {
      return list.sort(function (a, b) { return (Math.abs(b[1]) - Math.abs(a[1])) || X.cmpStr(sel.names[a[0]], sel.names[b[0]]); })
        .map(function (e) { return {name: sel.names[e[0]], weight: X.pyRound(e[1]), weight_text: fmt(e[1]), pct: pct(e[1], cum), inline: e[2]}; });
    };
    return chosen.map(function (n) {
      return {name: sel.names[n], full_names: Array.from(sel.fullNames[n]).sort(X.cmpStr), flat_text: fmt(s.flat[n]),
              flat_pct: pct(s.flat[n], s.total), cum_text: fmt(s.cum[n]), cum_pct: pct(s.cum[n], s.total),
              callers: edges(ins.get(n), s.cum[n]), callees: edges(outs.get(n), s.cum[n])};
    });
  }
  X.peekRows = peekRows;

  var peekHeading = peekSection ? peekSection.querySelector("h2 small") : null, peekText = peekHeading ? peekHeading.textContent : "";
  function renderPeek(ctx) {
    if (!peekSlot) { return; }
    if (ctx.initial) { peekSlot.show(peekSlot.original); if (peekHeading) { peekHeading.textContent = peekText; } return; }
    var blocks = peekRows(ctx.sel, ctx.graph.unit).map(function (e) {
      var row = function (role, c) {
        var name = el("td", {cls: "name", "data-node": c.name, text: c.name});
        if (c.inline) { name.appendChild(document.createTextNode(" ")); name.appendChild(el("span", {cls: "tag", text: "inline"})); }
        return el("tr", {cls: role}, [el("td", {text: role}), el("td", {cls: "num", "data-v": c.weight, text: c.weight_text}),
                                      el("td", {cls: "num", text: c.pct}), name]);
      };
      var summary = el("summary", {}, [el("code", {title: e.full_names.join("\n"), text: e.name}),
        " — flat " + e.flat_text + " (" + e.flat_pct + "), cum " + e.cum_text + " (" + e.cum_pct + ")" +
        (e.callers.length ? ", " + e.callers.length + " caller" + (e.callers.length > 1 ? "s" : "") : "") +
        (e.callees.length ? ", " + e.callees.length + " callee" + (e.callees.length > 1 ? "s" : "") : "")]);
      var self = el("tr", {cls: "peeked"}, [el("td", {text: "function"}), el("td", {cls: "num", text: e.cum_text}), el("td", {cls: "num", text: "100%"}),
        el("td", {cls: "name", "data-node": e.name}, [el("strong", {text: e.name}), " (flat " + e.flat_text + ")"])]);
      var body = el("tbody", {}, e.callers.map(function (c) { return row("caller", c); }).concat([self], e.callees.map(function (c) { return row("callee", c); })));
      var table = el("table", {cls: "data sortable peek-table"}, [el("thead", {}, [el("tr", {}, [
        el("th", {text: "role"}), el("th", {cls: "num", text: "weight"}), el("th", {cls: "num", text: "% of cum"}), el("th", {text: "function"})])]), body]);
      if (window.heapvizReport) { window.heapvizReport.sortable(table); }
      return el("details", {cls: "peek", "data-names": [e.name].concat(e.full_names).join("\n")}, [summary, table]);
    });
    peekSlot.show(blocks);
    if (peekHeading) { peekHeading.textContent = "(top " + blocks.length + " functions by cum, like pprof -peek)"; }
  }

  X.views.push({name: "tables", render: renderTables}, {name: "peek", render: renderPeek});
})();
