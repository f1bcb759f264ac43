// heapviz flame graph: click a frame to zoom into it, type in the search box to highlight frames. No network.
// Works in a standalone SVG and inlined in the HTML report; everything is keyed by the prefix.
(function () {
  "use strict";
  var D = /*DATA*/null;
  var P = D.prefix;
  var svg = document.getElementById(P + "-svg");
  if (!svg) { return; }
  var F = D.frames;  // [start, value, depth, parent, end, name, full name], pre-order
  var groups = [];
  var fills = [];
  var i;
  for (i = 0; i < F.length; i++) {
    groups.push(document.getElementById(P + "-f" + i));
    fills.push(groups[i] ? groups[i].querySelector("rect").getAttribute("fill") : "");
  }
  var zoomedTo = 0;
  var find = document.getElementById(P + "-search");  // the search box (an HTML input in the SVG)

  function label(name, w) {
    var n = Math.floor((w - 6) / D.charWidth);
    if (n < 3) { return ""; }
    return name.length <= n ? name : name.slice(0, n - 1) + "\u2026";
  }

  function place(j, x, w) {
    var g = groups[j];
    var r = g.querySelector("rect"), t = g.querySelector("text");
    r.setAttribute("x", (D.pad + x).toFixed(2));
    r.setAttribute("width", w.toFixed(2));
    t.setAttribute("x", (D.pad + x + 3).toFixed(2));
    t.textContent = label(F[j][5], w);
    g.style.display = "";
  }

  function zoom(k) {
    var f = F[k];
    if (!f || f[1] <= 0) { return; }
    var scale = D.width / f[1];
    var ancestors = {};
    var a;
    for (a = f[3]; a >= 0; a = F[a][3]) { ancestors[a] = true; }
    for (var j = 0; j < F.length; j++) {
      var g = groups[j];
      if (!g) { continue; }
      g.classList.remove("anc");
      if (j >= k && j < f[4]) {
        place(j, (F[j][0] - f[0]) * scale, F[j][1] * scale);
      } else if (ancestors[j]) {
        place(j, 0, D.width);
        g.classList.add("anc");
      } else {
        g.style.display = "none";
      }
    }
    zoomedTo = k;
    svg.setAttribute("data-zoomed", String(k));
  }

  function search(query) {
    var matched = document.getElementById(P + "-matched");
    var re = null;
    if (query) {
      try { re = new RegExp(query); } catch (e) {
        if (find) { find.style.borderColor = "#b20000"; }  // not a regular expression (yet): keep the last result
        return;
      }
    }
    if (find) { find.style.borderColor = ""; }
    var sum = 0, skip = 0, count = 0, pct = 0;
    for (var j = 0; j < F.length; j++) {
      var g = groups[j];
      if (!g) { continue; }
      var hit = re !== null && j > 0 && (re.test(F[j][5]) || re.test(F[j][6]));
      g.querySelector("rect").setAttribute("fill", hit ? D.matchFill : fills[j]);
      if (hit) {
        g.classList.add("match");
        count++;
        if (j >= skip) { sum += F[j][1]; skip = F[j][4]; }  // nested matches are counted once
      } else {
        g.classList.remove("match");
      }
    }
    if (re === null) {
      matched.textContent = "";
    } else {
      pct = D.total ? (100 * sum / Math.abs(D.total)) : 0;
      matched.textContent = "Matched: " + pct.toFixed(1) + "% of " + D.fmtTotal + " (" + count + " frames)";
    }
    svg.setAttribute("data-matched", re === null ? "" : pct.toFixed(2));
  }

  groups.forEach(function (g, j) {
    if (!g) { return; }
    g.addEventListener("click", function (e) {
      var go = function () { zoom(j === zoomedTo && j > 0 ? F[j][3] : j); };
      // in the HTML report with its explorer: the zoom and a menu (focus, ignore, hide, show, sandwich)
      if (window.heapvizExplorer && window.heapvizExplorer.frameMenu) { window.heapvizExplorer.frameMenu(e, F[j][5], j > 0, go); } else { go(); }
    });
  });
  var reset = document.getElementById(P + "-reset");
  var clear = document.getElementById(P + "-clear");
  if (reset) { reset.addEventListener("click", function () { zoom(0); }); }
  if (clear) { clear.addEventListener("click", function () { if (find) { find.value = ""; } search(""); }); }
  if (find) {
    find.addEventListener("input", function () { search(find.value); });
    // keys typed in the box are for the box, not for the page around it
    find.addEventListener("keydown", function (e) { e.stopPropagation(); });
  }
})();
