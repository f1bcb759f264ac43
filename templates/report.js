// heapviz report: sortable tables, one regex filter for every table, pannable and zoomable
// graphs whose labels stay legible. No network.
(function () {
  "use strict";
  var MIN_LABEL_PX = 10;  // no node label smaller than this at a graph's default fit
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };

  // The sticky header must not hide what a link jumps to: anchors scroll to below it.
  var header = document.querySelector("header.top");
  var setHeaderHeight = function () {
    if (header) {
      document.documentElement.style.setProperty("--header-h", header.offsetHeight + "px");
    }
  };
  setHeaderHeight();
  window.addEventListener("resize", setHeaderHeight);

  // Sorting: every column of every table.sortable. Cells with data-v sort by that number;
  // numeric columns (th.num) by the number in their text; the others as text.
  function cellKey(row, idx, numeric) {
    var cell = row.cells[idx];
    if (!cell) { return numeric ? -Infinity : ""; }
    var v = cell.getAttribute("data-v");
    if (v !== null) { return parseFloat(v); }
    var text = cell.textContent.trim();
    if (numeric) {
      var n = parseFloat(text.replace(/[^0-9.eE+-]/g, ""));
      return isNaN(n) ? -Infinity : n;
    }
    return text.toLowerCase();
  }
  function sortable(table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    var headers = table.tHead.rows[0].cells;
    each(headers, function (th, idx) {
      var numeric = th.classList.contains("num") || th.getAttribute("data-type") === "num";
      th.setAttribute("data-sortable", "");
      th.title = th.title || "Sort by this column";
      th.addEventListener("click", function () {
        var wasDesc = th.classList.contains("sorted-desc"), wasAsc = th.classList.contains("sorted-asc");
        // numbers start largest first, names A to Z; a second click reverses
        var desc = wasDesc ? false : (wasAsc ? true : numeric);
        each(headers, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(desc ? "sorted-desc" : "sorted-asc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var keyed = rows.map(function (r, i) { return [cellKey(r, idx, numeric), i, r]; });
        keyed.sort(function (a, b) {
          var c = a[0] < b[0] ? -1 : (a[0] > b[0] ? 1 : 0);
          return (desc ? -c : c) || a[1] - b[1];
        });
        keyed.forEach(function (k) { body.appendChild(k[2]); });
      });
    });
  }
  each(document.querySelectorAll("table.sortable"), sortable);

  // One filter for every table: a JavaScript RegExp searched in the names of each row (the
  // function, file and binary names in its data-names), like heapviz's --focus.
  var filter = document.getElementById("filter");
  var status = document.getElementById("filter-status");
  function applyFilter() {
    var query = filter.value;
    var re = null;
    if (query) {
      // "m": each name is a line of data-names, so ^ and $ anchor to a name, as with --focus
      try { re = new RegExp(query, "m"); } catch (e) {
        filter.classList.add("invalid");
        filter.title = "Not a regular expression: " + e.message;
        return;
      }
    }
    filter.classList.remove("invalid");
    filter.title = "";
    var shown = 0, all = 0;
    each(document.querySelectorAll("[data-names]"), function (el) {
      var hit = re === null || re.test(el.getAttribute("data-names"));
      el.classList.toggle("filtered-out", !hit);
      all++;
      if (hit) { shown++; }
    });
    status.textContent = re === null ? "" : shown + " of " + all + " rows match";
  }
  if (filter) { filter.addEventListener("input", applyFilter); }

  // Graphs: pan by dragging, zoom with the toolbar or Ctrl+wheel. The default fit is as wide as
  // the page but never past 1:1, unless that makes the smallest node label under 10 px: then the
  // scale at which it is 10 px, with the top of the graph in view.
  function viewer(viewport) {
    var svg = viewport.querySelector("svg");
    if (!svg) { return; }
    var box = svg.viewBox.baseVal;
    var w0 = (box && box.width) || 800, h0 = (box && box.height) || 600;
    var scale = 1;
    var setScale = function (s) {
      scale = Math.max(0.02, Math.min(s, 8));
      svg.setAttribute("width", String(w0 * scale));
      svg.setAttribute("height", String(h0 * scale));
      viewport.setAttribute("data-scale", scale.toFixed(3));
    };
    var whole = function () { return Math.min(1, (viewport.clientWidth - 4) / w0); };
    setScale(1);
    // the smallest node label in CSS px per unit of scale, as drawn (font size times the
    // text's transform to the screen)
    var smallest = Infinity;
    each(svg.querySelectorAll("g.node text"), function (t) {
      var size = parseFloat(t.getAttribute("font-size") || window.getComputedStyle(t).fontSize);
      var ctm = t.getScreenCTM();
      if (size > 0 && ctm) { smallest = Math.min(smallest, size * Math.abs(ctm.a)); }
    });
    var legible = isFinite(smallest) && smallest > 0 ? MIN_LABEL_PX / smallest * 1.001 : 0;
    viewport.setAttribute("data-legible-scale", legible.toFixed(3));
    var fit = function () {
      setScale(Math.max(whole(), legible));
      // the top of the graph in view, centred on its topmost node
      viewport.scrollTop = 0;
      var nodes = svg.querySelectorAll("g.node");
      var top = null;
      each(nodes, function (n) {
        var r = n.getBoundingClientRect();
        if (top === null || r.top < top.top) { top = r; }
      });
      if (top !== null) {
        var vr = viewport.getBoundingClientRect();
        viewport.scrollLeft += (top.left + top.width / 2) - (vr.left + viewport.clientWidth / 2);
      }
    };
    fit();
    var toolbar = document.querySelector(".toolbar[data-for='" + viewport.id + "']");
    if (toolbar) {
      each(toolbar.querySelectorAll("[data-zoom]"), function (b) {
        b.addEventListener("click", function () {
          var z = b.getAttribute("data-zoom");
          if (z === "in") { setScale(scale * 1.25); } else if (z === "out") { setScale(scale / 1.25); }
          else if (z === "fit") { fit(); } else if (z === "whole") { setScale(whole()); } else { setScale(1); }
        });
      });
    }
    viewport.addEventListener("wheel", function (e) {
      if (!e.ctrlKey) { return; }
      e.preventDefault();
      setScale(scale * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
    }, { passive: false });
    var drag = null;
    viewport.addEventListener("mousedown", function (e) {
      drag = { x: e.clientX, y: e.clientY, left: viewport.scrollLeft, top: viewport.scrollTop };
      viewport.classList.add("dragging");
    });
    window.addEventListener("mousemove", function (e) {
      if (!drag) { return; }
      viewport.scrollLeft = drag.left - (e.clientX - drag.x);
      viewport.scrollTop = drag.top - (e.clientY - drag.y);
    });
    window.addEventListener("mouseup", function () { drag = null; viewport.classList.remove("dragging"); });
  }
  each(document.querySelectorAll(".viewport"), viewer);

  // A link to a leak site's code opens the collapsed sections it sits in, then jumps there.
  function reveal(id) {
    var target = id && document.getElementById(id);
    for (var el = target; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") { el.open = true; }
    }
    return target;
  }
  each(document.querySelectorAll("a.src-link"), function (a) {
    a.addEventListener("click", function (e) {
      var target = reveal(a.getAttribute("href").slice(1));
      if (target) { e.preventDefault(); target.scrollIntoView(); history.replaceState(null, "", a.getAttribute("href")); }
    });
  });
  if (location.hash.indexOf("#src-") === 0) {
    var shown = reveal(decodeURIComponent(location.hash.slice(1)));
    if (shown) { shown.scrollIntoView(); }
  }
  window.heapvizReport = { viewer: viewer, sortable: sortable };  // explore.js sets up the graphs it draws
})();
