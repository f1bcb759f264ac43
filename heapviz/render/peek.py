"""The peek view as text (laid out like `pprof -peek`) or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from heapviz.graph.peek import PeekEdge, PeekResult
from heapviz.model import Value
from heapviz.units import json_unit, percentage

SEPARATOR = "-" * 58 + "+-------------"
LEGEND = "      flat  flat%   sum%        cum   cum%   calls calls% + context"


def _edge_line(e: PeekEdge, cum: Value, fmt: Callable[[Value], str]) -> str:
    mark = " (inline)" if e.inline else ""
    return f"{fmt(e.weight):>50s} {percentage(e.weight, cum)} |   {e.name}{mark}"


def render_text(result: PeekResult, header: list[str], fmt: Callable[[Value], str]) -> str:
    out = list(header)
    shown = sum(e.flat for e in result.entries)
    out.append(f"Showing nodes accounting for {fmt(shown)}, {percentage(shown, result.total).strip()} "
               f"of {fmt(result.total)} total")
    out += [SEPARATOR, LEGEND, SEPARATOR]
    running: Value = 0
    for entry in result.entries:
        out += [_edge_line(e, entry.cum, fmt) for e in entry.callers]
        running += entry.flat
        out.append(f"{fmt(entry.flat):>10s} {percentage(entry.flat, result.total)} "
                   f"{percentage(running, result.total)} {fmt(entry.cum):>10s} "
                   f"{percentage(entry.cum, result.total)}                | {entry.name}")
        out += [_edge_line(e, entry.cum, fmt) for e in entry.callees]
        out.append(SEPARATOR)
    return "\n".join(out) + "\n"


def _num(v: Value) -> int | float:
    return v if isinstance(v, int) else round(v, 6)


def _pct(v: Value, total: Value) -> float:
    return round(abs(v / total) * 100, 4) if total else 0.0


def _edges(edges: Sequence[PeekEdge], cum: Value) -> list[dict[str, object]]:
    return [{"name": e.name, "weight": _num(e.weight), "pct_of_cum": _pct(e.weight, cum), "inline": e.inline,
             "residual": e.residual} for e in edges]


def render_json(result: PeekResult, profile: str, sample_type: str, unit: str, warnings: list[str]) -> str:
    doc = {
        "profile": profile,
        "sample_index": sample_type,
        "unit": json_unit(unit),
        "total": _num(result.total),
        "functions": [
            {"name": e.name, "full_names": list(e.full_names), "flat": _num(e.flat), "cum": _num(e.cum),
             "flat_pct": _pct(e.flat, result.total), "cum_pct": _pct(e.cum, result.total),
             "callers": _edges(e.callers, e.cum), "callees": _edges(e.callees, e.cum)}
            for e in result.entries
        ],
        "warnings": list(warnings),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
