"""`list` and `disasm` as text laid out like pprof's (`ROUTINE ===…`, `flat cum line: source`)
and as JSON with the same rows. Never reads a profile or a file: source.py and disasm.py do."""

from __future__ import annotations

import json
from collections.abc import Callable

from heapviz.model import Value
from heapviz.source import Listing
from heapviz.text import safe
from heapviz.units import json_unit, percentage

GAP = ". . ."


def _dot(v: Value, fmt: Callable[[Value], str]) -> str:
    """pprof's valueOrDot: zero prints as `.`."""
    return "." if v == 0 else fmt(v)


def routine_header(name: str, where: str, flat: Value, cum: Value, total: Value,
                   fmt: Callable[[Value], str]) -> list[str]:
    head = f"ROUTINE ======================== {safe(name)}" + (f" in {safe(where)}" if where else "")
    return [head, f"{fmt(flat):>10s} {fmt(cum):>10s} (flat, cum) {percentage(cum, total)} of Total"]


def render_text(listings: list[Listing], total: Value, fmt: Callable[[Value], str]) -> str:
    out = [f"Total: {fmt(total)}"]
    for li in listings:
        r = li.routine
        out += routine_header(r.name, r.file, r.flat, r.cum, total, fmt)
        if li.missing:
            out.append(f" {safe(li.missing)}")
        last = None
        for row in li.rows:
            if last is not None and row.line > last + 1 and li.source is not None:
                out.append(f"{'':10s} {'':10s} {GAP:>6s}")
            last = row.line
            text = "" if row.text is None else safe(row.text)
            out.append(f"{_dot(row.flat, fmt):>10s} {_dot(row.cum, fmt):>10s} {row.line:6d}:{text}")
    return "\n".join(out) + "\n"


def render_json(listings: list[Listing], total: Value, source: str, sample_type: str, sample_unit: str,
                warnings: list[str]) -> str:
    doc = {
        "profile": source,
        "sample_index": sample_type,
        "unit": json_unit(sample_unit),
        "total": round(total),
        "routines": [
            {
                "name": li.routine.name,
                "file": li.routine.file,
                "source": li.source,
                "missing": li.missing or None,
                "flat": round(li.routine.flat),
                "cum": round(li.routine.cum),
                "lines": [{"line": row.line, "flat": round(row.flat), "cum": round(row.cum), "text": row.text}
                          for row in li.rows],
            }
            for li in listings
        ],
        "warnings": warnings,
    }
    # surrogates (bytes of a source file that were not UTF-8) as \udcXX escapes, never raw
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
