"""pprof's sample filters: --focus, --ignore, --hide, --show.

Regexes are searched (unanchored) in a frame's short and full function names, its source
file and its binary's path. Filters never change the profile: they return new samples, and
new locations where hide/show removed inline frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import re
from dataclasses import dataclass
from typing import Any

from heapviz.errors import UsageError
import numpy as np
import numpy.typing as npt

from heapviz.model import Line, Location, Sample
from heapviz.sample_table import SampleTable
from heapviz.symbolize.demangle import simplify


@dataclass(frozen=True)
class FilterOptions:
    focus: str = ""
    ignore: str = ""
    hide: str = ""
    show: str = ""

    @property
    def active(self) -> bool:
        return bool(self.focus or self.ignore or self.hide or self.show)

    def describe(self) -> list[str]:
        return [f"{k}={v}" for k, v in (("focus", self.focus), ("ignore", self.ignore), ("hide", self.hide),
                                          ("show", self.show)) if v]


def compile_regex(rx: str, option: str) -> re.Pattern[str] | None:
    if not rx:
        return None
    try:
        return re.compile(rx)
    except re.error as e:
        raise UsageError(f"--{option}: bad regular expression {rx!r}: {e}") from None


def _line_matches(rx: re.Pattern[str], ln: Line) -> bool:
    fn = ln.function
    return bool(rx.search(simplify(fn.name)) or rx.search(fn.name) or (fn.filename and rx.search(fn.filename)))


def _loc_matches(rx: re.Pattern[str], loc: Location) -> bool:
    if any(_line_matches(rx, ln) for ln in loc.lines):
        return True
    return bool(loc.mapping is not None and loc.mapping.file and rx.search(loc.mapping.file))


@dataclass
class FilterResult:
    samples: Sequence[Sample]
    warnings: list[str]


def apply(samples: Sequence[Sample], options: FilterOptions) -> FilterResult:
    """Keep samples through focus (any frame matches) and ignore (no frame matches); remove
    frames matching hide, or all but those matching show. Samples left without frames go.
    Decided once per location, then applied to every sample over the sample table's arrays."""
    if not options.active:
        return FilterResult(samples, [])
    focus = compile_regex(options.focus, "focus")
    ignore = compile_regex(options.ignore, "ignore")
    hide = compile_regex(options.hide, "hide")
    show = compile_regex(options.show, "show")
    table = SampleTable.from_samples(samples)
    n_locs = len(table.locations)
    ignored = np.zeros(n_locs, dtype=np.bool_)
    focused = np.zeros(n_locs, dtype=np.bool_)
    gone = np.zeros(n_locs, dtype=np.bool_)  # every frame hidden
    candidates = list(table.locations)  # the table's locations, then the copies with frames hidden
    loc_map = np.arange(n_locs, dtype=np.int32)
    matched = {"focus": False, "ignore": False, "hide": False, "show": False}
    for k, loc in enumerate(table.locations):
        if ignore is not None and _loc_matches(ignore, loc):
            ignored[k] = matched["ignore"] = True
        elif focus is None or _loc_matches(focus, loc):
            focused[k] = True
            matched["focus"] = matched["focus"] or focus is not None
        lines = loc.lines
        if hide is not None and _loc_matches(hide, loc):
            matched["hide"] = True
            lines = tuple(ln for ln in lines if not _line_matches(hide, ln))
        if show is not None:
            lines = tuple(ln for ln in lines if _line_matches(show, ln))
            matched["show"] = matched["show"] or bool(lines)
        if lines != loc.lines:
            if lines:
                loc_map[k] = len(candidates)
                candidates.append(Location(loc.id, loc.address, loc.mapping, lines))
            else:
                gone[k] = True
    frame_loc = table.loc_index
    n = len(table)
    has_ignored = _per_sample(ignored[frame_loc], table.starts, np.logical_or).astype(np.bool_)
    has_focused = _per_sample(focused[frame_loc], table.starts, np.logical_or).astype(np.bool_)
    kept_frame = ~gone[frame_loc]
    frames_left = _per_sample(kept_frame.astype(np.int64), table.starts, np.add)
    rows = np.flatnonzero(~has_ignored & has_focused & (frames_left > 0))
    row_kept = np.zeros(n, dtype=np.bool_)
    row_kept[rows] = True
    keep_frame = kept_frame & np.repeat(row_kept, table.lens)
    starts = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(frames_left[rows], out=starts[1:])
    label_of = None if table.label_of is None else table.label_of[rows]
    out = SampleTable(candidates, loc_map[frame_loc[keep_frame]], starts, table.values[rows], table.labels, label_of)
    warnings = [f"--{k}={getattr(options, k)!s} matched nothing" for k, hit in matched.items()
                if getattr(options, k) and not hit]
    return FilterResult(out, warnings)


def _per_sample(values: npt.NDArray[Any], starts: npt.NDArray[np.int64], op: np.ufunc) -> npt.NDArray[Any]:
    """op reduced over each sample's frames (at `starts`): 0 for a sample without frames."""
    out = np.zeros(len(starts) - 1, dtype=values.dtype)
    nonempty = np.flatnonzero(np.diff(starts) > 0)
    if len(nonempty):
        out[nonempty] = op.reduceat(values, starts[nonempty])
    return out
