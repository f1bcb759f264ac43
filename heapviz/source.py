"""pprof's `list`: per-line flat and cum of the functions a regex names, and the source files
they come from (found along a search path, build-machine prefixes trimmed). No formatting here:
render/listing.py prints what this module returns.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from heapviz import dwarf_dirs
from heapviz.graph.nodes import FrameMapper, NodeInfo, NodeOptions
from heapviz.model import Sample, Value

DEFAULT_CONTEXT = 4  # lines shown around each line with values
MAX_SOURCE_BYTES = 64 << 20  # a "source file" bigger than this is not read (a log, a disk image)
_PROC_CWD = ("/proc/self/cwd/./", "/proc/self/cwd/")


@dataclass(frozen=True)
class SourceOptions:
    source_path: tuple[str, ...] = ()  # directories searched, each with its parents; () = the current one
    trim_path: tuple[str, ...] = ()  # prefixes cut from recorded paths before searching

    def search_dirs(self) -> tuple[str, ...]:
        return self.source_path or (os.getcwd(),)


def split_dirs(values: Iterable[str]) -> tuple[str, ...]:
    """`--source-path a:b --source-path c` as (a, b, c)."""
    return tuple(d for v in values for d in v.split(os.pathsep) if d)


def clean(path: str) -> str:
    """A recorded path as pprof keys files: /proc/self/cwd/ and ./ removed, `..` folded."""
    for prefix in _PROC_CWD:
        if path.startswith(prefix):
            path = path[len(prefix):]
            break
    return os.path.normpath(path) if path else ""


def trim(path: str, options: SourceOptions) -> str:
    """pprof's trimPath: cut a configured prefix; without one, cut everything up to the base name
    of a search directory found in the path (/build/x/proj/src/a.c with proj searched: src/a.c)."""
    if not options.trim_path:
        for d in options.search_dirs():
            want = "/" + os.path.basename(os.path.normpath(d)) + "/"
            found = path.find(want)
            if found != -1 and want != "//":
                return path[found + len(want):]
    for prefix in (*options.trim_path, *_PROC_CWD):
        if not prefix.endswith("/"):
            prefix += "/"
        if path.startswith(prefix):
            return path[len(prefix):]
    return path


@dataclass
class Located:
    path: str | None  # the file read, or None
    searched: list[str]  # where it was looked for, for the "not found" message


def locate(recorded: str, options: SourceOptions) -> Located:
    """Where a recorded source path is on this machine: trimmed, then tried under each search
    directory and each of its parents (pprof's order); the recorded path as written comes last."""
    rel = trim(recorded, options)
    searched: list[str] = []
    if os.path.isabs(rel):
        searched.append(rel)
        return Located(rel if os.path.exists(rel) else None, searched)
    for d in options.search_dirs():
        d = os.path.abspath(d)
        while True:
            cand = os.path.join(d, rel)
            searched.append(cand)
            if os.path.exists(cand):
                return Located(cand, searched)
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    if os.path.isabs(recorded) and recorded not in searched:
        searched.append(recorded)
        if os.path.exists(recorded):
            return Located(recorded, searched)
    return Located(None, searched)


def read_lines(path: str) -> tuple[list[str] | None, str]:
    """A source file's lines (line 1 at index 0), or None and why. Only regular files up to
    MAX_SOURCE_BYTES are read; bytes that are not UTF-8 are kept as surrogates (shown as \\xNN)."""
    try:
        # O_NONBLOCK: a FIFO in place of a source file must not hang the run
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None, f"{path} is not a regular file"
            if st.st_size > MAX_SOURCE_BYTES:
                return None, f"{path} is too big to be a source file ({st.st_size} bytes)"
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as e:
        return None, f"cannot read {path}: {e.strerror or e}"
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # as Go's line scanner (pprof): a line's trailing \r is not part of it
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines], ""


@dataclass
class LineValues:
    flat: Value = 0
    cum: Value = 0


@dataclass
class Routine:
    """One function in one source file: its lines with values, before any source is read."""

    name: str
    file: str  # as recorded (cleaned); "" when the symbolizer gave no file
    lines: dict[int, LineValues] = field(default_factory=dict)
    binaries: set[str] = field(default_factory=set)  # the ELF files its frames were symbolized from
    flat: Value = 0
    cum: Value = 0


def routines(samples: Sequence[Sample], sample_index: int, regex: re.Pattern[str],
             node_options: NodeOptions) -> list[Routine]:
    """Per function matching `regex` (searched in its name as `top` prints it) and per source
    file: each line's flat (samples whose leaf frame is there) and cum (samples with a frame
    there, once per sample), as pprof's graph at line granularity. The frame of a function that
    inlined a callee is the call site's line, so inlined code counts at the call site."""
    mapper = FrameMapper(NodeOptions("lines", node_options.demangle, node_options.inlines))
    matches: dict[str, bool] = {}
    flat: dict[tuple[NodeInfo, str], Value] = {}
    cum: dict[tuple[NodeInfo, str], Value] = {}
    for s in samples:
        v = s.values[sample_index]
        if v == 0:
            continue
        seen: set[tuple[NodeInfo, str]] = set()
        leaf = True
        for loc in s.locations:
            m = loc.mapping
            binary = (m.symbol_file or m.file) if m is not None else ""
            for fr in mapper.frames(loc):
                name = fr.node.name
                ok = matches.get(name)
                if ok is None:
                    ok = matches[name] = bool(regex.search(name))
                if ok:
                    key = (fr.node, binary)
                    if leaf:
                        flat[key] = flat.get(key, 0) + v
                    if key not in seen:
                        seen.add(key)
                        cum[key] = cum.get(key, 0) + v
                leaf = False
            leaf = False  # a location without frames is still the leaf (pprof: a node of its own)
    out: dict[tuple[str, str], Routine] = {}
    for key, c in cum.items():
        node, binary = key
        file = clean(node.file)
        r = out.get((node.name, file))
        if r is None:
            r = out[(node.name, file)] = Routine(node.name, file)
        lv = r.lines.setdefault(node.line, LineValues())
        f = flat.get(key, 0)
        lv.flat += f
        lv.cum += c
        r.flat += f
        r.cum += c
        if binary:
            r.binaries.add(binary)
    # pprof: by function name, then by file
    return sorted((r for r in out.values() if r.flat or r.cum), key=lambda r: (r.name, r.file))


@dataclass
class ShownLine:
    line: int
    flat: Value
    cum: Value
    text: str | None  # None: the source is missing, or the line is past its end


@dataclass
class Listing:
    routine: Routine
    rows: list[ShownLine]  # in line order; a jump in line numbers is a gap (`. . .`)
    source: str | None  # the file read
    missing: str = ""  # why no source is shown: "source not found: …"
    warnings: list[str] = field(default_factory=list)


class SourceReader:
    """Finds and reads each source file once."""

    def __init__(self, options: SourceOptions) -> None:
        self.options = options
        self._files: dict[tuple[str, tuple[str, ...]], tuple[str | None, list[str] | None, str]] = {}

    def get(self, recorded: str, binaries: Iterable[str] = ()) -> tuple[str | None, list[str] | None, str]:
        """(the file read, its lines, why not) for a recorded path; a relative one not found along
        the search path is tried under the compilation directories of the `binaries` it came from."""
        key = (recorded, tuple(sorted(binaries)))
        got = self._files.get(key)
        if got is None:
            found = locate(recorded, self.options)
            if found.path is None:
                for cand in dwarf_dirs.candidates(recorded, key[1]):
                    found.searched.append(cand)
                    if os.path.exists(cand):
                        found.path = cand
                        break
            if found.path is None:
                why = (f"source not found: {recorded} (use --source-path; searched "
                       f"{_searched_text(found.searched)})")
                got = (None, None, why)
            else:
                lines, why = read_lines(found.path)
                got = (found.path, lines, f"source not read: {why}" if lines is None else "")
            self._files[key] = got
        return got


def _searched_text(searched: list[str]) -> str:
    if len(searched) > 6:
        return ", ".join(searched[:5]) + f" and {len(searched) - 5} more"
    return ", ".join(searched)


def listing(routine: Routine, reader: SourceReader, context: int = DEFAULT_CONTEXT) -> Listing:
    """The rows to print for a routine: each line with values and `context` lines on either side;
    without its source, just the lines with values."""
    if not routine.file:
        rows = [ShownLine(n, v.flat, v.cum, None) for n, v in sorted(routine.lines.items())]
        return Listing(routine, rows, None, "no source information: the symbolizer gave no file")
    path, lines, missing = reader.get(routine.file, routine.binaries)
    valued = sorted(routine.lines)
    if lines is None:
        rows = [ShownLine(n, routine.lines[n].flat, routine.lines[n].cum, None) for n in valued]
        return Listing(routine, rows, path, missing)
    shown: set[int] = set()
    for n in valued:
        if n <= 0:
            shown.add(n)
            continue
        lo, hi = max(1, n - context), min(len(lines), n + context)
        shown.update(range(lo, hi + 1))
        shown.add(n)  # past the end of the file: shown, without text
    rows = []
    for n in sorted(shown):
        v = routine.lines.get(n)
        text = lines[n - 1] if 1 <= n <= len(lines) else None
        rows.append(ShownLine(n, v.flat if v else 0, v.cum if v else 0, text))
    warnings = []
    past = [n for n in valued if n > len(lines)]
    if past:
        warnings.append(f"{path} has {len(lines)} lines but {routine.name} has values on line {past[0]}: "
                        "the source does not match the binary")
    stale = _newer_than_binary(path, routine.binaries) if path else ""
    if stale:
        warnings.append(stale)
    return Listing(routine, rows, path, "", warnings)


def _newer_than_binary(path: str, binaries: set[str]) -> str:
    try:
        src = os.stat(path).st_mtime
    except OSError:
        return ""
    for b in sorted(binaries):
        try:
            if src > os.stat(b).st_mtime:
                return f"{path} is newer than {b}: lines may have moved since it was built"
        except OSError:
            continue
    return ""
