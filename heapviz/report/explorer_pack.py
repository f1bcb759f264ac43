"""The explorer's large arrays as one gzip-compressed, base64 binary block.

The page (templates/explore_data.js) reads the block with the browser's own
DecompressionStream('gzip'): nothing is fetched. Each array is stored in the smallest typed array
that holds its values exactly (Int8 … Int32, else Float64), byte-shuffled (every value's first
byte, then every value's second byte, …: runs of small numbers become runs of zero bytes, which
gzip packs far better), one after the other. The manifest says, per array, its name, its typed
array and its length; the bytes are deterministic (gzip's mtime is 0).

The call tree's locations are stored as transitions: a node's location is its rank among the
locations seen under its parent's location (`pair_child`, `pair_count` per parent location, the
most frequent first), so a program's few callees per caller become small numbers.
"""

from __future__ import annotations

import base64
import gzip
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

try:
    from heapviz.report import _prefix  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: numpy sorts instead
    _prefix = None

USE_COMPILED = True  # tests turn it off to compare the compiled part (compiled()) with numpy's

# (typed array, numpy dtype, smallest, largest), smallest first
_INTS: list[tuple[str, type[np.integer[Any]]]] = [("Int8Array", np.int8), ("Uint8Array", np.uint8),
                                                 ("Int16Array", np.int16), ("Uint16Array", np.uint16),
                                                 ("Int32Array", np.int32)]
PARALLEL_FROM = 4 << 20  # bytes of a block deflated on two threads
LEVEL = 4  # gzip's level: on the 250k bench block 6 takes 5x as long (0.54 s) for 4% less, 9 longer still


def _typed(a: npt.NDArray[Any]) -> tuple[str, npt.NDArray[Any]]:
    """The smallest typed array that holds `a` exactly, and `a` in its dtype."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        if not len(a) or (np.all(np.isfinite(a)) and np.array_equal(a, np.round(a))
                          and a.min() >= np.iinfo(np.int32).min and a.max() <= np.iinfo(np.int32).max):
            a = a.astype(np.int64)
        else:
            return "Float64Array", a.astype("<f8")
    if a.dtype.kind in "iub":
        lo, hi = (int(a.min()), int(a.max())) if len(a) else (0, 0)
        for name, dt in _INTS:
            info = np.iinfo(dt)
            if info.min <= lo and hi <= info.max:
                return name, a.astype(np.dtype(dt).newbyteorder("<"))
        return "Float64Array", a.astype("<f8")  # exact up to 2**53, as the page's numbers are
    raise TypeError(f"cannot pack an array of {a.dtype}")


def _shuffled(a: npt.NDArray[Any]) -> bytes:
    """The array's bytes, byte-shuffled: all first bytes, then all second bytes, …"""
    size = a.dtype.itemsize
    raw = np.frombuffer(a.tobytes(), dtype=np.uint8)
    return raw.reshape(-1, size).T.tobytes() if size > 1 else raw.tobytes()


def pack(arrays: dict[str, npt.NDArray[Any]]) -> tuple[list[list[Any]], bytes]:
    """The manifest ([name, typed array, length] per array, in order) and the concatenated,
    shuffled bytes (uncompressed)."""
    manifest: list[list[Any]] = []
    parts: list[bytes] = []
    for name, a in arrays.items():
        kind, typed = _typed(a)
        manifest.append([name, kind, len(typed)])
        parts.append(_shuffled(typed))
    return manifest, b"".join(parts)


def compressed(raw: bytes) -> bytes:
    """gzip of the bytes, the same bytes on every run. A large block is deflated in two halves on
    two threads (zlib lets go of the GIL), joined into one deflate stream as pigz does: the first
    half ends on a byte boundary with a sync flush, and the second starts a block of its own
    (neither refers back into the other: a few bytes more than one stream)."""
    if len(raw) < PARALLEL_FROM:
        return gzip.compress(raw, compresslevel=LEVEL, mtime=0)
    view = memoryview(raw)
    halves = (view[:len(raw) // 2], view[len(raw) // 2:])

    def deflate(i: int) -> bytes:
        d = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate: the gzip frame is ours
        return d.compress(halves[i]) + d.flush(zlib.Z_SYNC_FLUSH if i == 0 else zlib.Z_FINISH)

    with ThreadPoolExecutor(2, thread_name_prefix="heapviz-deflate") as pool:
        body = b"".join(pool.map(deflate, (0, 1)))
    # RFC 1952: magic, deflate, no flags, mtime 0, no extra flags, OS unknown (as gzip.compress writes)
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return head + body + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)


def base64_text(gz: bytes) -> str:
    """The page's text of an already compressed block."""
    return base64.b64encode(gz).decode("ascii")


def checksum(raw: bytes) -> int:
    """CRC-32 of the uncompressed block, which the page checks (and tests compare) after decoding."""
    return zlib.crc32(raw)


def compiled() -> Any:
    """The compiled prefix tree, transitions and cut order (heapviz/report/_prefix.c), or None: not
    built, or turned off."""
    return _prefix if USE_COMPILED else None


def transitions(parent: npt.NDArray[np.integer[Any]], location: npt.NDArray[np.integer[Any]],
                n_locations: int) -> tuple[npt.NDArray[np.integer[Any]], ...]:
    """The tree's locations as (code per node, children per parent location, the children): node
    i's location is `children[start(p) + code[i]]` where p is its parent's location (-1: a root
    frame, slot 0 of the counts) and start(p) the sum of the counts before p's slot. Among one
    parent location's children, the most frequent is 0, then by location."""
    if not len(location):
        return np.zeros(0, np.int64), np.zeros(n_locations + 1, np.int64), np.zeros(0, np.int64)
    c = compiled()
    if c is not None:  # one counting sort by parent location, each bucket ranked on its own
        code = np.empty(len(location), np.int32)
        counts, children = c.transitions(np.ascontiguousarray(parent, dtype=np.int32),
                                         np.ascontiguousarray(location, dtype=np.int32), n_locations, code)
        return code, np.frombuffer(counts, dtype=np.int32), np.frombuffer(children, dtype=np.int32)
    return _transitions_numpy(parent, location, n_locations)


def _transitions_numpy(parent: npt.NDArray[np.integer[Any]], location: npt.NDArray[np.integer[Any]],
                       n_locations: int) -> tuple[npt.NDArray[np.integer[Any]], ...]:
    """transitions by numpy: the distinct (parent location, location) pairs, ranked by one sort."""
    # each node's parent's location + 1 (its slot; 0 for a root frame), in 16 bits where they fit
    small = n_locations < (1 << 16) - 1
    loc = location.astype(np.uint16) if small else location.astype(np.int64)
    parent_slot = loc[parent] + 1  # a root's (parent -1) is set to 0 below
    parent_slot[parent < 0] = 0
    slot, child, inverse, count = _pairs(parent_slot, loc, n_locations)
    del parent_slot, loc
    # per parent: most frequent first, then by location (the pairs come sorted by slot, then
    # location, so one stable sort by (slot, fewest first) keeps the location order among equals)
    most = int(count.max())
    order = np.argsort(slot.astype(np.int64) * (most + 1) + (most - count), kind="stable")
    rank = np.empty(len(slot), np.int32)
    sorted_slot = slot[order]
    first = np.ones(len(slot), np.bool_)
    first[1:] = sorted_slot[1:] != sorted_slot[:-1]
    positions = np.arange(len(slot))
    group_start = np.maximum.accumulate(np.where(first, positions, 0))
    rank[order] = positions - group_start
    counts = np.bincount(slot, minlength=n_locations + 1)
    return rank[inverse], counts, child[order]


def _pairs(a: npt.NDArray[np.integer[Any]], b: npt.NDArray[np.integer[Any]],
           n: int) -> tuple[npt.NDArray[np.integer[Any]], ...]:
    """The distinct (a, b) pairs (0 <= a <= n, 0 <= b < n) in ascending order, each element's pair and
    each pair's count: np.unique of a * n + b. Below 65,535 locations by two stable 16-bit sorts,
    numpy's radix sort (linear, about twice as fast as np.unique's comparison sort on millions of
    nodes)."""
    if n >= (1 << 16) - 1:
        pairs, inverse, count = np.unique(a.astype(np.int64) * n + b, return_inverse=True, return_counts=True)
        return pairs // n, pairs % n, inverse.reshape(-1), count
    a16, b16 = a.astype(np.uint16, copy=False), b.astype(np.uint16, copy=False)
    by_b = np.argsort(b16, kind="stable").astype(np.int32)  # 32 bits: millions of nodes, held below
    order = by_b[np.argsort(a16[by_b], kind="stable")]
    del by_b
    sa, sb = a16[order], b16[order]
    first = np.empty(len(order), np.bool_)
    first[:1] = True
    first[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])
    inverse = np.empty(len(order), np.int32)
    inverse[order] = np.cumsum(first, dtype=np.int32) - 1
    starts = np.flatnonzero(first)
    return (sa[starts].astype(np.int64), sb[starts].astype(np.int64), inverse,
            np.diff(np.append(starts, len(order))))
