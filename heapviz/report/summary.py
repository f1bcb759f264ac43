"""The machine-readable summary (`-o summary.json`) for nightly jobs: stable, documented keys
(schema in summary.schema.json beside this file), deterministic output."""

from __future__ import annotations

import json
import os
from typing import Any

from heapviz.report.collect import MAX_SUSPECTS, ReportData

SCHEMA_ID = "heapviz-summary/1"


def summary(r: ReportData) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "heapviz": r.version,
        "program": r.program,
        "mode": r.mode,
        "base": r.base or None,
        "sample_type": r.sample_type,
        "estimated": r.estimated,
        "dumps": [
            {"file": d.file, "sequence": d.sequence, "inuse_space": d.inuse_space, "inuse_objects": d.inuse_objects}
            for d in r.dumps
        ],
        "totals": {name: exact for name, _, exact in r.totals},
        "suspects": [
            {
                "rank": s.rank,
                "function": s.function,
                "stack": list(s.stack),
                "inuse_space": list(s.inuse_space),
                "inuse_objects": list(s.inuse_objects),
                "growth_bytes": s.growth_bytes,
                "score": s.score,
                "steady": s.steady,
                "wrappers": list(s.wrappers),
                "growth_before_collapse": s.growth_before_collapse,
            }
            for s in r.suspects[:MAX_SUSPECTS]
        ],
        "top": [
            {"name": row.name, "flat": row.flat, "cum": row.cum}
            for row in (r.tables[0].rows[:20] if r.tables else [])
        ],
        "changes": [
            {"kind": c.kind, "function": c.function, "stack": list(c.stack), "growth_bytes": c.growth_bytes,
             "previous_growth_bytes": c.previous_growth_bytes}
            for c in r.changes
        ],
        "previous": os.path.basename(r.previous) if r.previous else None,
        "thresholds": [
            {"name": t.name, "limit": t.limit, "value": t.value, "exceeded": t.exceeded} for t in r.thresholds
        ],
        "warnings": list(r.warnings),
        "wrappers": [{"name": w.name, "reason": w.reason, "share": round(w.share, 4), "callers": w.callers,
                      "detected": w.detected} for w in r.wrappers],
        "collapse": None if r.collapse is None else {
            "drop_fraction": r.collapse.drop_fraction, "before": r.collapse.before, "last": r.collapse.last,
            "growth_before": r.collapse.growth_before},
        "notes": list(r.notes),
        "skipped": {"count": len(r.skipped), "inputs": [{"file": f, "error": why} for f, why in r.skipped]},
        "groups": [
            {
                "label": g.label,
                "profiles": g.profiles,
                "totals": {name: round(v) for name, v in g.totals.items()},
                "top": [{"name": name, "flat": round(v)} for name, v in g.top],
            }
            for g in r.groups
        ],
    }


def write_json(r: ReportData) -> bytes:
    return (json.dumps(summary(r), indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8", "replace")


def write_report_json(r: ReportData, options: object = None) -> bytes:
    """The summary as a report writer (heapviz/writers.py): writers take render options too."""
    return write_json(r)
