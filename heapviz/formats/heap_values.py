"""What the text heap formats share (gperftools, its heap checker, jemalloc, Go's legacy text):
their four sample types, tcmalloc's stack depth limit and the unsampling of `heap_v2` buckets.
Each format module imports these from here, never from another format's module."""

from __future__ import annotations

import math

from heapviz.model import Value, ValueType

MAX_STACK_DEPTH = 32  # gperftools records at most this many frames (heap-profile-stats.h)

SAMPLE_TYPES = [
    ValueType("inuse_objects", "count"),
    ValueType("inuse_space", "bytes"),
    ValueType("alloc_objects", "count"),
    ValueType("alloc_space", "bytes"),
]


def unsample_v2(count: Value, size: Value, rate: float) -> tuple[Value, Value]:
    """Undo tcmalloc's Poisson sampling for one (count, bytes) pair.

    An allocation of s bytes is sampled with probability 1-exp(-s/rate), so each sampled
    object stands for 1/(1-exp(-avg/rate)) objects. Kept exact (float), unlike Go's pprof,
    which truncates every sample to an integer.
    """
    if count == 0 or size == 0:
        return 0, 0
    if rate <= 1:
        return count, size
    # 1 - exp(-x) as -expm1(-x): exact for tiny x, where the plain form rounds to 0.
    scale = 1.0 / -math.expm1(-(size / count) / rate)
    return count * scale, size * scale
