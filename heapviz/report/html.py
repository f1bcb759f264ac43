"""The self-contained HTML report: jinja2 templates from `heapviz.templates`, autoescaped,
with the call graph inlined as SVG and data for scripts passed only through JSON."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from heapviz.render.dot import RenderOptions
from heapviz.render.chart import line_chart, sparkline, timeline_chart
from heapviz.render.flame import to_svg
from heapviz.kinds import upper_first
from heapviz.report.callers import REPORT_FLAME
from heapviz.model import Value
from heapviz.report.collect import BinaryRow, ReportData
from heapviz.report.explorer_data import stack_table, to_json
from heapviz.report.summary import summary
from heapviz.units import format_value

MAX_PAGE_BYTES = 8_000_000  # an HTML report with its explorer stays under 8 MB
BUDGET_SLACK = 2_000  # for the page's sentences about the table
_SOURCE_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
# callers and callees listed per function in the page's peek section, the heaviest first (a program
# that calls back into shared helpers gives its top functions thousands; the rest is one line)
PEEK_ROWS = 100

def _load_template(name: str) -> str:
    try:
        return resources.files("heapviz.templates").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # Running from a source tree without installing: the templates sit beside the package.
        return (_SOURCE_TEMPLATES / name).read_text(encoding="utf-8")


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """The templates compiled once, in heapviz's cache directory (keyed by their source, so an
    edited template is compiled again): compiling the report's templates took 0.3 s of every
    HTML report. Best effort: a cache that cannot be read or written is passed by."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            os.makedirs(self.directory, exist_ok=True)
            super().dump_bytecode(bucket)


def environment(cache_dir: str | None = None) -> jinja2.Environment:
    """The report's jinja environment; `cache_dir`: heapviz's cache, where compiled templates are kept."""
    env = jinja2.Environment(
        bytecode_cache=_TemplateCache(os.path.join(cache_dir, "templates")) if cache_dir else None,
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["upper_first"] = upper_first  # jinja's capitalize would lower "CPU" to "Cpu"
    return env


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
    labels = [d.label for d in r.dumps]
    if r.base and labels:
        labels[0] = "base: " + labels[0]
    words = r.words
    totals = Markup(line_chart([d.inuse_space for d in r.dumps], labels, r.bytes_text,
                               f"{upper_first(words.grows)} per dump"))
    objects = Markup(line_chart([d.inuse_objects for d in r.dumps], labels, r.objects_text,
                                f"{upper_first(words.counts)} per dump"))
    spark = [Markup(sparkline(s.inuse_space, [r.bytes_text(v) for v in s.inuse_space])) for s in r.suspects[:30]]
    timeline = ""
    if r.timeline is not None:
        t = r.timeline
        timeline = Markup(timeline_chart(t.times, t.series, lambda v: format_value(v, "bytes", r.unit), t.unit,
                                         "Memory over the whole run"))
    return {"totals": totals, "objects": objects, "spark": spark, "timeline": timeline}


@dataclass(frozen=True)
class BinaryGroup:
    """One mapped file and every symbolization of it (one per dump that maps it)."""

    file: str
    rows: list[BinaryRow]
    dumps: list[str]  # which dumps map it, when several dumps were symbolized ("base", "new")


def dump_labels(r: ReportData) -> list[str]:
    """What the report calls each dump: base and new for a --base difference, else its file name."""
    if r.mode == "base" and len(r.dumps) == 2:
        return ["base", "new"]
    labels = [d.label for d in r.dumps]
    if r.base and labels:
        labels[0] = "base"
    return labels


def binary_groups(r: ReportData) -> list[BinaryGroup]:
    """r.binaries lists each dump's symbolizations one dump after another, so a file used by
    several dumps repeats; grouped by file, its k-th row is the k-th dump (in order) that maps it.
    Only in "base" mode do the rows come from two symbolized profiles (base, then new)."""
    by_file: dict[str, list[BinaryRow]] = {}
    for b in r.binaries:
        by_file.setdefault(b.file, []).append(b)
    labels = dump_labels(r) if r.mode == "base" else []
    # which of the symbolized profiles each row belongs to: a new one starts when a file repeats
    part_of: list[int] = []
    seen: set[str] = set()
    part = 0
    for b in r.binaries:
        if b.file in seen:
            part, seen = part + 1, set()
        seen.add(b.file)
        part_of.append(part)
    parts = part + 1
    groups = []
    for file, rows in by_file.items():
        dumps: list[str] = []
        if labels and parts == len(labels):
            dumps = [labels[part_of[i]] for i, b in enumerate(r.binaries) if b.file == file]
        groups.append(BinaryGroup(file, rows, dumps))
    return groups


def _value_text(r: ReportData, sample_type: str, sample_unit: str, unit: str) -> Callable[[Value], str]:
    """How the figures of one sample type read: bytes and objects by the report's unit policy."""
    if sample_unit == "bytes":
        return r.bytes_text
    if sample_type.endswith("_objects"):
        return r.objects_text
    return lambda v: format_value(v, sample_unit, unit)


def _lexer(file: str) -> Any:
    from pygments.lexers import get_lexer_for_filename
    from pygments.lexers.special import TextLexer
    from pygments.util import ClassNotFound

    # stripnl=False: a window that starts or ends with blank lines keeps them (one row per line)
    try:
        return get_lexer_for_filename(file, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def highlighted_sources(r: ReportData) -> tuple[dict[str, list[Markup]], Markup]:
    """Each source block's lines as highlighted HTML, keyed `rank-frame`, and the style rules
    for them (inlined in the page: the CSP allows no style sheet from anywhere). Pygments
    escapes every character of the code it formats; a block whose output does not come back as
    one line per row is shown escaped by jinja instead, unhighlighted."""
    if not r.site_sources:
        return {}, Markup("")
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    formatter = HtmlFormatter(nowrap=True)
    lexers: dict[str, Any] = {}
    out: dict[str, list[Markup]] = {}
    for code in r.site_sources.values():
        for b in code.blocks:
            if not b.rows:
                continue
            ext = os.path.splitext(b.file)[1] or b.file
            lexer = lexers.get(ext)
            if lexer is None:
                lexer = lexers[ext] = _lexer(os.path.basename(b.file))
            text = "\n".join(row.text or "" for row in b.rows) + "\n"
            lines = highlight(text, lexer, formatter).split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            if len(lines) == len(b.rows):
                out[b_key(code.rank, b.frame)] = [Markup(ln) for ln in lines]
    # token colours only: no rule for Pygments' error token (a window cut in a comment is not an error)
    rules = [rule for rule in formatter.get_token_style_defs(".src .code") if not rule.startswith(".src .code .err ")]
    return out, Markup("\n".join(rules))


def b_key(rank: int, frame: int) -> str:
    """A source block's key and, after `src-`, its element id."""
    return f"{rank}-{frame}"


def write_html(r: ReportData, options: RenderOptions = RenderOptions()) -> bytes:
    svg = inline_svg(r.graph_images["svg"]) if "svg" in r.graph_images else ""
    growth_svg = inline_svg(r.growth_images["svg"]) if "svg" in r.growth_images else ""
    flame_svg = ""
    if r.flame is not None:
        # to_svg escapes every name and embeds its script's data as escaped JSON.
        flame = r.flame
        flame_svg = Markup(to_svg(flame, _value_text(r, flame.sample_type, flame.sample_unit, r.flame_unit),
                                  REPORT_FLAME))
    totals = {name: exact for name, _, exact in r.totals}
    code, code_css = highlighted_sources(r)
    env = environment(options.cache_dir)
    template = env.get_template("report.html.j2")

    def page(explorer: dict[str, Any] | None, explorer_json: str, viz: str, note: str) -> bytes:
        html = template.render(r=r, svg=svg, growth_svg=growth_svg, flame_svg=flame_svg, charts=_charts(r),
                               data=summary(r), binaries=binary_groups(r), labels=dump_labels(r),
                               totals=totals, explorer=explorer, explorer_json=Markup(explorer_json),
                               explorer_note=Markup(note), viz=Markup(viz), code=code, code_css=code_css,
                               peek_rows=PEEK_ROWS)
        return html.encode("utf-8", "replace")  # undecodable bytes from a binary's names become U+FFFD

    if r.explorer is None or not svg:
        return page(None, "", "", "")
    # The stack table gets what the rest of the page leaves of the budget (see explorer_data). The
    # page is rendered once, with stand-ins for the table's JSON and for the sentence saying what
    # was trimmed to fit, which are put in once the table is made (a second rendering of a big
    # profile's page took 0.18 s).
    viz = _load_template("vendor/viz-global.js")
    types = [{"type": vt.type} for vt in r.explorer.profile.sample_types]
    mark = secrets.token_hex(16)
    json_mark, note_mark = f"heapviz-explorer-json-{mark}", f"heapviz-explorer-note-{mark}"
    text = page({"trimmed": 0, "samples": 0, "sample_types": types}, json_mark, viz, note_mark)
    rest = len(text) - len(json_mark) - len(note_mark) + len("{}")  # the page with "{}" for data and no sentence
    table = stack_table(r.explorer.profile, r.explorer.settings, max(MAX_PAGE_BYTES - rest - BUDGET_SLACK, 0),
                        r.explorer.widths, r.explorer.prepared())
    if r.wrappers:  # the explorer's leak sites are keyed below the same wrappers as the report's
        table["wrappers"] = [w.name for w in r.wrappers]
    note = env.get_template("explorer_trimmed.html.j2").render(explorer=table).encode("utf-8", "replace")
    return text.replace(json_mark.encode(), to_json(table).encode("utf-8"), 1).replace(note_mark.encode(), note, 1)
