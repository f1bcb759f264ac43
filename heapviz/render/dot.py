"""DOT text for a CallGraph in pprof's style, and Graphviz to turn it into SVG/PDF/PNG.

Reads only the CallGraph and the legend lines it is given, never a Profile. Every string from
the profile is escaped here; no URL attribute is ever written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from heapviz.errors import HeapvizError, ToolMissing
from heapviz.graph.build import CallGraph, nodelets
from heapviz.graph.nodes import NodeInfo
from heapviz.model import Value
from heapviz.render.style import dot_color, edge_weight, font_size, pen_width
from heapviz.units import percentage

FORMATS = ("dot", "svg", "pdf", "png")
FONT = "DejaVu Sans"
MAX_LABEL_TEMPLATE = 12  # template argument lists longer than this are shown as <…> in labels
MAX_TOOLTIP = 2000
# The smallest label in the graph, in points. Graphviz's default for edge labels is 14; nodes
# follow pprof's 8-24 scale but never go below this, so that a graph drawn at 0.6x (the PDF
# report's scale for graphs wider than a page, fitted to A4 or Letter) still reads at 8 pt.
MIN_FONT_SIZE = 14


class LayoutFailed(HeapvizError):
    pass


@dataclass(frozen=True)
class RenderOptions:
    graph_id: str = ""  # prefixes every SVG id, so that several graphs can share one page
    layout_timeout_s: float = 120.0
    cache_dir: str | None = None  # heapviz's cache (--cache-dir): the HTML report's compiled templates


def escape(text: str, tooltip: bool = False) -> str:
    """Make profile text safe inside a double-quoted DOT string.

    Graphviz decodes HTML entities in labels and tooltips, so `&` becomes `&amp;` (a name
    containing `&lt;` then shows as written). Backslashes are doubled in labels so that `\\N`,
    `\\l` and friends stay literal, and quadrupled in tooltips, which Graphviz unescapes twice.
    Quotes are escaped; control characters become spaces.
    """
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = text.replace("&", "&amp;").replace("\\", "\\\\\\\\" if tooltip else "\\\\").replace('"', '\\"')
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)


_CPP_CLASS_METHOD = re.compile(r"(?:[_a-zA-Z]\w*::)+(_*[A-Z]\w*::~?[_a-zA-Z]\w*(?:<.*>)?)")
_ANON_PREFIX = "(anonymous namespace)::"
# A Go name with an import path: `github.com/user/pkg.(*Type).Method` is labelled `pkg.(*Type).Method`.
_GO_PACKAGE_PATH = re.compile(r"(?:[\w\-.~]+/)+([^./\s]+\..+)")


def shorten_function_name(name: str) -> str:
    """pprof's label shortening: drop a leading anonymous namespace; keep `Class::method` of
    namespaced C++ methods; shorten long template argument lists to `<…>`; drop a Go import
    path up to its last `/`."""
    if "::" not in name:
        go = _GO_PACKAGE_PATH.fullmatch(name)
        if go:
            return go.group(1)
    if name.startswith(_ANON_PREFIX):
        name = name[len(_ANON_PREFIX) :]
    m = _CPP_CLASS_METHOD.fullmatch(name)  # unlike pprof, never cut `operator()` to `operator`
    if m:
        name = m.group(1)
    return _shorten_templates(name)


def _shorten_templates(name: str) -> str:
    if "<" not in name:
        return name
    out: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(name):
        if name.startswith("operator", i):
            j = i + len("operator")
            while j < len(name) and name[j] in "<>=":
                j += 1
            if depth == 0:
                out.append(name[i:j])
            i = j
            continue
        c = name[i]
        if c == "<":
            if depth == 0:
                start = i
            depth += 1
        elif c == ">" and depth:
            depth -= 1
            if depth == 0:
                inner = name[start : i + 1]
                out.append(inner if len(inner) <= MAX_LABEL_TEMPLATE + 2 else "<…>")
        elif depth == 0:
            out.append(c)
        i += 1
    if depth:
        out.append(name[start:])
    return "".join(out)


def _split_scopes(name: str) -> list[str]:
    """Split at `::` outside <> and () so that template arguments stay on one line."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(name):
        if name.startswith("operator", i):
            j = i + len("operator")
            while j < len(name) and name[j] in "<>=":
                j += 1
            cur.append(name[i:j])
            i = j
            continue
        c = name[i]
        if c in "<({":
            depth += 1
        elif c in ">)}" and depth:
            depth -= 1
        if depth == 0 and name.startswith("::", i):
            parts.append("".join(cur))
            cur = []
            i += 2
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p for p in parts if p]


def node_label(n: NodeInfo) -> str:
    """The name part of a node's label: escaped lines joined by DOT's \\n, ending in \\n."""
    lines = []
    if n.address:
        lines.append(f"{n.address:016x}")
    if n.name:
        lines.extend(_split_scopes(shorten_function_name(n.name)))
    if n.line:
        lines.append(f"{n.file.rsplit('/', 1)[-1]}:{n.line}")
    elif n.file:
        lines.append(n.file.rsplit("/", 1)[-1])
    if not lines:
        lines.append("<unknown>")
    return "".join(escape(ln) + "\\n" for ln in lines)


def legend_lines(cg: CallGraph, header: list[str], fmt: Callable[[Value], str]) -> list[str]:
    """The legend: the caller's header (file, type…) then what the pruning kept and dropped."""
    lines = list(header)
    shown = cg.shown_flat()
    lines.append(f"Showing nodes accounting for {fmt(shown)}, {percentage(shown, cg.total).strip()} "
                 f"of {fmt(cg.total)} total")
    if cg.dropped_nodes:
        lines.append(f"Dropped {cg.dropped_nodes} nodes (cum <= {fmt(cg.node_cutoff)})")
    if cg.dropped_edges:
        lines.append(f"Dropped {cg.dropped_edges} edges (freq <= {fmt(cg.edge_cutoff)})")
    if len(cg.order) < cg.nodes_before_count:
        lines.append(f"Showing top {len(cg.order)} nodes out of {cg.nodes_before_count}")
    return lines


def to_dot(cg: CallGraph, legend: list[str], fmt: Callable[[Value], str], title: str = "heapviz",
           options: RenderOptions = RenderOptions()) -> str:
    g = cg.graph
    total = cg.total
    out = [f'digraph "{escape(title)}" {{']
    graph_attrs = f'fontname="{FONT}"'
    if options.graph_id:
        graph_attrs += f' id="{escape(options.graph_id)}"'
    out.append(f"graph [{graph_attrs}]")
    out.append(f'node [style=filled fillcolor="#f8f8f8" fontname="{FONT}"]')
    out.append(f'edge [fontname="{FONT}"]')
    if legend:
        label = "".join(escape(ln) + "\\l" for ln in legend)
        out.append(f'subgraph cluster_L {{ "legend" [shape=box fontsize=16 label="{label}" '
                   f'tooltip="{escape(title, True)}"] }}')
    ids = {n: i + 1 for i, n in enumerate(cg.order)}
    max_flat = max((abs(g.nodes[n]["flat"]) for n in cg.order), default=0)
    has_nodelets: set[NodeInfo] = set()
    for n in cg.order:
        a = g.nodes[n]
        flat, cum = a["flat"], a["cum"]
        label = node_label(n)
        label += f"{fmt(flat)} ({percentage(flat, total).strip()})" if flat else "0"
        if cum != flat:
            label += "\\n" if flat else " "
            label += f"of {fmt(cum)} ({percentage(cum, total).strip()})"
        full = "\n".join(sorted(a["full_names"])) or n.printable()
        if len(full) > MAX_TOOLTIP:
            full = full[:MAX_TOOLTIP] + "…"
        score = cum / abs(total) if total else 0.0
        size = max(MIN_FONT_SIZE, font_size(flat, max_flat))
        out.append(
            f'N{ids[n]} [label="{label}" id="node{ids[n]}" fontsize={size} shape=box '
            f'tooltip="{escape(full, True)} ({fmt(cum)})" color="{dot_color(score, False)}" '
            f'fillcolor="{dot_color(score, True)}"]'
        )
        for j, (lo, hi, w) in enumerate(nodelets(a["tags"])):
            nid = f"NN{ids[n]}_{j}"
            tag = fmt(lo) if lo == hi else f"{fmt(lo)}..{fmt(hi)}"
            out.append(f'{nid} [label="{escape(tag)}" id="{nid}" fontsize={MIN_FONT_SIZE} shape=box3d '
                       f'tooltip="{fmt(w)}"]')
            out.append(f'N{ids[n]} -> {nid} [label=" {fmt(w)}" weight=100 tooltip="{fmt(w)}" '
                       f'labeltooltip="{fmt(w)}"]')
            has_nodelets.add(n)
    edges = sorted(g.edges(data=True), key=lambda e: (-abs(e[2]["weight"]), e[0].printable(), e[1].printable(),
                                                      ids[e[0]], ids[e[1]]))
    for u, v, e in edges:
        w = e["weight"]
        attrs = [f'label=" {fmt(w)}{chr(92) + "n (inline)" if e["inline"] else ""}"']
        if total:
            if (wt := edge_weight(w, total)) > 1:
                attrs.append(f"weight={wt}")
            if (pw := pen_width(w, total)) > 1:
                attrs.append(f"penwidth={pw}")
            attrs.append(f'color="{dot_color(w / abs(total), False)}"')
        arrow = "..." if e["residual"] else "->"
        tip = f'"{escape(u.printable(), True)} {arrow} {escape(v.printable(), True)} ({fmt(w)})"'
        attrs.append(f"tooltip={tip} labeltooltip={tip}")
        if e["residual"]:
            attrs.append('style="dotted"')
        if u in has_nodelets:
            attrs.append("minlen=2")
        out.append(f"N{ids[u]} -> N{ids[v]} [{' '.join(attrs)}]")
    out.append("}")
    return "\n".join(out) + "\n"


def _layout_args(dot_text: str) -> list[str]:
    # Big graphs (--nodecount 0) spend their time in network simplex; cap its iterations.
    return ["-Gnslimit=2", "-Gnslimit1=2"] if dot_text.count("\nN") > 400 else []


def render_many(dot_text: str, fmts: tuple[str, ...], options: RenderOptions = RenderOptions()) -> dict[str, bytes]:
    """One Graphviz layout written in several formats (e.g. SVG for HTML and PDF for PDF)."""
    exe = shutil.which("dot")
    if exe is None:
        raise ToolMissing("dot", "graphviz")
    with tempfile.TemporaryDirectory(prefix="heapviz-dot-") as tmp:
        cmd = [exe, *_layout_args(dot_text)]
        for fmt in fmts:
            cmd += [f"-T{fmt}", "-o", os.path.join(tmp, f"graph.{fmt}")]
        try:
            proc = subprocess.run(cmd, input=dot_text.encode("utf-8"), capture_output=True,
                                  timeout=options.layout_timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise LayoutFailed(
                f"Graphviz did not finish the layout within {options.layout_timeout_s:.0f} s; "
                "show fewer nodes (--nodecount) or allow more time (--layout-timeout)"
            ) from None
        out = {}
        for fmt in fmts:
            path = os.path.join(tmp, f"graph.{fmt}")
            data = b""
            if os.path.exists(path):
                with open(path, "rb") as f:
                    data = f.read()
            if proc.returncode != 0 or not data:
                err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
                raise LayoutFailed(f"Graphviz dot failed (exit {proc.returncode}): {err[-1] if err else 'no output'}")
            out[fmt] = data
        return out


def render(dot_text: str, fmt: str, options: RenderOptions = RenderOptions()) -> bytes:
    """Run Graphviz `dot` on DOT text; `fmt` is svg, pdf or png (dot returns the text itself)."""
    if fmt == "dot":
        return dot_text.encode("utf-8")
    return render_many(dot_text, (fmt,), options)[fmt]
