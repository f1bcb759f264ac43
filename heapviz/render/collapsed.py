"""Folded stacks (`root;caller;leaf 1234`, one line per distinct stack) for FlameGraph's
flamegraph.pl, speedscope and inferno; what pprof's `--collapsed` writes.

Frames are named as heapviz shows them (granularity, demangling, inline frames); values are
summed per identical stack and rounded to integers only once summed.
"""

from __future__ import annotations

from collections.abc import Sequence

from heapviz.graph.nodes import FrameMapper, NodeOptions
from heapviz.model import Sample, Value

# `;` separates frames and a newline ends a record: neither may appear inside a name.
_UNSAFE = str.maketrans({";": ":", "\n": " ", "\r": " "})


def frame_name(name: str) -> str:
    return name.translate(_UNSAFE) or "<unknown>"


def to_collapsed(samples: Sequence[Sample], index: int, options: NodeOptions, drop_negative: bool = False) -> str:
    """One `frames value` line per distinct stack, sorted by stack; zero-valued stacks are left out."""
    mapper = FrameMapper(options)
    sums: dict[str, Value] = {}
    for s in samples:
        v = s.values[index]
        if v == 0:
            continue
        frames = mapper.stack(s)
        if not frames:
            continue
        key = ";".join(frame_name(fr.node.printable()) for fr in reversed(frames))
        sums[key] = sums.get(key, 0) + v
    lines = []
    for key in sorted(sums):
        v = round(sums[key])
        if v == 0 or (drop_negative and v < 0):
            continue
        lines.append(f"{key} {v}\n")
    return "".join(lines)
