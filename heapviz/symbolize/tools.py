"""External symbolizers: llvm-symbolizer (preferred) or addr2line, one batch per object file.

Each answers `symbolize(path, vaddrs)` with, per address, its frames innermost first as
(system_name, file, line, column). Names come back mangled; demangling is done by the caller.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Protocol

from heapviz.errors import ToolMissing

Frame = tuple[str, str, int, int]  # (system name, file, line, column)

_VERSION_SUFFIX = re.compile(r"@@?[A-Za-z_][\w.]*$")


def _strip_version(name: str) -> str:
    """`__libc_start_main@GLIBC_2.2.5` -> `__libc_start_main`: symbol versions are not names."""
    return _VERSION_SUFFIX.sub("", name) if "@" in name else name


class SymbolizerFailed(Exception):
    pass


class Symbolizer(Protocol):
    name: str

    def symbolize(self, path: str, vaddrs: list[int]) -> dict[int, list[Frame]]: ...


def _run(cmd: list[str], stdin: str, timeout: float) -> str:
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
                              errors="surrogateescape")
    except subprocess.TimeoutExpired as e:
        raise SymbolizerFailed(f"{cmd[0]} did not answer within {timeout:.0f} s") from e
    except OSError as e:
        raise SymbolizerFailed(f"cannot run {cmd[0]}: {e.strerror or e}") from e
    if proc.returncode != 0 and not proc.stdout:
        err = proc.stderr.strip().splitlines()
        raise SymbolizerFailed(f"{cmd[0]} failed (exit {proc.returncode}): {err[-1] if err else ''}")
    return proc.stdout


def _timeout(n: int, base: float) -> float:
    # Generous: large debug-info files take seconds to index before the first answer.
    return base + n / 2000.0


@dataclass
class LlvmSymbolizer:
    exe: str
    inlines: bool = True
    timeout_s: float = 120.0
    name: str = "llvm-symbolizer"

    def symbolize(self, path: str, vaddrs: list[int]) -> dict[int, list[Frame]]:
        cmd = [self.exe, f"--obj={path}", "--no-demangle", "--output-style=JSON", "--functions=linkage"]
        cmd.append("--inlining" if self.inlines else "--no-inlines")
        out = _run(cmd, "".join(f"0x{a:x}\n" for a in vaddrs), _timeout(len(vaddrs), self.timeout_s))
        result: dict[int, list[Frame]] = {}
        for raw in out.splitlines():
            raw = raw.strip()
            if not raw:
                continue
            try:
                obj = json.loads(raw)
                addr = int(obj["Address"], 16)
            except (ValueError, KeyError, TypeError):
                continue
            frames: list[Frame] = []
            for sym in obj.get("Symbol", []):
                fn = sym.get("FunctionName") or ""
                if fn in ("", "??"):
                    continue
                file = sym.get("FileName") or ""
                if file == "??":
                    file = ""
                frames.append((_strip_version(fn), file, int(sym.get("Line") or 0), int(sym.get("Column") or 0)))
            result[addr] = frames
        return result


@dataclass
class Addr2line:
    exe: str
    inlines: bool = True
    timeout_s: float = 120.0
    name: str = "addr2line"

    def symbolize(self, path: str, vaddrs: list[int]) -> dict[int, list[Frame]]:
        # -a prints each address before its frames, which delimits the answers.
        cmd = [self.exe, "-a", "-f", "-e", path]
        if self.inlines:
            cmd.insert(1, "-i")
        out = _run(cmd, "".join(f"0x{a:x}\n" for a in vaddrs), _timeout(len(vaddrs), self.timeout_s))
        result: dict[int, list[Frame]] = {}
        cur: list[Frame] | None = None
        lines = out.splitlines()
        i = 0
        while i < len(lines):
            ln = lines[i]
            if ln.startswith("0x") and all(c in "0123456789abcdefx" for c in ln):
                cur = []
                result[int(ln, 16)] = cur
                i += 1
                continue
            if cur is not None and i + 1 < len(lines):
                fn, loc = ln, lines[i + 1]
                file, _, line = loc.rpartition(":")
                line = line.split(" ", 1)[0]
                if fn != "??":
                    lineno = int(line) if line.isdigit() else 0
                    cur.append((_strip_version(fn), "" if file == "??" else file, lineno, 0))
                i += 2
                continue
            i += 1
        return result


def find_symbolizer(inlines: bool, prefer: str = "auto", timeout_s: float = 120.0) -> Symbolizer:
    """llvm-symbolizer when installed (addr2line misnames inlined static functions), else addr2line."""
    if prefer in ("auto", "llvm-symbolizer"):
        for exe in ("llvm-symbolizer", *(f"llvm-symbolizer-{v}" for v in range(20, 10, -1))):
            path = shutil.which(exe)
            if path:
                return LlvmSymbolizer(path, inlines, timeout_s)
        if prefer == "llvm-symbolizer":
            raise ToolMissing("llvm-symbolizer", "llvm")
    path = shutil.which("addr2line")
    if path:
        return Addr2line(path, inlines, timeout_s)
    raise ToolMissing("llvm-symbolizer or addr2line", "llvm binutils")


def fallback_symbolizer(failed: Symbolizer) -> Symbolizer | None:
    """addr2line in place of an llvm-symbolizer that died or hung, when binutils is installed."""
    if not isinstance(failed, LlvmSymbolizer):
        return None
    path = shutil.which("addr2line")
    return Addr2line(path, failed.inlines, failed.timeout_s) if path else None
