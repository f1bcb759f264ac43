"""Text views for terminals, logs and scripts: pprof's `top` table, as text, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

from heapviz.graph.nodes import NodeInfo
from heapviz.graph.tables import NodeTable
from heapviz.model import Profile, Value, main_mapping
from heapviz.units import choose_unit, format_value, json_unit, percentage


_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def safe(text: str) -> str:
    """Text for a terminal or log: control characters (ANSI escapes, NUL) and undecodable bytes
    are shown as \\xNN escapes instead of being interpreted."""

    def repl(m: re.Match[str]) -> str:
        c = ord(m.group(0))
        return f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"

    return _UNSAFE.sub(repl, text)


@dataclass(frozen=True)
class TopOptions:
    sort_cum: bool = False
    node_count: int = 0  # 0 = every row
    node_fraction: float = 0.0
    unit: str = "minimum"
    format: str = "text"  # text | json | csv


@dataclass(frozen=True)
class Row:
    node: NodeInfo
    flat: Value
    cum: Value
    full_names: tuple[str, ...]
    inline: str = ""  # pprof's "(inline)" / "(partial-inline)" mark

    @property
    def label(self) -> str:
        name = self.node.printable()
        return f"{name} {self.inline}" if self.inline else name


@dataclass(frozen=True)
class TopResult:
    rows: list[Row]
    total: Value
    shown_flat: Value
    dropped: int
    node_cutoff: Value
    all_nodes: int


def top_rows(table: NodeTable, options: TopOptions) -> TopResult:
    nodes = [n for n in table.cum if table.cum[n] != 0 or table.flat.get(n, 0) != 0]
    flat_total = sum(table.flat.values())
    cutoff = abs(int(flat_total * options.node_fraction))
    kept = [n for n in nodes if abs(table.cum[n]) >= cutoff] if cutoff else nodes
    dropped = len(nodes) - len(kept)

    def key_flat(n: NodeInfo) -> tuple[float, str, float]:
        return (-abs(table.flat.get(n, 0)), n.printable(), -abs(table.cum[n]))

    def key_cum(n: NodeInfo) -> tuple[float, str, float]:
        return (-abs(table.cum[n]), n.printable(), -abs(table.flat.get(n, 0)))

    kept.sort(key=key_cum if options.sort_cum else key_flat)
    if options.node_count > 0:
        kept = kept[: options.node_count]
    marks = table.inline_marks()
    rows = [
        Row(n, table.flat.get(n, 0), table.cum[n], tuple(sorted(table.full_names.get(n, ()))), marks.get(n, ""))
        for n in kept
    ]
    return TopResult(rows, table.total, sum(r.flat for r in rows), dropped, cutoff, len(nodes))


def _int(v: Value) -> int:
    return round(v)


def render_top(profile: Profile, sample_index: int, result: TopResult, options: TopOptions) -> str:
    vt = profile.sample_types[sample_index]
    if options.format == "json":
        return _json(profile, sample_index, result)
    unit = choose_unit(vt.unit, options.unit, ((r.flat, r.cum) for r in result.rows), result.total)

    def fmt(v: Value) -> str:
        return format_value(v, vt.unit, unit)

    if options.format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["name", "flat", "flat_pct", "sum_pct", "cum", "cum_pct"])
        running: Value = 0
        for r in result.rows:
            running += r.flat
            w.writerow([safe(r.label), _int(r.flat), _pct(r.flat, result.total), _pct(running, result.total),
                        _int(r.cum), _pct(r.cum, result.total)])
        return buf.getvalue()
    out = []
    main = main_mapping(profile)
    if main is not None:
        out.append(f"File: {safe(main.basename)}")
    out.append(f"Profile: {safe(profile.source)}")
    out.append(f"Type: {vt.type}" + (" (estimated from samples)" if profile.scaled else ""))
    out.append(
        f"Showing nodes accounting for {fmt(result.shown_flat)}, {percentage(result.shown_flat, result.total).strip()} "
        f"of {fmt(result.total)} total"
    )
    if result.dropped:
        out.append(f"Dropped {result.dropped} nodes (cum <= {fmt(result.node_cutoff)})")
    if len(result.rows) < result.all_nodes - result.dropped:
        out.append(f"Showing top {len(result.rows)} nodes out of {result.all_nodes}")
    out.append(f"{'flat':>10s}  flat%   sum% {'cum':>10s}   cum%")
    running = 0
    for r in result.rows:
        running += r.flat
        out.append(
            f"{fmt(r.flat):>10s} {percentage(r.flat, result.total)} {percentage(running, result.total)} "
            f"{fmt(r.cum):>10s} {percentage(r.cum, result.total)}  {safe(r.label)}"
        )
    return "\n".join(out) + "\n"


def _pct(v: Value, total: Value) -> str:
    return f"{abs(v / total) * 100:.2f}" if total else "0.00"


def _json(profile: Profile, sample_index: int, result: TopResult) -> str:
    vt = profile.sample_types[sample_index]
    doc = {
        "profile": profile.source,
        "sample_index": vt.type,
        "unit": json_unit(vt.unit),
        "total": _int(result.total),
        "estimated": profile.scaled,
        "rows": [
            {
                "name": r.node.printable(),
                "inline": r.inline,
                "flat": _int(r.flat),
                "cum": _int(r.cum),
                "flat_pct": round(abs(r.flat / result.total) * 100, 4) if result.total else 0.0,
                "cum_pct": round(abs(r.cum / result.total) * 100, 4) if result.total else 0.0,
                "full_names": list(r.full_names),
            }
            for r in result.rows
        ],
        "warnings": list(profile.warnings),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
