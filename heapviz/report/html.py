"""The self-contained HTML report: jinja2 templates from `heapviz.templates`, autoescaped,
with the call graph inlined as SVG and data for scripts passed only through JSON."""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from heapviz.render.dot import RenderOptions
from heapviz.render.chart import line_chart, sparkline
from heapviz.render.flame import to_svg
from heapviz.report.callers import REPORT_FLAME
from heapviz.report.collect import ReportData
from heapviz.report.summary import summary
from heapviz.units import format_value

_SOURCE_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


def _load_template(name: str) -> str:
    try:
        return resources.files("heapviz.templates").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # Running from a source tree without installing: the templates sit beside the package.
        return (_SOURCE_TEMPLATES / name).read_text(encoding="utf-8")


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def inline_svg(svg: bytes) -> Markup:
    """Graphviz SVG ready to inline in HTML5: no XML prolog, doctype or comments before <svg>.

    Graphviz escapes every label and tooltip (`<`, `&`, quotes, and `--` in comments), and we
    never emit URL attributes, so its markup can be trusted as is.
    """
    text = svg.decode("utf-8", "replace")
    start = text.find("<svg")
    text = text[start:] if start >= 0 else ""
    # Pixel sizes are set by the page's script; pt sizes from dot would fight the CSS.
    text = re.sub(r'<svg width="[^"]*" height="[^"]*"', "<svg", text, count=1)
    return Markup(text)


def _charts(r: ReportData) -> dict[str, object]:
    labels = [os.path.basename(d.file) for d in r.dumps]
    totals = Markup(line_chart([d.inuse_space for d in r.dumps], labels,
                               lambda v: format_value(v, "bytes", "auto"), "In-use bytes per dump"))
    objects = Markup(line_chart([d.inuse_objects for d in r.dumps], labels, lambda v: str(round(v)),
                                "In-use objects per dump"))
    spark = [Markup(sparkline(s.inuse_space)) for s in r.suspects[:30]]
    return {"totals": totals, "objects": objects, "spark": spark}


def write_html(r: ReportData, options: RenderOptions = RenderOptions()) -> bytes:
    svg = inline_svg(r.graph_images["svg"]) if "svg" in r.graph_images else ""
    growth_svg = inline_svg(r.growth_images["svg"]) if "svg" in r.growth_images else ""
    flame_svg = ""
    if r.flame is not None:
        # to_svg escapes every name and embeds its script's data as escaped JSON.
        flame = r.flame
        flame_svg = Markup(to_svg(flame, lambda v: format_value(v, flame.sample_unit, r.flame_unit),
                                  REPORT_FLAME))
    template = environment().get_template("report.html.j2")
    html = template.render(r=r, svg=svg, growth_svg=growth_svg, flame_svg=flame_svg, charts=_charts(r),
                           data=summary(r))
    return html.encode("utf-8", "replace")  # undecodable bytes from a binary's names become U+FFFD
