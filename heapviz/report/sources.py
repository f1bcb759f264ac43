"""The code behind the report's largest leak sites: for each frame of a site in the user's own
code, a window of source lines around the frame's line with per-line values. Collected once
here for both writers; no markup, no highlighting (report/html.py and report/pdf.py do that).

Two values per line: the site's own value on the line its stack passes through (the hot line),
and the line's cum over every shown stack in that function, as `heapviz list` computes it.
The first says what this site holds; the second shows its neighbours (main's other calls that
leak, the other allocations of the same function) the way weblist does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from heapviz.graph.arrays import sums
from heapviz.graph.nodes import FrameMapper, NodeOptions
from heapviz.graph.stacks import StackTable
from heapviz.model import Value
from heapviz.source import SourceOptions, SourceReader, clean

if TYPE_CHECKING:
    from heapviz.report.collect import LeakSite

DEFAULT_SITES = 10  # leak sites whose code a report shows
DEFAULT_LINES = 40  # source lines shown per site, over all its frames
CONTEXT = 4  # lines shown on either side of a hot line
TAB = 8
# C0 controls (but tab) and DEL would draw as nothing, or as markup in reportlab: shown as \xNN
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class SourceRow:
    line: int
    text: str | None  # None: past the end of the file
    site_text: str  # this site's value, on its hot line; "" elsewhere
    all_text: str  # the line's cum over every shown stack in this function; "" when zero
    hot: bool


@dataclass(frozen=True)
class SourceBlock:
    """One frame's window of code."""

    frame: int  # index of the frame in the site's frames (leaf first)
    function: str
    file: str  # as recorded
    line: int
    path: str | None  # the file read
    rows: list[SourceRow] = field(default_factory=list)  # empty when the source is missing
    missing: str = ""  # why no code is shown
    cut: bool = False  # the window was narrowed to fit --source-lines


@dataclass(frozen=True)
class SiteSource:
    rank: int
    blocks: list[SourceBlock]
    note: str = ""  # what --source-lines left out


@dataclass(frozen=True)
class SourceSettings:
    sites: int = DEFAULT_SITES  # 0: no code in the report
    lines: int = DEFAULT_LINES
    options: SourceOptions = SourceOptions()


def printable(text: str) -> str:
    """A source line as both writers show it: tabs expanded, bytes that were not UTF-8 and
    control characters as \\xNN (never raw bytes, never a character a writer would swallow)."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.expandtabs(TAB))


def line_cums(stacks: StackTable, index: int, node_options: NodeOptions,
              wanted: set[tuple[str, str]]) -> dict[tuple[str, str, int], Value]:
    """Per (function, file, line) of the `wanted` (function, cleaned file) pairs: the line's cum
    over the stacks (each sample once per line), as source.routines sums it, but in numpy over
    the report's location table instead of a Python loop over every frame of every sample."""
    mapper = FrameMapper(NodeOptions("lines", node_options.demangle, node_options.inlines))
    table = stacks.locations
    keys: dict[tuple[str, str, int], int] = {}
    pair_loc: list[int] = []
    pair_key: list[int] = []
    for k, loc in enumerate(table.locations):
        for fr in mapper.frames(loc):
            f = clean(fr.node.file)
            if (fr.node.name, f) in wanted:
                pair_loc.append(k)
                pair_key.append(keys.setdefault((fr.node.name, f, fr.node.line), len(keys)))
    if not keys or not len(table.index):
        return {}
    n_locs = len(table.locations)
    per_loc = np.bincount(np.asarray(pair_loc, dtype=np.int64), minlength=n_locs)
    first = np.zeros(n_locs + 1, dtype=np.int64)
    np.cumsum(per_loc, out=first[1:])
    key_of_pair = np.asarray(pair_key, dtype=np.int64)
    # every (sample, key) of every position whose location has wanted frames
    locs = table.index.astype(np.int64)
    sample_of = np.repeat(np.arange(len(table.loc_starts) - 1, dtype=np.int64), np.diff(table.loc_starts))
    count = per_loc[locs]
    total = int(count.sum())
    if total == 0:
        return {}
    where = np.repeat(first[:-1][locs], count)
    before = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=before[1:])
    where += np.arange(total, dtype=np.int64) - np.repeat(before[:-1], count)
    combined = np.unique(np.repeat(sample_of, count) * len(keys) + key_of_pair[where])  # once per sample
    weights = stacks.weights(index)[combined // len(keys)]
    cum = sums(combined % len(keys), weights, len(keys))
    return {key: cum[i] for key, i in keys.items()}


def _window(line: int, size: int, budget: int) -> tuple[int, int]:
    """How many lines before and after the hot line fit in `budget` lines (the hot line counts),
    from `size` lines on either side: the callers' context is cut evenly."""
    before = min(size, (budget - 1) // 2)
    after = min(size, budget - 1 - before)
    return min(size, budget - 1 - after), after


def site_sources(sites: Sequence[LeakSite], stacks: StackTable, index: int, node_options: NodeOptions,
                 settings: SourceSettings, fmt: Callable[[Value], str]) -> dict[int, SiteSource]:
    """The code of the first `settings.sites` sites, by rank: a block for each frame in the
    user's own code (the allocating one first, then each caller carrying the stack), at most
    `settings.lines` lines per site. Each source file is found and read once."""
    chosen = list(sites[:max(settings.sites, 0)])
    if not chosen or settings.lines <= 0:
        return {}
    reader = SourceReader(settings.options)
    frames_of: dict[int, list[tuple[int, str, str, int]]] = {}
    for site in chosen:
        seen: set[tuple[str, int]] = set()
        picked = []
        for i, f in enumerate(site.frames):
            file = clean(f.file)
            if not f.user or not file or (file, f.line) in seen:  # recursion: one block per line
                continue
            seen.add((file, f.line))
            picked.append((i, f.function, file, f.line))
        frames_of[site.rank] = picked
    wanted = {(name, file) for picked in frames_of.values() for _, name, file, _ in picked}
    cums = line_cums(stacks, index, node_options, wanted) if wanted else {}
    out: dict[int, SiteSource] = {}
    for site in chosen:
        picked = frames_of[site.rank]
        if not picked:
            continue
        budget = settings.lines
        blocks: list[SourceBlock] = []
        left_out = 0
        narrowed = False
        for i, name, file, line in picked:
            path, lines, missing = reader.get(file)
            if lines is None:
                blocks.append(SourceBlock(i, name, file, line, path, missing=missing))
                continue
            if budget <= 0:
                left_out += 1
                continue
            if not 1 <= line <= len(lines):
                blocks.append(SourceBlock(i, name, file, line, path, missing=(
                    f"{path} has {len(lines)} lines, but the frame is on line {line}: "
                    "the source does not match the binary")))
                continue
            before, after = min(CONTEXT, line - 1), min(CONTEXT, len(lines) - line)
            cut = before + after + 1 > budget
            if cut:
                before, after = _window(line, CONTEXT, budget)
                before, after = min(before, line - 1), min(after, len(lines) - line)
                narrowed = True
            rows = []
            for n in range(line - before, line + after + 1):
                v = cums.get((name, file, n), 0)
                rows.append(SourceRow(n, printable(lines[n - 1]), fmt(site.value) if n == line else "",
                                      fmt(v) if v else "", n == line))
            budget -= len(rows)
            blocks.append(SourceBlock(i, name, file, line, path, rows, cut=cut))
        note = ""
        if left_out or narrowed:
            note = f"code cut to {settings.lines} lines (--source-lines)"
            if left_out:
                note += f": {left_out} caller frame{'s' if left_out > 1 else ''} not shown"
        out[site.rank] = SiteSource(site.rank, blocks, note)
    return out
