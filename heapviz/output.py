"""Write output files atomically, so that a failed run never leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from heapviz.errors import OutputError


def write(path: str | None, data: str | bytes) -> None:
    """Write to `path` (stdout when None or "-") via a temporary file and a rename."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if path is None or path == "-":
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise OutputError(path, "is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".heapviz-", dir=directory)
    except OSError as e:
        raise OutputError(path, f"cannot write: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(path, f"cannot write: {e.strerror or e}") from e
