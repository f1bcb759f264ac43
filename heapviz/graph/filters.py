"""pprof's sample filters: --focus, --ignore, --hide, --show.

Regexes are searched (unanchored) in a frame's short and full function names, its source
file and its binary's path. Filters never change the profile: they return new samples, and
new locations where hide/show removed inline frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import re
from dataclasses import dataclass

from heapviz.errors import UsageError
from heapviz.model import Line, Location, Sample
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
    frames matching hide, or all but those matching show. Samples left without frames go."""
    if not options.active:
        return FilterResult(samples, [])
    focus = compile_regex(options.focus, "focus")
    ignore = compile_regex(options.ignore, "ignore")
    hide = compile_regex(options.hide, "hide")
    show = compile_regex(options.show, "show")
    # Decide per location once: True = focused, False = ignored, absent = neither.
    verdict: dict[int, bool] = {}
    replaced: dict[int, Location | None] = {}  # None: the location is hidden entirely
    matched = {"focus": False, "ignore": False, "hide": False, "show": False}
    for s in samples:
        for loc in s.locations:
            if loc.id in verdict or loc.id in replaced:
                continue
            if ignore is not None and _loc_matches(ignore, loc):
                verdict[loc.id] = False
                matched["ignore"] = True
            elif focus is None or _loc_matches(focus, loc):
                verdict[loc.id] = True
                matched["focus"] = matched["focus"] or focus is not None
            lines = loc.lines
            if hide is not None and _loc_matches(hide, loc):
                matched["hide"] = True
                lines = tuple(ln for ln in lines if not _line_matches(hide, ln))
            if show is not None:
                lines = tuple(ln for ln in lines if _line_matches(show, ln))
                matched["show"] = matched["show"] or bool(lines)
            if lines != loc.lines:
                replaced[loc.id] = Location(loc.id, loc.address, loc.mapping, lines) if lines else None
    out: list[Sample] = []
    for s in samples:
        focused = False
        for loc in s.locations:
            v = verdict.get(loc.id)
            if v is False:
                break
            if v:
                focused = True
        else:
            if not focused:
                continue
            if replaced:
                locs = []
                for loc in s.locations:
                    new = replaced.get(loc.id, loc)
                    if new is not None:
                        locs.append(new)
                if not locs:
                    continue
                out.append(Sample(s.values, tuple(locs), s.labels))
            else:
                out.append(s)
    warnings = [f"--{k}={getattr(options, k)!s} matched nothing" for k, hit in matched.items()
                if getattr(options, k) and not hit]
    return FilterResult(out, warnings)
