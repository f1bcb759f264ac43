"""Wall-clock time per phase (read+parse, symbolize, prune, graph, render, write), for
`--timings` and the benchmark, so that the next bottleneck is visible."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timings:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.seconds.items()}


@contextmanager
def phase(timings: Timings | None, name: str) -> Iterator[None]:
    """Time a phase when timings are being collected; a no-op otherwise."""
    if timings is None:
        yield
    else:
        with timings.phase(name):
            yield
