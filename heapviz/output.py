"""Write output files atomically, so that a failed or interrupted run never leaves a
half-written file or a stray temporary file behind."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from heapviz.errors import OutputError


def _encode(data: str | bytes) -> bytes:
    # Names decoded with surrogateescape (invalid UTF-8 in a binary) become U+FFFD, not a crash.
    return data.encode("utf-8", "replace") if isinstance(data, str) else data


def write(path: str | None, data: str | bytes) -> None:
    """Write to `path` (stdout when None or "-") via a temporary file and a rename."""
    write_all([(path, data)])


def write_all(outputs: list[tuple[str | None, str | bytes]]) -> None:
    """Write every output or none: all go to temporary files in their target folders first,
    and are renamed into place only when all were written."""
    staged: list[tuple[str, str]] = []
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
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(_encode(data))
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
