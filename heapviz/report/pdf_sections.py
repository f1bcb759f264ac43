"""The PDF report's sections after page 1: growth over a series (charts, dumps, all suspects),
each leak site's stack (and its code), the top functions, the details and the binaries."""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, TableStyle

from heapviz.kinds import upper_first
from heapviz.report.collect import LeakSite, TopTable
from heapviz.report.pdf_charts import line_chart, timeline_chart
from heapviz.report.pdf_code import site_code
from heapviz.report.pdf_style import CELL_PAD, PAGE_W, PDF_SUSPECTS, PDF_TABLE_ROWS, Context, table_style
from heapviz.report.pdf_summary import lower_first, site_amount, suspect_tag
from heapviz.report.pdf_table import Table
from heapviz.report.pdf_text import common_dir, name_parts, path_parts


def growth(c: Context) -> list[Flowable]:
    r = c.r
    if len(r.dumps) < 2:
        return []
    out: list[Flowable] = [c.heading(f"Growth over {len(r.dumps)} dumps"
                                     + (" (the first is the base)" if r.base else ""), 0)]
    if r.timeline is not None:
        t = r.timeline
        names = ", ".join(name for name, _ in t.series)
        out.append(KeepTogether([c.p(f"Memory over the whole run, at every measurement ({t.unit} on the x axis): "
                                     f"{names}"),
                                 timeline_chart(t, 170 * mm, 50 * mm, c.fonts.regular, r.bytes_text)]))
    labels = [d.label for d in r.dumps]
    bytes_chart = line_chart([d.inuse_space for d in r.dumps], 170 * mm, 45 * mm, labels, c.fonts.regular,
                         r.bytes_text)
    out.append(KeepTogether([c.p(f"{upper_first(r.words.grows)} per dump"), bytes_chart]))
    objects_chart = line_chart([d.inuse_objects for d in r.dumps], 170 * mm, 35 * mm, labels, c.fonts.regular,
                           r.objects_text)
    out.append(KeepTogether([c.p(f"{upper_first(r.words.counts)} per dump"), objects_chart]))
    # exact bytes are worth a column; a time's exact nanoseconds are not for reading
    exact = r.growth_unit == "bytes"
    data: list[list[Any]] = [["#", "File", upper_first(r.words.measure), *(["Bytes (exact)"] if exact else []),
                              r.words.count_column]]
    data += [["base" if r.base and i == 0 else str(d.sequence if d.sequence is not None else i + 1),
              c.lines(path_parts(d.file), PAGE_W - 84 * mm - 12 * mm - 2 * CELL_PAD, "path"),
              r.bytes_text(d.inuse_space), *([str(d.inuse_space)] if exact else []), r.objects_text(d.inuse_objects)]
             for i, d in enumerate(r.dumps)]
    t = Table(data, colWidths=[12 * mm, None, 22 * mm, *([26 * mm] if exact else []), 24 * mm], repeatRows=1)
    style = table_style(c.fonts.bold)
    style.add("ALIGN", (2, 0), (-1, -1), "RIGHT")
    t.setStyle(style)
    out.append(t)
    shown = r.suspects[:PDF_SUSPECTS]
    out.append(c.heading(f"All {lower_first(r.words.suspects)} ({len(shown)} of {r.suspect_stacks} stacks, "
                         "steady growers first)", 1))
    widths = [8 * mm, 0.0, 12 * mm, 18 * mm, 30 * mm]
    widths[1] = PAGE_W - sum(widths)
    rows: list[list[Any]] = [["#", f"Function, stack and {r.words.grows} per dump", "Score", "Growth", "Trend"]]
    for s in shown:
        stack = " ← ".join(s.stack[:8]) + (" ← …" if len(s.stack) > 8 else "")
        cell = [c.p(s.function + suspect_tag(r, s), "mono"), c.p(stack, "small"),
                c.p(" → ".join(r.bytes_text(v) for v in s.inuse_space), "small")]
        rows.append([str(s.rank), cell, f"{s.score:.2f}", r.bytes_text(s.growth_bytes, signed=True),
                     line_chart(list(s.inuse_space), 28 * mm, 9 * mm, None, c.fonts.regular, r.bytes_text)])
    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(table_style(c.fonts.bold))
    out.append(t)
    return out


def top_table(t: TopTable, c: Context) -> list[Flowable]:
    rows = t.rows[:PDF_TABLE_ROWS]
    more = len(t.rows) - len(rows) + t.omitted
    data: list[list[Any]] = [["flat", "flat%", "sum%", "cum", "cum%", "name"]]
    for row in rows:
        data.append([row.flat_text, row.flat_pct, row.sum_pct, row.cum_text, row.cum_pct, c.cell(row.name, "mono")])
    widths = [20 * mm, 14 * mm, 14 * mm, 20 * mm, 14 * mm, None]
    table = Table(data, colWidths=widths, repeatRows=1)
    style = table_style(c.fonts.bold)
    style.add("ALIGN", (0, 0), (4, -1), "RIGHT")
    table.setStyle(style)
    out: list[Flowable] = [c.heading(f"{t.title} (total {t.total_text})", 1), table]
    if more > 0:
        out.append(c.p(f"… {more} more rows in the HTML report or with heapviz top.", "small"))
    return out


def leak_site(site: LeakSite, c: Context) -> list[Flowable]:
    r = c.r
    what = f"#{site.rank}  {site.frames[0].function if site.frames else '?'}: {site_amount(r, site)}"
    exact = r.growth_unit == "bytes"  # a time's exact nanoseconds are not for reading
    if site.bytes is not None and site.bytes_text and site.bytes_text != f"{site.bytes}B" and exact:
        what += f" ({site.bytes} bytes)"
    files = [f.file for f in site.frames if f.file]
    prefix = common_dir(files)
    widths = [8 * mm, 0.0, 58 * mm]
    widths[1] = PAGE_W - sum(widths)
    name_w, loc_w = widths[1] - 2 * CELL_PAD, widths[2] - 2 * CELL_PAD
    data: list[list[Any]] = []
    for i, f in enumerate(site.frames):
        inline = ' <font color="#777777">[inlined]</font>' if f.inline else ""
        loc = f.location[len(prefix):] if prefix and f.file.startswith(prefix) else f.location
        data.append([str(i), c.lines(name_parts(f.full_name or f.function), name_w, after=inline),
                     c.lines(path_parts(loc), loc_w, "path")])
    table = Table(data or [["", "", ""]], colWidths=widths)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (0, -1), c.fonts.regular),
                               ("FONTSIZE", (0, 0), (0, -1), 7), ("TEXTCOLOR", (0, 0), (0, -1), colors.grey),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#e0e0e0")),
                               ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    head: list[Flowable] = [c.p(f"{what}, {r.words.site_verb}:", "body")]
    if site.wrappers:
        head.append(c.p("allocated through " + " ← ".join(f.function for f in site.wrappers), "small"))
    if prefix:
        head.append(c.lines(path_parts(f"files under {prefix}"), PAGE_W, "path"))
    out: list[Flowable] = [KeepTogether([*head, table])]
    code = r.site_sources.get(site.rank)
    if code is not None:
        out += site_code(code, c)
    return [*out, Spacer(1, 5)]


def details(c: Context) -> list[Flowable]:
    """The metadata: where the numbers come from and how they were made."""
    r = c.r
    rows = []
    if r.program:
        rows.append(("Program", r.program_path or r.program))
    rows.append(("Profile" + ("s" if len(r.profiles) > 1 else ""), ", ".join(r.profiles)))
    if r.base:
        rows.append(("Base", r.base))
    rows.append(("Kind", r.kind + (f" — {r.sequence}" if r.sequence else "")))
    rows.append(("Header", r.header))
    rows.append(("Shown", r.sample_type + (" (new minus base)" if r.mode == "base" else "")))
    for name, text, exact in r.totals:
        label = f"Total {name}" + (" (difference)" if r.mode == "base" else "")
        if name.endswith("_space"):
            rows.append((label, f"{r.bytes_text(exact, signed=r.mode == 'base')} ({exact} bytes)"))
        elif name.endswith("_objects"):
            rows.append((label, r.objects_text(exact)))
        elif r.is_time(name):  # 1.49s, not 1490000000 nanoseconds
            rows.append((label, ("+" if r.mode == "base" and exact > 0 else "") + text))
        else:
            rows.append((label, f"{text} ({exact})" if text != str(exact) else text))
    if r.header_totals:
        rows.append(("Header totals", ", ".join(f"{n} {t}" for n, t in r.header_totals)))
    rows.append(("Sampling", f"values are estimates: {r.sampling}" if r.estimated else "none: values are exact"))
    rows.append(("Made by", f"heapviz {r.version}" + (": " + " ".join(r.options) if r.options else "")))
    table = Table([[c.p(k, "small"), c.p(v, "small")] for k, v in rows], colWidths=[35 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return [c.heading("Details", 0), table]


def binaries(c: Context) -> list[Flowable]:
    r = c.r
    data: list[list[Any]] = [["Mapped file", "Symbolized with", "Addresses", "Status"]]
    for b in r.binaries:
        sym = b.symbol_file + (f"\ndebug: {b.debug_file}" if b.debug_file else "")
        if b.build_id:
            sym += f"\nbuild id {b.build_id}"
        data.append([c.lines(path_parts(b.file), 55 * mm - 2 * CELL_PAD, "path"), c.p(sym, "small"),
                     f"{b.resolved}/{b.addresses}", c.p(b.status, "small")])
    table = Table(data, colWidths=[55 * mm, 70 * mm, 18 * mm, None], repeatRows=1)
    table.setStyle(table_style(c.fonts.bold))
    return [table]
