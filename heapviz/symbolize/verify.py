"""Check that profile addresses fit a binary: every heap-profile frame is a return address,
so on x86-64 the bytes just before it must encode a call instruction. A CPU sample's leaf is
where the signal hit, any instruction: only its callers are judged.
"""

from __future__ import annotations

import mmap

from heapviz.model import Location, Profile
from heapviz.symbolize.elf import ElfInfo


def is_return_address(profile: Profile) -> set[int] | None:
    """The ids (id()) of the locations that are return addresses moved back onto their call, or
    None when every location is (heap profiles, whose leaf is a call into the allocator). For CPU
    profiles, those that are a caller in some stack; a location that is only ever a leaf is not."""
    if profile.profile_kind.leaf_is_return_address:
        return None
    callers: set[int] = set()
    for s in profile.samples:
        callers.update(map(id, s.locations[1:]))
    return callers


def judged(locations: list[Location], callers: set[int] | None) -> list[Location]:
    """The locations whose addresses must follow a call instruction."""
    return locations if callers is None else [loc for loc in locations if id(loc) in callers]


def _is_call_before(buf: bytes | mmap.mmap, r: int) -> bool:
    """Does an x86-64 call instruction end at offset r of buf?"""
    if r >= 5 and buf[r - 5] == 0xE8:  # call rel32
        return True
    # call r/m64: opcode ff with ModRM reg field 2, instruction 2..8 bytes long.
    for k in range(2, 9):
        if r >= k and buf[r - k] == 0xFF and (buf[r - k + 1] >> 3) & 7 == 2:
            return True
    return False


def count_non_call_sites(info: ElfInfo, vaddrs: list[int]) -> int | None:
    """How many of the (return address - 1) vaddrs do not follow a call; None if unknown."""
    if info.machine != "EM_X86_64" or not vaddrs:
        return None
    try:
        with open(info.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            bad = 0
            for v in vaddrs:
                r = v + 1
                for seg in info.segments:
                    if seg.executable and seg.vaddr <= v < seg.vaddr + seg.filesz:
                        off = r - seg.vaddr + seg.offset
                        if off > len(mm) or not _is_call_before(mm, off):
                            bad += 1
                        break
            return bad
    except (OSError, ValueError):
        return None
