"""Numbers as pprof prints them: 1024-based memory units labelled B/kB/MB/GB, percentages."""

from __future__ import annotations

from collections.abc import Iterable

from heapviz.model import Value

MEMORY_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")
UNIT_CHOICES = ("minimum", "auto", *MEMORY_UNITS)


def _scale_to(v: float, unit: str) -> float:
    return v / float(1024 ** MEMORY_UNITS.index(unit))


def best_unit(v: float) -> str:
    """The largest memory unit in which |v| is at least 1."""
    v = abs(v)
    unit = "B"
    for i, u in enumerate(MEMORY_UNITS):
        if v >= 1024**i:
            unit = u
    return unit


def choose_unit(sample_unit: str, requested: str, node_values: Iterable[tuple[Value, Value]], total: Value) -> str:
    """pprof's `-unit=minimum`: the unit of the smallest non-zero node value, unless that is
    more than 100x below the total, in which case the unit of 100x that value."""
    if sample_unit != "bytes":
        return ""
    if requested != "minimum":
        return requested
    minimum: float = 0
    for flat, cum in node_values:
        v = abs(flat) or abs(cum)
        if v and (not minimum or v < minimum):
            minimum = v
    maximum = abs(total)
    if not minimum:
        minimum = maximum
    min_unit, max_unit = best_unit(minimum), best_unit(maximum)
    if min_unit != max_unit and minimum * 100 < maximum:
        return best_unit(100 * minimum)
    return min_unit


def format_value(v: Value, sample_unit: str, unit: str) -> str:
    """A value in the chosen unit: `%.2f` with `.00` trimmed, then the unit label."""
    if v == 0:
        return "0"
    if sample_unit != "bytes" or not unit:
        return str(round(v))
    if unit == "auto":
        unit = best_unit(v)
    if unit == "B":
        return f"{round(v)}B"  # estimates are kept exact in the model and rounded only here
    s = f"{_scale_to(v, unit):.2f}"
    s = s.removesuffix(".00")
    return s + unit


def percentage(value: Value, total: Value) -> str:
    """pprof's percentage: `100%` near 100, two decimals above 1%, two significant digits below."""
    ratio = abs(value / total) * 100 if total else 0.0
    if 99.95 <= ratio <= 100.05:
        return "  100%"
    if ratio >= 1.0:
        return f"{ratio:5.2f}%"
    return f"{ratio:5.2g}%"


def report_unit(requested: str) -> str:
    """The unit a report shows bytes in: pprof's `auto` (each value in the largest unit in which
    it is at least 1), unless one was forced with --unit."""
    return "auto" if requested == "minimum" else requested


def count_text(v: Value, noun: str) -> str:
    """A count with its noun: `1 object`, `3 objects`, `-2 objects`."""
    n = round(v)
    return f"{n} {noun}" if abs(n) == 1 else f"{n} {noun}s"
