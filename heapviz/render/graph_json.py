"""The pruned call graph as JSON, for scripts and nightly jobs (same nodes and edges as the DOT)."""

from __future__ import annotations

import json

from heapviz.graph.build import CallGraph


def _num(v: float) -> int:
    return round(v)


def to_json(cg: CallGraph, legend: list[str], unit: str) -> str:
    g = cg.graph
    ids = {n: f"N{i + 1}" for i, n in enumerate(cg.order)}
    nodes = [
        {
            "id": ids[n],
            "name": n.printable(),
            "flat": _num(g.nodes[n]["flat"]),
            "cum": _num(g.nodes[n]["cum"]),
            "full_names": sorted(g.nodes[n]["full_names"]),
        }
        for n in cg.order
    ]
    edges = [
        {
            "from": ids[u],
            "to": ids[v],
            "weight": _num(e["weight"]),
            "residual": bool(e["residual"]),
            "inline": bool(e["inline"]),
        }
        for u, v, e in sorted(g.edges(data=True), key=lambda e: (-abs(e[2]["weight"]), ids[e[0]], ids[e[1]]))
    ]
    doc = {
        "unit": unit,
        "total": _num(cg.total),
        "legend": legend,
        "dropped_nodes": cg.dropped_nodes,
        "dropped_edges": cg.dropped_edges,
        "nodes": nodes,
        "edges": edges,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
