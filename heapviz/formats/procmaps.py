"""Parse a /proc/self/maps copy (as gperftools and jemalloc append it) into Mappings.

Only executable mappings are kept: stack addresses can only point into code.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from heapviz.errors import InputError
from heapviz.model import Mapping

# start-end perms offset dev inode [path]; gperftools writes exactly this form.
_PROC_MAPS = re.compile(
    rb"^\s*([0-9a-fA-F]+)-([0-9a-fA-F]+)\s+([-rwxps]{4})\s+([0-9a-fA-F]+)\s+"
    rb"([0-9a-fA-F]+:[0-9a-fA-F]+)\s+(\d+)\s*(.*?)\s*$"
)
# The "brief" form pprof also accepts: start-end [perms] path [(@offset)]
_BRIEF_MAPS = re.compile(
    rb"^\s*([0-9a-fA-F]+)-([0-9a-fA-F]+)\s+(?:([-rwxps]{4})\s+)?(\S.*?)?\s*(?:\(@([0-9a-fA-F]+)\))?\s*$"
)
_ATTRIBUTE = re.compile(rb"^\s*\w+=.*$")


def parse_lines(lines: Iterable[tuple[int, bytes]], path: str) -> list[Mapping]:
    """Parse (line_no, line) pairs; raise InputError on a line that is not a mapping."""
    mappings: list[Mapping] = []
    for line_no, line in lines:
        if not line.strip() or _ATTRIBUTE.match(line):
            continue
        m = _PROC_MAPS.match(line)
        if m:
            start, limit = int(m.group(1), 16), int(m.group(2), 16)
            perms, offset, file = m.group(3), int(m.group(4), 16), m.group(7)
        else:
            b = _BRIEF_MAPS.match(line)
            if not b:
                shown = line[:60].decode("utf-8", "replace")
                raise InputError(path, f"malformed memory map line: {shown!r}", line_no)
            start, limit = int(b.group(1), 16), int(b.group(2), 16)
            perms = b.group(3) or b"r-xp"
            file = b.group(4) or b""
            offset = int(b.group(5), 16) if b.group(5) else 0
        if limit < start:
            raise InputError(path, "memory map line with end below start", line_no)
        if b"x" not in perms:
            continue
        mappings.append(
            Mapping(
                id=len(mappings) + 1,
                start=start,
                limit=limit,
                offset=offset,
                file=file.decode("utf-8", "surrogateescape"),
            )
        )
    mappings.sort(key=lambda mp: mp.start)
    for i, mp in enumerate(mappings):
        mp.id = i + 1
    return mappings


class MappingIndex:
    """Finds the mapping that contains an address."""

    def __init__(self, mappings: list[Mapping]) -> None:
        self._mappings = sorted(mappings, key=lambda m: m.start)
        self._starts = [m.start for m in self._mappings]

    def find(self, address: int) -> Mapping | None:
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0:
            m = self._mappings[i]
            if address < m.limit:
                return m
        return None
