"""A persistent cache of symbolizer answers, one file per object file, keyed by its build id and
the size of the file looked in (or path, size and mtime when it has none), so that a nightly
job's second run over the same build skips symbolization. Best effort: a cache that cannot be
read or written is ignored."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile

from heapviz.symbolize.elf import ElfInfo
from heapviz.symbolize.tools import Frame

FORMAT = 1


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "heapviz", "symbols")


# Answers this process has read or written, by cache file: the dumps of a series share their
# binaries, and need not parse the same file again for each dump.
_known: dict[str, dict[int, list[Frame]]] = {}


class SymbolCache:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def key(self, info: ElfInfo, target: str, tool: str) -> str:
        """Names the answers of `tool` for the object `info` looked up in `target` (its debug file
        or itself)."""
        if info.build_id:
            # the size tells a stripped copy of a build (other answers) from the unstripped one
            ident = f"{info.build_id}|{os.path.basename(target)}|{os.stat(target).st_size}|{tool}"
        else:
            st = os.stat(target)
            ident = f"{os.path.abspath(info.path)}|{info.size}|{info.mtime}|{target}|{st.st_size}|{st.st_mtime}|{tool}"
        return hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:32]

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, f"{key}.json")

    def load(self, key: str) -> dict[int, list[Frame]]:
        """The answers stored under key (read from its file once per process; not to be changed)."""
        path = self._path(key)
        known = _known.get(path)
        if known is not None:
            return known
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                doc = json.load(f)
            if doc.get("format") != FORMAT:
                return {}
            answers = {int(a, 16): [(str(fn), str(file), int(line), int(col)) for fn, file, line, col in frames]
                       for a, frames in doc["frames"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        _known[path] = answers
        return answers

    def store(self, key: str, answers: dict[int, list[Frame]]) -> None:
        _known[self._path(key)] = answers
        doc = {"format": FORMAT, "frames": {f"{a:x}": [list(fr) for fr in frames] for a, frames in answers.items()}}
        with contextlib.suppress(OSError):
            os.makedirs(self.directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".cache-", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
                    json.dump(doc, f, ensure_ascii=False)
                os.replace(tmp, self._path(key))
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
