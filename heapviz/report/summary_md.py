"""The Markdown summary (`-o summary.md`) for a CI job's step summary or a pull-request comment:
totals, the threshold verdict, the top suspects (series, --base) or leak sites, and the names of
the run's full reports. Short and deterministic; every string from a profile is escaped."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from heapviz.growth import Suspect
from heapviz.kinds import upper_first
from heapviz.report.collect import LeakSite, ReportData, Threshold
from heapviz.report.groups import group_share, group_value_text
from heapviz.text import safe

MAX_ROWS = 10  # suspects or leak sites in the table
MAX_DUMPS = 12  # dumps listed one per row; longer series show their first and last ones
MAX_WARNINGS = 3
MAX_GROUP_TOP = 3  # functions per --group-by group
# The characters that would start Markdown or HTML inside a table cell or a line of text:
# emphasis, code spans, links and images, raw HTML and autolinks, entities, strikethrough, and
# the pipe that ends a cell. Backslash-escaped, as CommonMark allows for any ASCII punctuation;
# GitHub's tables honour `\|` even where a cell holds other markup.
_SPECIAL = re.compile(r"[\\`*_\[\]<>|&~]")
_BREAKS = {c: f"\\x{c:02x}" for c in (9, 10, 13)}  # what safe() leaves as is
# Formats that are summaries themselves, not reports a reader opens for the details.
_SUMMARIES = ("markdown", "junit")
_FORMAT_NAMES = {"html": "HTML report", "pdf": "PDF report", "json": "JSON summary"}


def one_line(text: str) -> str:
    """Text from a profile on one line: control characters (line breaks and tabs too) and
    undecodable bytes shown as \\xNN, as on a terminal."""
    return safe(text).translate(_BREAKS)


def md(text: str) -> str:
    """Text from a profile for a Markdown table cell or line: one_line(), then every Markdown
    character backslash-escaped."""
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), one_line(text))


def threshold_name(r: ReportData, t: Threshold) -> str:
    """What a threshold measures, in the profile kind's words: "in-use growth", "in-use bytes in
    the last dump"."""
    return r.words.growth_limit if t.name == "growth" else f"{r.words.grows} in the last dump"


def threshold_value(r: ReportData, t: Threshold) -> str:
    return r.bytes_text(t.value, signed=t.name == "growth")


def grown_suspects(r: ReportData) -> list[Suspect]:
    """The suspects that grew, best first: what a growth threshold points at."""
    return [s for s in r.suspects if s.growth_bytes > 0] if r.mode in ("series", "base") else []


def culprits(r: ReportData, t: Threshold | None, limit: int = MAX_ROWS) -> list[str]:
    """One line each for the stacks to read first: the suspects that grew for a growth threshold
    (and for a series or --base without one), else the largest leak sites. Not escaped."""
    grown = grown_suspects(r)
    if grown and (t is None or t.name == "growth"):
        return [f"{one_line(s.function)} {r.bytes_text(s.growth_bytes, signed=True)}"
                + (" (steady)" if s.steady else "") for s in grown[:limit]]
    lines = []
    for site in r.leaks[:limit]:
        frame = site.user_frame
        where = f" at {one_line(frame.location)}" if frame is not None and frame.location else ""
        name = frame.function if frame is not None else site.frames[0].function if site.frames else "?"
        lines.append(f"{one_line(name)} {site.value_text} ({site.pct}){where}")
    return lines


def report_names(r: ReportData) -> list[str]:
    """The full reports written by the same run, by file name: `growth.html (HTML report)`."""
    return [f"{name} ({_FORMAT_NAMES.get(fmt, fmt.upper())})" for name, fmt in r.outputs
            if fmt not in _SUMMARIES and name not in ("", "-")]


def _table(header: Sequence[str], align: str, rows: list[list[str]]) -> list[str]:
    """A GitHub table; `align` has one letter per column: l or r. Cells must be escaped already."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _verdict(r: ReportData) -> list[str]:
    if not r.thresholds:
        return ["No thresholds set (`--fail-if-growth`, `--fail-if-inuse`)."]
    exceeded = [t for t in r.thresholds if t.exceeded]
    if exceeded:
        first = exceeded[0]
        head = (f"**Threshold exceeded**: {md(threshold_name(r, first))} {md(threshold_value(r, first))} "
                f"is over the limit of {md(r.bytes_text(first.limit))}"
                + (f" ({len(exceeded)} of {len(r.thresholds)} thresholds exceeded)." if len(exceeded) > 1 else "."))
    else:
        head = "**Within thresholds**: " + "; ".join(
            f"{md(threshold_name(r, t))} {md(threshold_value(r, t))}, limit {md(r.bytes_text(t.limit))}"
            for t in r.thresholds) + "."
    rows = [[md(upper_first(threshold_name(r, t))), md(threshold_value(r, t)), md(r.bytes_text(t.limit)),
             "**exceeded**" if t.exceeded else "ok"] for t in r.thresholds]
    return [head, "", *_table(("Threshold", "Value", "Limit", "Result"), "lrrl", rows)]


def _totals(r: ReportData) -> list[str]:
    w = r.words
    if not r.dumps:
        return []
    last = r.dumps[-1]
    if len(r.dumps) == 1:
        return [f"{md(r.bytes_text(last.inuse_space))} in {md(r.objects_text(last.inuse_objects))} {md(w.in_use)}."]
    first = r.dumps[0]
    what = "dumps" if r.mode == "series" else "profiles"
    lines = [f"{len(r.dumps)} {what}, {md(w.measure)} {md(r.bytes_text(first.inuse_space))} → "
             f"{md(r.bytes_text(last.inuse_space))} "
             f"({md(r.bytes_text(last.inuse_space - first.inuse_space, signed=True))}), "
             f"{md(w.counts)} {first.inuse_objects} → {last.inuse_objects}."]
    shown = list(enumerate(r.dumps))
    skipped = 0
    if len(shown) > MAX_DUMPS:
        half = MAX_DUMPS // 2
        skipped = len(shown) - 2 * half
        shown = shown[:half] + shown[-half:]
    has_base = r.mode == "base" or bool(r.base)
    rows = []
    for i, d in shown:
        if skipped and i == MAX_DUMPS // 2 + skipped:
            rows.append(["…", f"{skipped} more", "", ""])
        label = "base" if has_base and i == 0 else str(i if has_base else i + 1)
        rows.append([label, md(os.path.basename(d.file)), md(r.bytes_text(d.inuse_space)),
                     str(d.inuse_objects)])
    return [*lines, "", *_table(("#", "Profile", upper_first(md(w.measure)), md(w.count_column)), "rlrr", rows)]


def _suspect_rows(r: ReportData, grown: list[Suspect]) -> list[list[str]]:
    rows = []
    for s in grown[:MAX_ROWS]:
        trend = "steady" if s.steady else "grew"
        rows.append([str(s.rank), md(s.function), md(r.bytes_text(s.growth_bytes, signed=True)),
                     md(r.bytes_text(s.inuse_space[-1] if s.inuse_space else 0)), trend, f"{s.score:.2f}"])
    return rows


def _site_row(site: LeakSite) -> list[str]:
    frame = site.user_frame
    name = frame.function if frame is not None else (site.frames[0].function if site.frames else "?")
    where = frame.location if frame is not None else ""
    return [str(site.rank), md(name), md(site.value_text), md(site.objects_text), md(site.pct), md(where)]


def _culprits(r: ReportData) -> list[str]:
    w = r.words
    grown = grown_suspects(r)
    if grown:
        more = f" (first {MAX_ROWS} of {len(grown)} that grew)" if len(grown) > MAX_ROWS else ""
        return [f"### {md(w.suspects)}{more}", "",
                *_table(("#", "Function", "Growth", "New" if r.mode == "base" else "Last dump", "Trend", "Score"),
                        "rlrrlr",
                        _suspect_rows(r, grown))]
    if not r.leaks:
        return []
    more = f" (first {MAX_ROWS} of {r.leak_sites_total})" if r.leak_sites_total > MAX_ROWS else ""
    return [f"### {md(w.largest_sites)}{more}", "",
            *_table(("#", md(w.by), md(w.value_column), md(w.count_column), "%", "Where"), "rlrrrl",
                    [_site_row(site) for site in r.leaks[:MAX_ROWS]])]


def _changes(r: ReportData) -> list[str]:
    if not r.previous:
        return []
    new = [c.function for c in r.changes if c.kind == "new"]
    grown = [c.function for c in r.changes if c.kind == "grown"]
    if not new and not grown:
        return [f"Nothing got worse since {md(os.path.basename(r.previous))}."]
    parts = []
    if new:
        parts.append(f"{len(new)} new ({', '.join(md(f) for f in new[:5])}{', …' if len(new) > 5 else ''})")
    if grown:
        parts.append(f"{len(grown)} grew more ({', '.join(md(f) for f in grown[:5])}"
                     f"{', …' if len(grown) > 5 else ''})")
    return [f"Since {md(os.path.basename(r.previous))}: " + "; ".join(parts) + "."]


def _groups(r: ReportData) -> list[str]:
    """A fleet's --group-by groups: each group's total and share, and its top functions by flat."""
    if not r.groups:
        return []
    shown = r.groups[:MAX_ROWS]
    more = f" (first {MAX_ROWS} of {len(r.groups)})" if len(r.groups) > MAX_ROWS else ""
    skipped = f"; {len(r.skipped)} input{'s' if len(r.skipped) != 1 else ''} skipped" if r.skipped else ""
    rows = [[md(g.label), str(g.profiles), md(group_value_text(r, g.value)), md(group_share(r, g.value)),
             ", ".join(f"{md(name)} {md(group_value_text(r, v))}" for name, v in g.top[:MAX_GROUP_TOP])]
            for g in shown]
    return [f"### Groups by {md(r.sample_type)}{more}{skipped}", "",
            *_table(("Group", "Profiles", md(r.sample_type), "Share", "Top functions (flat)"), "lrrrl", rows)]


def write_markdown(r: ReportData, options: object = None) -> bytes:
    """The Markdown summary as a report writer (heapviz/writers.py)."""
    lines = [f"## {md(r.title)}", ""]
    for part in (_verdict(r), _totals(r), _changes(r), _groups(r), _culprits(r)):
        if part:
            lines += [*part, ""]
    if r.warnings:
        lines.append(f"{len(r.warnings)} warning{'s' if len(r.warnings) != 1 else ''}:")
        lines += [f"- {md(w)}" for w in r.warnings[:MAX_WARNINGS]]
        if len(r.warnings) > MAX_WARNINGS:
            lines.append(f"- … {len(r.warnings) - MAX_WARNINGS} more in the full report")
        lines.append("")
    names = report_names(r)
    if names:
        lines += ["Full reports: " + ", ".join(md(n) for n in names) + ".", ""]
    files = [d.file for d in r.dumps] if r.mode in ("series", "base") else r.profiles
    profiles = [os.path.basename(p) for p in files]
    shown = ", ".join(profiles) if len(profiles) <= 3 else f"{profiles[0]} … {profiles[-1]}"
    lines.append(f"<sub>heapviz {md(r.version)}, {md(shown)}</sub>")
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")
