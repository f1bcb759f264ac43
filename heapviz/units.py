"""Numbers as pprof prints them: 1024-based memory units labelled B/kB/MB/GB, time in ns/us/ms/s…,
counts as they are, percentages."""

from __future__ import annotations

from collections.abc import Iterable

from heapviz.model import Value

MEMORY_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")
# pprof's time units, each with its length in nanoseconds ("s" prints as pprof's "s").
TIME_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9, "mins": 60e9, "hrs": 3600e9, "days": 86400e9,
              "wks": 7 * 86400e9, "yrs": 365 * 86400e9}
UNIT_CHOICES = ("minimum", "auto", *MEMORY_UNITS, *TIME_UNITS)
# A sample type's unit, as profiles write it, to nanoseconds.
_TIME_SAMPLE_UNITS = {"nanoseconds": 1.0, "nanosecond": 1.0, "ns": 1.0, "microseconds": 1e3, "microsecond": 1e3,
                      "us": 1e3, "milliseconds": 1e6, "millisecond": 1e6, "ms": 1e6, "seconds": 1e9,
                      "second": 1e9, "sec": 1e9, "s": 1e9}


def dimension(sample_unit: str) -> str:
    """The unit family of a sample type's unit: "bytes", "time" or "count" (anything else)."""
    if sample_unit == "bytes":
        return "bytes"
    if sample_unit.lower() in _TIME_SAMPLE_UNITS:
        return "time"
    return "count"


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


def _best_time_unit(ns: float) -> str:
    """pprof's automatic time unit: below 1us in ns, below 1ms in us, … below a minute in s."""
    ns = abs(ns)
    for unit, limit in (("ns", 1e3), ("us", 1e6), ("ms", 1e9), ("s", 60e9), ("mins", 3600e9), ("hrs", 86400e9),
                        ("days", 15 * 86400e9), ("wks", 120 * 86400e9)):
        if ns < limit:
            return unit
    return "yrs"


def _best(v: float, sample_unit: str) -> str:
    family = dimension(sample_unit)
    if family == "bytes":
        return best_unit(v)
    if family == "time":
        return _best_time_unit(v * _TIME_SAMPLE_UNITS[sample_unit.lower()])
    return ""


def choose_unit(sample_unit: str, requested: str, node_values: Iterable[tuple[Value, Value]], total: Value) -> str:
    """pprof's `-unit=minimum`: the unit of the smallest non-zero node value, unless that is
    more than 100x below the total, in which case the unit of 100x that value. Counts have no
    unit; a unit of another dimension than the values' is not applied."""
    family = dimension(sample_unit)
    if family == "count":
        return ""
    if requested not in ("minimum", "auto"):
        wrong = requested in TIME_UNITS if family == "bytes" else requested in MEMORY_UNITS
        return "auto" if wrong else requested
    if requested == "auto":
        return requested
    minimum: float = 0
    for flat, cum in node_values:
        v = abs(flat) or abs(cum)
        if v and (not minimum or v < minimum):
            minimum = v
    maximum = abs(total)
    if not minimum:
        minimum = maximum
    min_unit, max_unit = _best(minimum, sample_unit), _best(maximum, sample_unit)
    if min_unit != max_unit and minimum * 100 < maximum:
        return _best(100 * minimum, sample_unit)
    return min_unit


def format_value(v: Value, sample_unit: str, unit: str) -> str:
    """A value in the chosen unit: `%.2f` with `.00` trimmed, then the unit label."""
    if v == 0:
        return "0"
    family = dimension(sample_unit)
    if family == "count" or not unit:
        return str(round(v))
    if unit == "auto" or unit not in (TIME_UNITS if family == "time" else MEMORY_UNITS):
        unit = _best(v, sample_unit)  # automatic, or a unit of the other dimension forced by --unit
    if family == "time":
        s = f"{v * _TIME_SAMPLE_UNITS[sample_unit.lower()] / TIME_UNITS[unit]:.2f}".removesuffix(".00")
        return "0" if s in ("0", "-0") else s + unit
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


def json_unit(sample_unit: str) -> str:
    """A sample type's unit as machine-readable outputs name it: bytes, the time unit the values
    are in (e.g. nanoseconds), or count."""
    family = dimension(sample_unit)
    return sample_unit if family != "count" else "count"
