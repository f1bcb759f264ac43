"""A fleet's inputs summed on a Dask cluster (--scheduler): the lanes each worker sums its
partitions in, fed a few at a time, and the client's connection and deadline. The inputs, the
partial sums and the local (--jobs) spreading are fleet.py's.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Any

from heapviz.errors import HeapvizError, UsageError
from heapviz.fleet import EXTRA, FleetOptions, Partial, _describe, _partitions, load_partition, merge


class FleetError(HeapvizError):
    """The cluster could not be reached or did not finish in time."""


def _connect(client_class: Any, address: str, seconds: float) -> Any:
    """A Dask client of the scheduler at `address`, or FleetError after `seconds`: Dask's own
    timeout covers the TCP connection, not a peer that accepts it and then never answers, so the
    handshake runs on a thread of its own that is given up on (it is a daemon: it cannot keep
    the process alive)."""
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_class(address, timeout=f"{seconds}s", set_as_default=False)
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=connect, name="heapviz-dask-connect", daemon=True)
    thread.start()
    thread.join(seconds + 1.0)
    if thread.is_alive():
        raise FleetError(f"cannot reach the Dask scheduler at {address}: no answer within {seconds:g} s")
    error = box.get("error")
    if isinstance(error, (OSError, TimeoutError)):
        raise FleetError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    if error is not None:
        raise FleetError(f"cannot use the Dask scheduler at {address}: {_describe(error)}") from None
    return box["client"]


_SUM_FIRST = 1  # Dask runs higher priorities first: a sum before any partition still waiting
AHEAD = 2  # partitions of a lane loading or loaded and not yet summed: what a worker holds beside its sum


def _lanes(parts: list[list[str]], n: int) -> list[list[list[str]]]:
    """The partitions as `n` lanes of consecutive ones, in order."""
    size = math.ceil(len(parts) / max(1, n))
    return [parts[i:i + size] for i in range(0, len(parts), size)]


class _Lanes:
    """Each lane's sum on the cluster: its partitions loaded in order, at most AHEAD at a time,
    each added to the lane's running sum (in order: the sum is the serial --merge exactly) as
    soon as it and those before it are there. The client hands a lane its next partition only
    when one is summed, so a worker holds its lane's sum and a partial or two however many
    inputs there are: memory does not grow with the fleet. (Submitting a whole lane at once let
    an idle worker steal queued loads from the other lane's worker, whose partials then held
    memory there and travelled back: peaks grew with the fleet.) A lane prefers one worker, so
    that its sums need no transfers; others take over its tasks when that worker is lost."""

    def __init__(self, client: Any, lanes: list[list[list[str]]], options: Any, fleet: FleetOptions,
                 addresses: list[str]) -> None:
        self.client, self.options, self.fleet = client, options, fleet
        self.todo = [collections.deque(lane) for lane in lanes]
        self.loading: list[collections.deque[Any]] = [collections.deque() for _ in lanes]
        self.sums: list[Any] = [None] * len(lanes)
        self.where = [{"workers": addresses[i:i + 1], "allow_other_workers": True} if i < len(addresses) else {}
                      for i in range(len(lanes))]
        self.lane_of: dict[str, int] = {}

    def run(self, seconds: float) -> list[Any]:
        """The lanes' sums as futures, once every partition is loaded and handed to its sum;
        TimeoutError after `seconds`, a task's own error if one failed."""
        from distributed import as_completed

        done = as_completed(loop=self.client.loop, timeout=seconds)  # type: ignore[no-untyped-call]
        for i in range(len(self.todo)):
            self._feed(i, done)
        for future in done:
            i = self.lane_of.pop(future.key)
            if future.status != "finished":
                future.result()  # raises what the task raised (an input with --strict) or why it was lost
            loading = self.loading[i]
            while loading and loading[0].done():
                loaded = loading.popleft()
                total = self.sums[i]
                self.sums[i] = loaded if total is None else self.client.submit(
                    merge, total, loaded, pure=False, priority=_SUM_FIRST, **self.where[i])
            self._feed(i, done)
        return self.sums

    def _feed(self, i: int, done: Any) -> None:
        while self.todo[i] and len(self.loading[i]) < AHEAD:
            future = self.client.submit(load_partition, self.todo[i].popleft(), self.options, self.fleet.group_by,
                                        self.fleet.strict, pure=False, retries=1, **self.where[i])
            self.loading[i].append(future)
            self.lane_of[future.key] = i
            done.add(future)


def on_dask(paths: list[str], options: Any, fleet: FleetOptions) -> Partial:
    """Every input summed on the Dask cluster at fleet.scheduler: a lane per worker (_Lanes), the
    lanes' sums added pairwise; FleetError when the cluster cannot be reached, fails or times out."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(f"--scheduler needs Dask's distributed: pip install '{EXTRA}'") from None
    address = fleet.scheduler
    client = _connect(Client, address, min(fleet.timeout_s, 30.0))
    deadline = time.monotonic() + fleet.timeout_s
    with client:
        addresses = sorted(client.scheduler_info().get("workers", {}))
        workers = max(1, len(addresses))
        try:
            futures = [f for f in _Lanes(client, _lanes(_partitions(paths, workers), workers), options, fleet,
                                         addresses).run(fleet.timeout_s) if f is not None]
            # the lanes' sums, neighbours added pairwise, level by level (a few: one lane per worker)
            while len(futures) > 1:
                pairs = [client.submit(merge, futures[i], futures[i + 1], pure=False, priority=_SUM_FIRST)
                         for i in range(0, len(futures) - 1, 2)]
                futures = pairs + futures[len(futures) - len(futures) % 2:]
            result: Partial = futures[0].result(timeout=max(0.001, deadline - time.monotonic())) \
                if futures else Partial()
        except HeapvizError:  # an input with --strict, raised on a worker
            raise
        except TimeoutError:
            raise FleetError(f"the Dask cluster at {address} did not finish within {fleet.timeout_s:g} s "
                             "(--timeout)") from None
        except Exception as e:  # KilledWorker (a task's workers died again and again), a lost scheduler
            raise FleetError(f"the Dask cluster at {address} failed: {type(e).__name__}: {_describe(e)}") from None
    return result
