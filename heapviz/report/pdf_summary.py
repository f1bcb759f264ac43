"""Page 1 of the PDF report: what was measured, the answer in a sentence or two worded for the
mode, the table it comes from (leak sites or suspects), then thresholds and the comparison with
a previous run."""

from __future__ import annotations

import os
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from heapviz.growth import Suspect
from heapviz.kinds import upper_first
from heapviz.report.collect import Frame as StackFrame
from heapviz.report.collect import LeakSite, ReportData
from heapviz.report.pdf_charts import line_chart
from heapviz.report.pdf_style import ANSWER_ROWS, CELL_PAD, PAGE_W, PDF_SUSPECTS, Context, table_style
from heapviz.report.pdf_table import Table
from heapviz.report.pdf_text import common_dir, name_parts, path_parts


def _total(r: ReportData, name: str) -> int | None:
    return next((exact for n, _t, exact in r.totals if n == name), None)


def _in_use(r: ReportData, space: int | None, objects: int | None, signed: bool = False) -> str:
    """`35.71kB in 119 objects`; `signed`: `+35.71kB in +54 objects`."""
    parts = []
    if space is not None:
        parts.append(r.bytes_text(space, signed))
    if objects is not None:
        text = r.objects_text(objects)
        parts.append("+" + text if signed and objects > 0 else text)
    return " in ".join(parts) or "nothing"


def lower_first(text: str) -> str:
    """`Leak suspects` -> `leak suspects`, for use inside a sentence (`CPU` stays upper case)."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _name(path: str) -> str:
    return os.path.basename(path) or path


def _overview(r: ReportData) -> str:
    """One sentence: what was measured and how much is in use (or changed)."""
    value_type, count_type = r.growth_types
    space, objects = _total(r, value_type), _total(r, count_type)
    what = f" of {r.program}" if r.program else ""
    in_use = r.words.in_use
    if r.mode == "base" and len(r.dumps) >= 2:
        base, new = r.dumps[0], r.dumps[-1]
        return (f"Difference {_name(new.file)} minus base {_name(base.file)}{what}: "
                f"{_in_use(r, space, objects, signed=True)} {in_use}. "
                f"Base: {r.bytes_text(base.inuse_space)} in {r.objects_text(base.inuse_objects)}; "
                f"new: {r.bytes_text(new.inuse_space)} in {r.objects_text(new.inuse_objects)}.")
    if r.mode == "series" and len(r.dumps) >= 2:
        first, last = r.dumps[0], r.dumps[-1]
        change = last.inuse_space - first.inuse_space
        start = f"base {first.label}" if r.base else first.label
        return (f"{len(r.dumps)} dumps{what}, {start} to {last.label}: {r.words.measure} "
                f"{r.bytes_text(first.inuse_space)} → {r.bytes_text(last.inuse_space)} "
                f"({r.bytes_text(change, signed=True) if change else 'no change'}), "
                f"{r.objects_text(first.inuse_objects)} → {r.objects_text(last.inuse_objects)}.")
    names = ", ".join(_name(f) for f in r.profiles)
    seq = f" ({r.sequence})" if r.sequence else ""
    merged = "Merged profiles " if r.mode == "merged" else ""
    return f"{merged}{names}{seq}{what}: {_in_use(r, space, objects)} {in_use}."


def _headline(r: ReportData) -> list[str]:
    """The answer in a sentence or two, worded for the mode."""
    out = []
    if r.mode in ("series", "base") and r.suspects:
        grown = [s for s in r.suspects if s.growth_bytes > 0]
        before = [s for s in r.suspects if (s.growth_before_collapse or 0) > 0]
        if not grown and r.collapse is not None and before:
            s = before[0]
            out.append(f"Top suspect before the last dump collapsed: {s.function}, "
                       f"{r.bytes_text(s.growth_before_collapse or 0, signed=True)} from the first dump to the one "
                       f"before the last ({r.bytes_text(s.inuse_space[0])} → {r.bytes_text(s.inuse_space[-2])}; "
                       f"score {s.score:.2f}).")
        elif not grown:
            out.append("Nothing grew from the first to the last dump.")
        elif r.base or r.mode == "base":
            s = max(grown, key=lambda s: (s.growth_bytes, -s.rank))
            out.append(f"Grew the most: {s.function}, {r.bytes_text(s.growth_bytes, signed=True)} since the base "
                       f"({_first_last(r, s)}).")
        else:
            s = r.suspects[0] if r.suspects[0].growth_bytes > 0 else grown[0]
            kind = "steady growth" if s.steady else "grew"
            out.append(f"Top suspect: {s.function}, {r.bytes_text(s.growth_bytes, signed=True)} over "
                       f"{len(r.dumps)} dumps ({_first_last(r, s)}; {kind}, score {s.score:.2f}).")
    if r.leaks and r.leaks[0].frames:
        site = r.leaks[0]
        where = site.user_frame
        at = ""
        if where is not None:
            at = f" at {os.path.basename(where.location)}"
            if where.function != site.frames[0].function:
                at = f", from {where.function}{at}"
        label = "Largest change by stack" if r.mode == "base" else r.words.largest_site
        out.append(f"{label}: {site.frames[0].function}, {site_amount(r, site)}{at}.")
    if r.collapse is not None:
        k = r.collapse
        out.append(f"The last dump fell by {k.drop_fraction * 100:.0f}% ({r.bytes_text(k.before)} → "
                   f"{r.bytes_text(k.last)}): probably the dump at exit, after the program freed its heap. Before "
                   f"it, the heap grew by {r.bytes_text(k.growth_before, signed=True)} since the first dump; "
                   "suspects are ranked on their growth up to the collapse as well as from first to last.")
    top = r.tables[0].rows[0] if r.tables and r.tables[0].rows else None
    if top is not None and top.flat and r.mode not in ("series", "base"):  # there the suspects say it
        out.append(f"{r.words.holds} {r.sample_type} in the function itself: {top.name}, {top.flat_text} "
                   f"({top.flat_pct}).")
    return out or [r.words.no_values]


def _first_last(r: ReportData, s: Suspect) -> str:
    return f"{r.bytes_text(s.inuse_space[0])} → {r.bytes_text(s.inuse_space[-1])}" if s.inuse_space else ""


def site_amount(r: ReportData, site: LeakSite) -> str:
    amount = site.bytes_text if site.bytes_text else site.value_text
    text = f"{amount} ({site.pct})"
    if site.objects_text:
        text += f" in {site.objects_text}"
    return text


def answer(c: Context) -> list[Flowable]:
    """Page 1: what was measured, the answer in words, then the table it comes from."""
    r = c.r
    out: list[Flowable] = [c.heading("Summary", 0), c.p(_overview(r))]
    out.append(Spacer(1, 4))
    out += [c.p(text, "answer" if i == 0 else "body") for i, text in enumerate(_headline(r))]
    if r.mode in ("series", "base") and r.suspects:
        out += _suspects_answer(c)
    elif r.leaks:
        out += _sites_answer(c)
    if r.wrappers:
        names = ", ".join(w.name + (" (detected)" if w.detected else "") for w in r.wrappers[:12])
        more = f" and {len(r.wrappers) - 12} more" if len(r.wrappers) > 12 else ""
        out.append(c.p(f"Allocation wrappers: {names}{more}. {r.words.sites} and suspects are named after their "
                       f"callers; the graph and tables keep them (--hide '{r.wrappers_hide}' removes them; "
                       "--no-alloc-wrappers turns this off).", "small"))
    out += [c.p(note, "small") for note in r.notes]
    if r.warnings:
        out.append(c.heading("Warnings", 0))
        out += [c.p("• " + w, "warn") for w in r.warnings]
    return out


def _user_location(f: StackFrame | None, prefix: str) -> str:
    if f is None:
        return ""
    loc = f.location
    return loc[len(prefix):] if prefix and loc.startswith(prefix) else loc


def _sites_answer(c: Context) -> list[Flowable]:
    r = c.r
    sites = r.leaks[:ANSWER_ROWS]
    user = [s.user_frame for s in sites]
    prefix = common_dir([f.file for f in user if f is not None and f.file])
    widths = [7 * mm, 62 * mm, 17 * mm, 15 * mm, 17 * mm]
    widths.append(PAGE_W - sum(widths))
    name_w, where_w = widths[1] - 2 * CELL_PAD, widths[5] - 2 * CELL_PAD
    in_bytes = any(s.bytes_text for s in sites)
    w = r.words
    data: list[list[Any]] = [["#", w.by, w.value_column if in_bytes else r.sample_type, "Share", w.count_column,
                              "First frame in your code"]]
    for s in sites:
        f = s.user_frame
        where: Any = ""
        if f is not None:
            where = [c.lines(path_parts(_user_location(f, prefix)), where_w, "path")]
            if not s.frames or f.function != s.frames[0].function:
                where.insert(0, c.lines(name_parts(f.function), where_w))
        data.append([str(s.rank), c.lines(name_parts(s.frames[0].function if s.frames else "?"), name_w),
                     s.bytes_text or s.value_text, s.pct, s.objects_text, where])
    t = Table(data, colWidths=widths, repeatRows=1)
    style = table_style(c.fonts.bold)
    style.add("ALIGN", (2, 0), (4, -1), "RIGHT")
    t.setStyle(style)
    title = "Largest changes by stack (new minus base)" if r.mode == "base" else w.largest_sites
    note = f"{min(len(r.leaks), ANSWER_ROWS)} of {r.leak_sites_total} distinct stacks; their frames follow under "
    note += f"{w.sites}."
    if prefix:
        note += f" Paths are under {prefix}"
    return [c.heading(title, 1), t, Spacer(1, 2), c.p(note, "small")]


def _suspects_answer(c: Context) -> list[Flowable]:
    r = c.r
    widths = [7 * mm, 0.0, 20 * mm, 40 * mm, 30 * mm, 13 * mm]
    widths[1] = PAGE_W - sum(widths)
    data: list[list[Any]] = [["#", "Function", "Growth", f"{upper_first(r.words.measure)}, first → last", "Trend",
                              "Score"]]
    for s in r.suspects[:ANSWER_ROWS]:
        data.append([str(s.rank), c.lines(name_parts(s.function + suspect_tag(r, s)), widths[1] - 2 * CELL_PAD),
                     r.bytes_text(s.growth_bytes, signed=True), _first_last(r, s),
                     line_chart(list(s.inuse_space), 28 * mm, 9 * mm, None, c.fonts.regular, r.bytes_text),
                     f"{s.score:.2f}"])
    t = Table(data, colWidths=widths, repeatRows=1)
    style = table_style(c.fonts.bold)
    style.add("ALIGN", (2, 0), (3, -1), "RIGHT")
    style.add("ALIGN", (5, 0), (5, -1), "RIGHT")
    t.setStyle(style)
    title = "Grew the most" if r.base or r.mode == "base" else f"{r.words.suspects} (steady growers first)"
    more = f"; all {min(len(r.suspects), PDF_SUSPECTS)} with their stacks under Growth" if len(r.dumps) > 1 else ""
    note = f"Stacks ranked: {r.suspect_stacks}{more}. Score: 1 for a steady grower that made all the growth."
    return [c.heading(title, 1), t, Spacer(1, 2), c.p(note, "small")]


def suspect_tag(r: ReportData, s: Suspect) -> str:
    if s.steady:
        return "  (steady growth)"
    return "  (grew)" if s.growth_bytes > 0 and len(r.dumps) < 3 else ""


def checks(c: Context) -> list[Flowable]:
    """Thresholds and the comparison with a previous run: short, and what a nightly job asks."""
    r = c.r
    out: list[Flowable] = []
    if r.thresholds:
        out.append(c.heading("Thresholds", 0))
        for t in r.thresholds:
            what = r.words.growth_limit if t.name == "growth" else f"{r.words.grows} (last dump)"
            value, limit = r.bytes_text(t.value, signed=t.name == "growth"), r.bytes_text(t.limit)
            verdict = f"EXCEEDED: {value} > {limit}" if t.exceeded else f"ok: {value} <= {limit}"
            sep = "" if r.growth_unit == "bytes" else ","  # 1,490,000,000 nanoseconds: readable digits
            out.append(c.p(f"{what}: {verdict} ({t.value:{sep}} > {t.limit:{sep}} {r.growth_unit})" if t.exceeded else
                           f"{what}: {verdict}", "warn" if t.exceeded else "body"))
    if r.changes or r.previous:
        out.append(c.heading("Since the previous run", 0))
        out += [c.p(f"{ch.kind}: {ch.function} grew {r.bytes_text(ch.growth_bytes)}"
                    + (f" (previously {r.bytes_text(ch.previous_growth_bytes)})"
                       if ch.previous_growth_bytes is not None else ""))
                for ch in r.changes] or [c.p("Nothing got worse.")]
    return out
