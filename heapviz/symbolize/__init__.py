"""Symbolize a Profile's raw addresses against the binaries in its memory map.

Best effort: whatever cannot be symbolized gets `binary+0xoffset` frames and a warning on
the profile; nothing here raises for a missing or mismatched binary.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from heapviz.errors import ToolMissing
from heapviz.model import Function, Line, Location, Mapping, Profile, main_mapping
from heapviz.symbolize import debuginfod, elf, locate, raw
from heapviz.symbolize.cache import SymbolCache
from heapviz.symbolize.demangle import demangle
from heapviz.symbolize.tools import Frame, Symbolizer, SymbolizerFailed, fallback_symbolizer, find_symbolizer
from heapviz.symbolize.verify import count_non_call_sites, is_return_address, judged

_UNSYMBOLIZABLE_PREFIXES = ("[", "/dev/", "//anon", "/memfd:", "/SYSV", "/anon_hugepage")
_FAKE_LIMIT = (1 << 64) - 1


@dataclass(frozen=True)
class SymbolizeOptions:
    binary: str | None = None  # replaces the main program's path from the memory map
    symbol_path: tuple[str, ...] = ()
    tool: str = "auto"  # auto | llvm-symbolizer | addr2line | none
    timeout_s: float = 120.0  # per batch, plus a little per address; a hung symbolizer is killed
    cache_dir: str | None = None  # where symbolizer answers are kept between runs; None: no cache
    symbolizer: Symbolizer | None = field(default=None, compare=False)  # injected in tests


@dataclass
class MappingReport:
    """What happened to one mapping, for the report's list of binaries."""

    file: str
    symbol_file: str = ""
    debug_file: str = ""
    build_id: str = ""
    addresses: int = 0
    resolved: int = 0
    status: str = ""
    stripped: bool = False  # no symbol table, no debug info, no debug file: dynamic symbols only
    debuginfod_problem: str = ""  # why debuginfod gave no debug file, when it was asked


def _unsymbolizable(path: str) -> bool:
    return not path or path.startswith(_UNSYMBOLIZABLE_PREFIXES) or "(deleted)" in path


class _Builder:
    """Interns Functions so that equal (name, file) pairs share one object."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._by_key: dict[tuple[str, str], Function] = {(f.system_name, f.filename): f for f in profile.functions}

    def function(self, system_name: str, filename: str) -> Function:
        key = (system_name, filename)
        fn = self._by_key.get(key)
        if fn is None:
            fn = Function(
                id=len(self.profile.functions) + 1,
                name=demangle(system_name),
                system_name=system_name,
                filename=filename,
            )
            self.profile.functions.append(fn)
            self._by_key[key] = fn
        return fn

    def raw(self, loc: Location) -> None:
        m = loc.mapping
        if m is not None and m.file and m.limit != _FAKE_LIMIT:
            name = raw.placeholder(m, loc.address)
        else:
            name = f"0x{loc.address:x}"
        loc.lines = (Line(self.function(name, "")),)


def symbolize(profile: Profile, options: SymbolizeOptions = SymbolizeOptions()) -> list[MappingReport]:
    builder = _Builder(profile)
    by_mapping: dict[int, list[Location]] = defaultdict(list)
    unmapped: list[Location] = []
    if options.binary and not profile.mappings:
        # No memory map: assume a non-PIE binary loaded at its link addresses.
        fake = Mapping(id=1, start=0, limit=_FAKE_LIMIT, offset=0, file=options.binary)
        profile.mappings.append(fake)
        for loc in profile.locations:
            if not loc.lines:
                loc.mapping = fake
    for loc in profile.locations:
        if loc.lines:
            continue
        if loc.mapping is None:
            unmapped.append(loc)
        else:
            by_mapping[loc.mapping.id].append(loc)
    for loc in unmapped:
        builder.raw(loc)
    if unmapped:
        profile.warn(f"{len(unmapped)} stack addresses lie outside every executable mapping")

    reports: list[MappingReport] = []
    if options.tool == "none":
        for locs in by_mapping.values():
            for loc in locs:
                builder.raw(loc)
        profile.symbolized = False
        return reports

    tool: Symbolizer | None = options.symbolizer
    if tool is None:
        try:
            tool = find_symbolizer(inlines=True, prefer=options.tool, timeout_s=options.timeout_s)
        except ToolMissing as e:
            profile.warn(f"cannot symbolize: {e.message()}")
    main = main_mapping(profile)
    callers = is_return_address(profile)
    for mapping in profile.mappings:
        locs = by_mapping.get(mapping.id, [])
        if not locs:
            continue
        file = options.binary if (options.binary and mapping is main) else mapping.file
        rep = MappingReport(file=mapping.file, addresses=len(locs), build_id=mapping.build_id)
        reports.append(rep)
        if tool is None or _unsymbolizable(file):
            rep.status = "not symbolizable" if tool else "no symbolizer"
            for loc in locs:
                builder.raw(loc)
            continue
        _symbolize_mapping(profile, mapping, file, locs, options, tool, builder, rep, callers)
    _warn_stripped(profile, reports, main)
    profile.symbolized = True
    return reports


def _warn_stripped(profile: Profile, reports: list[MappingReport], main: Mapping | None) -> None:
    """One warning per stripped object file that left addresses unnamed (or is the main program):
    what is missing and the ways to get it."""
    from heapviz.prune import ALLOCATOR_LIBRARIES  # here: heapviz.prune imports this package

    by_file: dict[str, list[MappingReport]] = defaultdict(list)
    for rep in reports:
        if rep.stripped:
            by_file[rep.symbol_file].append(rep)
    main_file = main.symbol_file if main is not None else ""
    for path, reps in by_file.items():
        total = sum(r.addresses for r in reps)
        unnamed = total - sum(r.resolved for r in reps)
        name = os.path.basename(path)
        if (not unnamed and path != main_file) or ALLOCATOR_LIBRARIES.match(name):
            continue  # an allocator's frames are dropped by their mapping: their names do not matter
        bid = next((r.build_id for r in reps if r.build_id), "")
        asked = next((r.debuginfod_problem for r in reps if r.debuginfod_problem), "")
        ways = ["install its debug symbols (on Debian its -dbgsym package, which puts them under "
                "/usr/lib/debug/.build-id/)", "give its debug file (or a directory of them) with --symbol-path DIR"]
        if not asked:
            ways.append("set DEBUGINFOD_URLS to fetch it by build id" + (f" {bid}" if bid else "")
                        + " (needs debuginfod-find, Debian package debuginfod)")
        what = "names come from its dynamic symbols (exported functions) only, without inline frames or lines"
        if unnamed:
            what += (f", and {unnamed} of its {total} addresses have no name (shown as {raw.group_name(name)}, "
                     f"or {name}+0xOFFSET in stacks)")
        profile.warn(f"{path} is stripped (no symbol table, no debug info) and no debug file was found for it"
                     f"{f' ({asked})' if asked else ''}: {what}; to fix, {'; or '.join(ways)}")


def _symbolize_mapping(
    profile: Profile,
    mapping: Mapping,
    file: str,
    locs: list[Location],
    options: SymbolizeOptions,
    tool: Symbolizer,
    builder: _Builder,
    rep: MappingReport,
    callers: set[int] | None,
) -> None:
    info, problems = locate.find_binary(file, mapping.build_id, options.symbol_path)
    fix = "give it with --binary (main program) or --symbol-path DIR"
    if info is None:
        why = "; ".join(problems) if problems else f"{file} not found"
        profile.warn(f"cannot symbolize {mapping.basename or file}: {why}; its frames are shown as "
                     f"{mapping.basename}+0xOFFSET; {fix}")
        rep.status = "missing"
        for loc in locs:
            builder.raw(loc)
        return
    rep.symbol_file = info.path
    rep.build_id = mapping.build_id or info.build_id
    mapping.symbol_file = info.path
    if not mapping.build_id:
        mapping.build_id = info.build_id
    base = elf.load_base(mapping, info)
    if base is None:
        profile.warn(f"{info.path} has no loadable segment at file offset 0x{mapping.offset:x}: "
                     f"it is not the binary that was profiled; {fix}")
        rep.status = "mismatch"
        for loc in locs:
            builder.raw(loc)
        return
    debug = _debug_file(profile, info, options, rep)
    target = debug.path if debug else info.path
    rep.debug_file = debug.path if debug else ""
    mini = _minidebuginfo(profile, info) if not (debug or info.has_symtab or info.has_debug_info) else []
    stripped = not info.has_debug_info and not debug and not info.has_symtab and not mini
    rep.stripped = stripped
    if mapping.start == 0 and mapping.limit == _FAKE_LIMIT:
        # No memory map: only addresses inside the binary's code can be its frames; the rest
        # (libc, other libraries) stay raw rather than being misnamed after the binary's symbols.
        inside: list[Location] = []
        outside: list[Location] = []
        for loc in locs:
            (inside if elf.in_executable_segment(loc.address - base, info) else outside).append(loc)
        for loc in outside:
            builder.raw(loc)
        if outside:
            profile.warn(f"{len(outside)} addresses lie outside {os.path.basename(info.path)}'s code and there is "
                         "no memory map to place them: they are shown as raw addresses")
        locs = inside
        if not locs:
            return
    vaddrs = sorted({loc.address - base for loc in locs})
    cache = SymbolCache(options.cache_dir) if options.cache_dir else None
    cache_key = cache.key(info, target, tool.name) if cache else ""
    cached = cache.load(cache_key) if cache else {}
    missing = [v for v in vaddrs if v not in cached]
    try:
        answers = dict(cached)
        if missing:
            answers.update(tool.symbolize(target, missing))
            if cache:
                cache.store(cache_key, answers)
    except SymbolizerFailed as e:
        fallback = fallback_symbolizer(tool)
        answers = {}
        if fallback is not None:
            try:
                answers = fallback.symbolize(target, vaddrs)
                profile.warn(f"{tool.name} failed on {target} ({e}); used {fallback.name} instead")
            except SymbolizerFailed:
                fallback = None
        if fallback is None:
            profile.warn(f"symbolizing {target} failed: {e}; its frames are shown as {mapping.basename}+0xOFFSET")
            rep.status = "symbolizer failed"
            for loc in locs:
                builder.raw(loc)
            return
    if mini:
        answers = _name_from(mini, vaddrs, answers)
    resolved = 0
    for loc in locs:
        frames: list[Frame] = answers.get(loc.address - base, [])
        if not frames:
            builder.raw(loc)
            continue
        resolved += 1
        loc.lines = tuple(Line(builder.function(fn, path), line, col) for fn, path, line, col in frames)
    rep.resolved = resolved
    mapping.has_functions = resolved > 0
    rep.status = ("symbolized (dynamic symbols only)" if stripped else
                  "symbolized (MiniDebugInfo symbols)" if mini else "symbolized")
    calls = sorted({loc.address - base for loc in judged(locs, callers)})
    _check_match(profile, mapping, info, vaddrs, calls, resolved, len(locs), rep, fix)


def _debug_file(profile: Profile, info: elf.ElfInfo, options: SymbolizeOptions,
                rep: MappingReport) -> elf.ElfInfo | None:
    """The separate debug file of a binary without DWARF: on disk, else from debuginfod."""
    if info.has_debug_info:
        return None
    debug, problems = locate.find_debug_file(info, options.symbol_path)
    for problem in problems:
        profile.warn(f"ignored a debug file of {os.path.basename(info.path)}: {problem}")
    if debug is not None or not info.build_id or not debuginfod.enabled():
        return debug
    path, problem = debuginfod.fetch_debuginfo(info.build_id, min(options.timeout_s, DEBUGINFOD_TIMEOUT_S))
    if path:
        debug, problem = locate.check_debug_file(info, path)
        if problem:
            problem = f"debuginfod's file is unusable: {problem}"
    if problem:
        rep.debuginfod_problem = problem
    return debug


DEBUGINFOD_TIMEOUT_S = 120.0  # per debug file fetched; a slow or dead server is asked no more


def _minidebuginfo(profile: Profile, info: elf.ElfInfo) -> list[elf.FunctionSymbol]:
    """The MiniDebugInfo function symbols of a stripped binary (`.gnu_debugdata`), or []."""
    if not info.has_debugdata:
        return []
    try:
        return elf.minidebuginfo_symbols(info.path)
    except (elf.BadDebugData, elf.NotElf, OSError) as e:
        profile.warn(f"{e}; its static functions stay unnamed")
        return []


def _name_from(symbols: list[elf.FunctionSymbol], vaddrs: list[int],
               answers: dict[int, list[Frame]]) -> dict[int, list[Frame]]:
    """answers, with the addresses that lie in one of `symbols` named after it: MiniDebugInfo
    holds the functions that stripping hid (a symbolizer names them after the nearest dynamic
    symbol, or not at all)."""
    out = dict(answers)
    starts = [s.start for s in symbols]
    for v in vaddrs:
        i = bisect_right(starts, v) - 1
        first = starts[i] if i >= 0 else -1
        while i >= 0 and starts[i] == first:  # aliases share a start: any that covers v
            if v < symbols[i].start + symbols[i].size:
                out[v] = [(symbols[i].name, "", 0, 0)]
                break
            i -= 1
    return out


def _check_match(
    profile: Profile,
    mapping: Mapping,
    info: elf.ElfInfo,
    vaddrs: list[int],
    calls: list[int],
    resolved: int,
    total: int,
    rep: MappingReport,
    fix: str,
) -> None:
    """Warn when the binary on disk is probably not the one that was profiled. `calls` are the
    vaddrs that are return addresses moved back onto their call (a CPU sample's leaf is not)."""
    name = os.path.basename(info.path)
    outside = sum(1 for v in vaddrs if not elf.in_executable_segment(v, info))
    unresolved = total - resolved
    non_call = count_non_call_sites(info, calls)
    reasons = []
    if outside:
        reasons.append(f"{outside} of {len(vaddrs)} addresses lie outside its code")
    # A stripped library (Debian's libjemalloc) names only its exported functions: addresses in
    # its static functions resolve to nothing, which says nothing about the build.
    if unresolved > max(2, total // 10) and (info.has_symtab or info.has_debug_info):
        reasons.append(f"{unresolved} of {total} addresses lie outside any function")
    if non_call is not None and non_call > max(2, len(calls) // 5):
        reasons.append(f"{non_call} of {len(calls)} return addresses do not follow a call instruction")
    if reasons:
        rep.status = "mismatch?"
        profile.warn(f"{name} looks like a different build than the profiled one ({'; '.join(reasons)}); "
                     f"frames may be misnamed; {fix}")
