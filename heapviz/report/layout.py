"""Lay a report's call graphs out with Graphviz, once for every writer that draws them (HTML
and PDF), and only when one of them was asked for: collecting a report never runs Graphviz."""

from __future__ import annotations

from heapviz.errors import ToolMissing
from heapviz.render.dot import LayoutFailed, RenderOptions, render_many
from heapviz.report.collect import ReportData


def _images(dot: str, options: RenderOptions, warnings: list[str]) -> dict[str, bytes]:
    """The graph as SVG and PDF; a failure becomes a warning, not a lost report."""
    try:
        return render_many(dot, ("svg", "pdf"), options)
    except (LayoutFailed, ToolMissing) as e:
        warnings.append(f"the call graph is not in this report: {e.message()}")
        return {}


def lay_out(r: ReportData, options: RenderOptions) -> None:
    """Fill r.graph_images and r.growth_images; add a warning to the report for a graph that
    could not be laid out (the report then says so where the graph would be)."""
    r.graph_images = _images(r.graph_dot, options, r.warnings)
    r.growth_images = _images(r.growth_dot, options, r.warnings) if r.growth_dot else {}
