/* heapviz report explorer: the flame graph recomputed under the explorer's state, as
 * heapviz/graph/tree.py builds the call tree (explore_flame_tree.js) and heapviz/render/flame.py draws it, in three
 * modes: top-down (the root on top, today's), bottom-up (the leaf frames at the root: where the
 * values were allocated) and sandwich (the callers of one function above it, its callees below).
 * With --base, widths come from the new profile and colours from the difference. Names are text
 * in the SVG (textContent), never markup.
 */
(function () {
  "use strict";
  var X = window.heapvizExplorer;
  if (!X) { return; }
  var D = X.D, el = X.el;
  var NS = "http://www.w3.org/2000/svg";
  var G = X.flameGeometry, WIDTH = G.width, PAD = G.pad, FH = 16, FS = 12, CHAR = 0.61 * FS, MIN_WIDTH = G.minWidth, MAX_DEPTH = 400;
  var INNER = WIDTH - 2 * PAD;
  var MATCH_FILL = "#0a4fe0";

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
        var up = X.buildTree(sel, "callers", focus), down = X.buildTree(sel, "callees", focus);
        ctx.flame = {callers: up, callees: down};
        parts.push(head("Callers of " + st.flame_fn + " (above), " + fmt(up.root.cum) + "; its callees below"));
        parts.push(draw(up, fmt, {up: true, onFrame: onFrame, zoomTo: null}));
        parts.push(draw(down, fmt, {onFrame: onFrame, zoomTo: null}));
      }
    } else {
      var tree = X.buildTree(sel, mode, -1);
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
