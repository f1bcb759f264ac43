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

from heapviz.graph.arrays import KeySums, distinct, once_sums
from heapviz.graph.nodes import NodeOptions
from heapviz.graph.stacks import StackTable
from heapviz.model import Value
from heapviz.source import SourceOptions, SourceReader, clean

if TYPE_CHECKING:
    from heapviz.report.sites import LeakSite

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
    """The code of one function around the lines the site's frames in it are on (one line, or
    several when it calls itself or its frames are close): one block, as weblist shows it."""

    frame: int  # index of its first frame in the site's frames (leaf first): the block's id
    function: str
    file: str  # as recorded
    line: int  # its first frame's line
    path: str | None  # the file read
    rows: list[SourceRow] = field(default_factory=list)  # in line order; empty when the source is missing
    missing: str = ""  # why no code is shown
    cut: bool = False  # fewer lines around the hot ones, to fit --source-lines
    frames: tuple[int, ...] = ()  # every frame of the site shown here


@dataclass(frozen=True)
class SiteSource:
    rank: int
    blocks: list[SourceBlock]
    note: str = ""  # what --source-lines left out

    @property
    def links(self) -> dict[int, int]:
        """Frame index -> the id (first frame) of the block that shows it."""
        return {f: b.frame for b in self.blocks for f in b.frames}


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
    over the stacks (each sample once per line), as source.routines sums it, but in one pass
    over the report's sample table (arrays.once_sums; numpy when a location holds several wanted
    frames) instead of a Python loop over every frame of every sample."""
    mapper = stacks.mapper(NodeOptions("lines", node_options.demangle, node_options.inlines))
    table = stacks.locations
    keys: dict[tuple[str, str, int], int] = {}
    pair_loc: list[int] = []
    pair_key: list[int] = []
    cleaned: dict[str, str] = {}  # clean() of each file name, once
    for k, loc in enumerate(table.locations):
        for fr in mapper.frames(loc):
            f = cleaned.get(fr.node.file)
            if f is None:
                f = cleaned[fr.node.file] = clean(fr.node.file)
            if (fr.node.name, f) in wanted:
                pair_loc.append(k)
                pair_key.append(keys.setdefault((fr.node.name, f, fr.node.line), len(keys)))
    if not keys or not len(table.loc_index):
        return {}
    n_locs = len(table.locations)
    per_loc = np.bincount(np.asarray(pair_loc, dtype=np.int64), minlength=n_locs)
    first = np.zeros(n_locs + 1, dtype=np.int64)
    np.cumsum(per_loc, out=first[1:])
    key_of_pair = np.asarray(pair_key, dtype=np.int64)
    # the positions (in the samples' location runs) whose location has wanted frames, their
    # samples, and each one's keys
    weights = stacks.weights(index)
    k = len(keys)
    if int(per_loc.max()) == 1:  # one wanted frame per location (no inlined ones): each sample once per key
        key_of_loc = np.full(n_locs, -1, dtype=np.int32)
        key_of_loc[np.asarray(pair_loc, dtype=np.int64)] = key_of_pair
        once = once_sums(key_of_loc[table.loc_index], table.starts, weights, k)
        return {key: once[i] for key, i in keys.items()}
    pos = np.flatnonzero((per_loc > 0)[table.loc_index])
    if not len(pos):
        return {}
    locs = table.loc_index[pos]
    count = per_loc[locs]
    sample_of = np.searchsorted(table.starts, pos, side="right") - 1
    where = np.repeat(first[:-1][locs], count)
    before = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=before[1:])
    where += np.arange(int(before[-1]), dtype=np.int64) - np.repeat(before[:-1], count)
    sample_of, key_of = np.repeat(sample_of, count), key_of_pair[where]
    # each sample once per key: the distinct (sample, key) pairs, in sample order
    pair = distinct(sample_of * k + key_of)
    acc = KeySums(weights, k)
    acc.add(pair % k, weights[pair // k], k)
    cum = acc.tolist()
    return {key: cum[i] for key, i in keys.items()}


def _shown(hot: list[int], n_lines: int, budget: int) -> tuple[list[int], bool]:
    """The lines to show around the `hot` ones (1-based, in a file of `n_lines`): CONTEXT lines
    on either side, fewer when that would pass `budget` lines, and only the first hot lines
    when even they alone do. Also whether it was narrowed."""
    for context in range(CONTEXT, -1, -1):
        lines = sorted({n for h in hot for n in range(max(1, h - context), min(n_lines, h + context) + 1)})
        if len(lines) <= budget:
            return lines, context < CONTEXT
    return sorted(hot)[:budget], True


def site_sources(sites: Sequence[LeakSite], stacks: StackTable, index: int, node_options: NodeOptions,
                 settings: SourceSettings, fmt: Callable[[Value], str]) -> dict[int, SiteSource]:
    """The code of the first `settings.sites` sites, by rank: a block for each function in the
    user's own code on the site's stack (the allocating frame's first, then each caller carrying
    the stack), at most `settings.lines` lines per site. Each source file is found and read once."""
    chosen = list(sites[:max(settings.sites, 0)])
    if not chosen or settings.lines <= 0:
        return {}
    reader = SourceReader(settings.options)
    # per site: its user frames grouped by (function, file), in the order they first appear
    groups_of: dict[int, dict[tuple[str, str], list[tuple[int, int]]]] = {}
    for site in chosen:
        groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for i, f in enumerate(site.frames):
            file = clean(f.file)
            if f.user and file:
                groups.setdefault((f.function, file), []).append((i, f.line))
        groups_of[site.rank] = groups
    wanted = {key for groups in groups_of.values() for key in groups}
    cums = line_cums(stacks, index, node_options, wanted) if wanted else {}
    out: dict[int, SiteSource] = {}
    for site in chosen:
        budget = settings.lines
        blocks: list[SourceBlock] = []
        left_out = 0
        narrowed = False
        for (name, file), frames in groups_of[site.rank].items():
            first, line = frames[0]
            ids = tuple(i for i, _ in frames)
            path, lines, missing = reader.get(file)
            if lines is None:
                blocks.append(SourceBlock(first, name, file, line, path, missing=missing, frames=ids))
                continue
            if budget <= 0:
                left_out += 1
                continue
            hot = sorted({n for _, n in frames})
            past = [n for n in hot if not 1 <= n <= len(lines)]
            if past:
                blocks.append(SourceBlock(first, name, file, line, path, missing=(
                    f"{path} has {len(lines)} lines, but {name} is on line {past[0]} here: "
                    "the source does not match the binary"), frames=ids))
                continue
            shown, cut = _shown(hot, len(lines), budget)
            narrowed = narrowed or cut
            rows = []
            for n in shown:
                v = cums.get((name, file, n), 0)
                rows.append(SourceRow(n, printable(lines[n - 1]), fmt(site.value) if n in hot else "",
                                      fmt(v) if v else "", n in hot))
            budget -= len(rows)
            blocks.append(SourceBlock(first, name, file, line, path, rows, cut=cut, frames=ids))
        if not blocks:
            continue
        note = ""
        if left_out or narrowed:
            note = f"code cut to {settings.lines} lines (--source-lines)"
            if left_out:
                note += f": {left_out} caller function{'s' if left_out > 1 else ''} not shown"
        out[site.rank] = SiteSource(site.rank, blocks, note)
    return out
