"""Input formats: open a profile (file, stdin, gzip), sniff its format by content, parse it.

Each format module provides `NAME`, `sniff(head: bytes) -> bool` and
`parse(reader: LineReader) -> Profile`. The registry is ordered most specific first.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, BinaryIO, cast

from heapviz.errors import HeapvizError, InputError, UnrecognizedFormat
from heapviz.sample_table import as_table
from heapviz.formats import go_heap, gperftools_cpu, gperftools_heap, heapcheck_log, jemalloc_heap, pprof_proto
from heapviz.formats import valgrind_massif, valgrind_memcheck, valgrind_memcheck_xml
from heapviz.model import Profile

# Most specific first: both heap formats are told by their first line; the heap-checker log is
# free text recognized by its own lines anywhere in the first 4 KiB, so it comes last. The
# protobuf format is binary and sniffed by its wire structure, which no text passes, so it goes
# first; Go's text heap profile is gperftools' `@ heap/N` plus `#` frame comments, so it goes
# before gperftools'. gperftools' CPU profile is binary too and told by its header of machine
# words (a zero word, then the header's length), which neither protobuf nor text starts with.
FORMATS: dict[str, ModuleType] = {
    pprof_proto.NAME: pprof_proto,
    gperftools_cpu.NAME: gperftools_cpu,
    go_heap.NAME: go_heap,
    gperftools_heap.NAME: gperftools_heap,
    jemalloc_heap.NAME: jemalloc_heap,
    # Valgrind memcheck: the XML by its root element, the text log by its `==PID==` lines anywhere
    # in the first 4 KiB (which no heap-checker log has).
    valgrind_memcheck_xml.NAME: valgrind_memcheck_xml,
    valgrind_memcheck.NAME: valgrind_memcheck,
    valgrind_massif.NAME: valgrind_massif,  # its first line: `desc:`
    heapcheck_log.NAME: heapcheck_log,
}

DEFAULT_MAX_LINE = 1 << 20  # bytes; longer lines are refused without reading them whole
DEFAULT_MAX_INPUT = 1 << 30  # decompressed bytes


@dataclass(frozen=True)
class ReadLimits:
    max_line_bytes: int = DEFAULT_MAX_LINE
    max_input_bytes: int = DEFAULT_MAX_INPUT
    thread: int | None = None  # jemalloc: read only this thread's values (--thread); None = all threads


class LineReader:
    """Streams lines of a (possibly gzipped) input with 1-based line numbers and limits.

    Lines are returned as bytes without their line end (LF or CRLF). `truncated` is set when
    the input ended without a final newline, which parsers use to tell a cut file.
    """

    def __init__(self, stream: BinaryIO, path: str, limits: ReadLimits) -> None:
        self.path = path
        self.limits = limits
        self.line_no = 0
        self.bytes_read = 0
        self.missing_final_newline = False
        self._stream = stream

    def error(self, what: str, line: int | None = None) -> InputError:
        return InputError(self.path, what, self.line_no if line is None else line)

    def _readline(self) -> bytes:
        limit = self.limits.max_line_bytes + 2
        try:
            raw = self._stream.readline(limit)
        except (OSError, EOFError, zlib.error) as e:
            raise self.error(f"cannot read: {_describe(e)}", self.line_no + 1) from e
        self.bytes_read += len(raw)
        if self.bytes_read > self.limits.max_input_bytes:
            raise self.error(
                f"input larger than --max-input-size ({self.limits.max_input_bytes} bytes)",
                0,
            )
        if len(raw) >= limit and not raw.endswith(b"\n"):
            raise self.error(
                f"line longer than the limit of {self.limits.max_line_bytes} bytes",
                self.line_no + 1,
            )
        return raw

    def __iter__(self) -> Iterator[bytes]:
        return self

    def fast_lines(self) -> Iterator[bytes]:
        """The remaining lines, like iterating the reader, with less work per line: for the
        hot loops of big text profiles. `line_no` is kept current."""
        readline = self._stream.readline
        limit = self.limits.max_line_bytes + 2
        budget = self.limits.max_input_bytes - self.bytes_read
        n = self.line_no
        try:
            while True:
                raw = readline(limit)
                if not raw:
                    break
                budget -= len(raw)
                n += 1
                self.line_no = n
                if raw[-1] == 10:  # b"\n"
                    raw = raw[:-2] if raw[-2:-1] == b"\r" else raw[:-1]
                else:
                    if len(raw) >= limit:
                        raise self.error(f"line longer than the limit of {self.limits.max_line_bytes} bytes")
                    self.missing_final_newline = True
                    raw = raw.rstrip(b"\r")
                if budget < 0:
                    raise self.error(
                        f"input larger than --max-input-size ({self.limits.max_input_bytes} bytes)", 0)
                yield raw
        except (OSError, EOFError, zlib.error) as e:
            raise self.error(f"cannot read: {_describe(e)}", n + 1) from e
        finally:
            self.bytes_read = self.limits.max_input_bytes - budget

    def __next__(self) -> bytes:
        raw = self._readline()
        if not raw:
            raise StopIteration
        self.line_no += 1
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        else:
            self.missing_final_newline = True
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        return raw

    def read_lines(self, size: int) -> bytes:
        """About `size` bytes of whole lines (more if a line straddles that size), with their
        line ends; b"" at the end. The input's last line may lack its newline, and then
        `missing_final_newline` is set. Lines are not counted: the caller adds them to `line_no`."""
        limit = self.limits.max_line_bytes + 2
        try:
            data = self._stream.read(size)
            if data and data[-1] != 10:
                tail = self._stream.readline(limit)
                if len(tail) >= limit and tail[-1] != 10:
                    raise self.error(f"line longer than the limit of {self.limits.max_line_bytes} bytes",
                                     self.line_no + data.count(b"\n") + 1)
                data += tail
        except (OSError, EOFError, zlib.error) as e:
            raise self.error(f"cannot read: {_describe(e)}", self.line_no + 1) from e
        self.bytes_read += len(data)
        if self.bytes_read > self.limits.max_input_bytes:
            raise self.error(f"input larger than --max-input-size ({self.limits.max_input_bytes} bytes)", 0)
        if data and data[-1] != 10:
            self.missing_final_newline = True
        return data

    def unread(self, data: bytes) -> None:
        """Put bytes read by read_lines() back in front of the rest of the input."""
        if data:
            self.bytes_read -= len(data)
            self._stream = cast(BinaryIO, io.BufferedReader(_Prepended(data, self._stream), 1 << 16))

    def read_bytes(self) -> bytes:
        """The rest of the input as bytes, for binary formats (protobuf), within --max-input-size."""
        limit = self.limits.max_input_bytes - self.bytes_read
        try:
            data = self._stream.read(limit + 1)
        except (OSError, EOFError, zlib.error) as e:
            raise self.error(f"cannot read: {_describe(e)}", 0) from e
        self.bytes_read += len(data)
        if len(data) > limit:
            raise self.error(f"input larger than --max-input-size ({self.limits.max_input_bytes} bytes)", 0)
        return data



class _Prepended(io.RawIOBase):
    """Bytes given back by LineReader.unread(), then the stream they came from."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    if isinstance(e, (EOFError, gzip.BadGzipFile, zlib.error)):
        return f"corrupt gzip data ({e})"
    return str(e) or type(e).__name__


def _open_stream(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    if "://" in path:
        from heapviz.fleet import is_url, open_url  # fsspec is optional and slow to import

        if is_url(path):
            return open_url(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError(path, _describe(e)) from e
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, "is a directory, not a profile")
    try:
        return open(path, "rb")
    except OSError as e:
        raise InputError(path, _describe(e)) from e


def _peek(stream: BinaryIO, n: int) -> bytes:
    peek = getattr(stream, "peek", None)
    if peek is None:
        raise TypeError("stream must support peek()")
    data: bytes = peek(n)
    return data[:n]


def load(path: str, limits: ReadLimits = ReadLimits()) -> Profile:
    """Open, sniff and parse one profile; raise InputError for anything wrong with it. A file
    that holds a series (several snapshots) gives its last."""
    return load_series(path, limits)[-1]


def load_series(path: str, limits: ReadLimits = ReadLimits()) -> list[Profile]:
    """Open, sniff and parse a file: one profile, or the series of profiles a format may hold in
    one file (a format module with `parse_series`), in order, each numbered by its place."""
    raw = _open_stream(path)
    try:
        return load_stream_series(raw, path, limits)
    finally:
        if raw is not sys.stdin.buffer:
            raw.close()


def load_bytes(data: bytes, path: str = "<bytes>", limits: ReadLimits = ReadLimits()) -> Profile:
    """Parse a profile held in memory (tests, fuzzing, embedding)."""
    return load_stream(cast(BinaryIO, io.BufferedReader(io.BytesIO(data))), path, limits)


def load_stream(raw: BinaryIO, path: str, limits: ReadLimits = ReadLimits()) -> Profile:
    """Sniff and parse a profile from a stream that supports peek() (the last of a series)."""
    return load_stream_series(raw, path, limits)[-1]


def load_stream_series(raw: BinaryIO, path: str, limits: ReadLimits = ReadLimits()) -> list[Profile]:
    """Sniff and parse a stream that supports peek(): its profile, or its series of profiles."""
    stream, fmt = _sniff(raw, path)
    reader = LineReader(stream, path, limits)
    series = getattr(fmt, "parse_series", None)
    profiles: list[Profile] = series(reader) if series is not None else [fmt.parse(reader)]
    if not profiles:
        raise InputError(path, f"holds no {fmt.NAME} profile")
    numbering = getattr(fmt, "dump_sequence", None)  # formats whose producers number dumps in file names
    for k, profile in enumerate(profiles):
        profile.source = path
        if numbering is not None and profile.sequence is None:
            profile.sequence, profile.sequence_text = numbering(path)
        if len(profiles) > 1 and profile.sequence is None:
            profile.sequence, profile.sequence_text = k + 1, f"snapshot {k + 1} of {len(profiles)}"
        if limits.thread is not None and not getattr(fmt, "SUPPORTS_THREAD", False):
            profile.warn(f"--thread applies to jemalloc profiles only; ignored for this {fmt.NAME} profile")
        profile.samples = as_table(profile.samples)  # the columnar table every view reads
        profile.validate()
    return profiles


def _sniff(raw: BinaryIO, path: str) -> tuple[BinaryIO, ModuleType]:
    """The stream to parse (decompressing a gzipped one) and the format its first bytes show."""
    stream: BinaryIO = raw
    try:
        magic = _peek(stream, 2)
    except OSError as e:
        raise InputError(path, f"cannot read: {_describe(e)}") from e
    if magic == b"\x1f\x8b":
        stream = cast(BinaryIO, io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), 1 << 16))
    try:
        head = _peek(stream, 4096)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(path, f"cannot read: {_describe(e)}") from e
    if not head.strip():
        raise InputError(path, "empty file: no profile in it")
    for fmt in FORMATS.values():
        if fmt.sniff(head):
            return stream, fmt
    raise UnrecognizedFormat(
        path,
        "unrecognized profile format (heapviz reads: " + ", ".join(m.DESCRIPTION for m in FORMATS.values()) + ")",
    )


def parsed_natively(path: str) -> bool:
    """Whether the file is read by compiled code (a gperftools text profile, with the compiled
    scanner built): then parsing it costs about what sending the profile between processes
    does. False for anything else, unreadable files included."""
    if path == "-" or not gperftools_heap.uses_scanner():
        return False
    try:
        with open(path, "rb") as raw:
            return _sniff(raw, path)[1] is gperftools_heap
    except (HeapvizError, OSError):
        return False
