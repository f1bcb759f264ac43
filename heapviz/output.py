"""Write output files atomically, so that a failed or interrupted run never leaves a
half-written file or a stray temporary file behind. Says nothing itself: it returns what it
wrote, and cli.py tells the user."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass

from heapviz.errors import OutputError


@dataclass(frozen=True)
class Written:
    """One file a run wrote, with the bytes that went into it (to describe it afterwards)."""

    path: str
    data: bytes

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def _encode(data: str | bytes) -> bytes:
    # Names decoded with surrogateescape (invalid UTF-8 in a binary) become U+FFFD, not a crash.
    return data.encode("utf-8", "replace") if isinstance(data, str) else data


def write(path: str | None, data: str | bytes) -> list[Written]:
    """Write to `path` (stdout when None or "-") via a temporary file and a rename; the file
    written, if any (stdout is not a file)."""
    return write_all([(path, data)])


def write_all(outputs: list[tuple[str | None, str | bytes]]) -> list[Written]:
    """Write every output or none: all go to temporary files in their target folders first,
    and are renamed into place only when all were written. Returns the files written, in the
    order given; what went to stdout is not among them."""
    staged: list[tuple[str, str]] = []
    written: list[Written] = []
    try:
        for path, data in outputs:
            if path is None or path == "-":
                continue
            if os.path.isdir(path):
                raise OutputError(path, "is a directory")
            directory = os.path.dirname(os.path.abspath(path))
            try:
                fd, tmp = tempfile.mkstemp(prefix=".heapviz-", suffix=".tmp", dir=directory)
            except OSError as e:
                raise OutputError(path, f"cannot write: {e.strerror or e}") from e
            staged.append((tmp, path))
            encoded = _encode(data)
            written.append(Written(path, encoded))
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(encoded)
                os.chmod(tmp, 0o644)
            except OSError as e:
                raise OutputError(path, f"cannot write: {e.strerror or e}") from e
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise OutputError(path, f"cannot write: {e.strerror or e}") from e
        staged = []
    finally:
        # Also on KeyboardInterrupt and SIGTERM (which cli.main turns into an exception).
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    for path, data in outputs:
        if path is None or path == "-":
            sys.stdout.buffer.write(_encode(data))
            sys.stdout.flush()
    return written
