// heapviz report: sortable and filterable tables, a pannable and zoomable graph. No network.
(function () {
  "use strict";
  function cellValue(row, idx, type) {
    var cell = row.cells[idx];
    if (type === "num") { return parseFloat(cell.getAttribute("data-v") || "0"); }
    return cell.textContent.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, idx) {
      var type = th.getAttribute("data-type");
      if (!type) { return; }
      th.addEventListener("click", function () {
        var desc = !th.classList.contains("sorted-desc");
        if (type === "text" && !th.classList.contains("sorted-asc") && !th.classList.contains("sorted-desc")) { desc = false; }
        Array.prototype.forEach.call(headers, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(desc ? "sorted-desc" : "sorted-asc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, idx, type), y = cellValue(b, idx, type);
          var c = x < y ? -1 : (x > y ? 1 : 0);
          return desc ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    input.addEventListener("input", function () {
      var table = document.getElementById(input.getAttribute("data-table"));
      var needle = input.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var name = row.cells[row.cells.length - 1];
        var hay = (name.textContent + " " + (name.getAttribute("title") || "")).toLowerCase();
        row.style.display = hay.indexOf(needle) >= 0 ? "" : "none";
      });
    });
  });
  var viewport = document.getElementById("graph-viewport");
  var svg = viewport && viewport.querySelector("svg");
  if (svg) {
    var box = svg.viewBox.baseVal;
    var w0 = (box && box.width) || 800, h0 = (box && box.height) || 600;
    var scale = 1;
    var setScale = function (s) {
      scale = Math.max(0.05, Math.min(s, 8));
      svg.setAttribute("width", String(w0 * scale));
      svg.setAttribute("height", String(h0 * scale));
      viewport.setAttribute("data-scale", scale.toFixed(3));
    };
    var fit = function () { setScale(Math.min(1, (viewport.clientWidth - 4) / w0)); };
    fit();
    document.querySelectorAll("[data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () {
        var z = b.getAttribute("data-zoom");
        if (z === "in") { setScale(scale * 1.25); } else if (z === "out") { setScale(scale / 1.25); }
        else if (z === "fit") { fit(); } else { setScale(1); }
      });
    });
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
})();
