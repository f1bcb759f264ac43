"""Run the reference tools (pprof built from Debian's sources, perl google-pprof) and parse
their `top`/`--text` tables."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field


@dataclass
class RefTable:
    total: int
    flat: dict[str, int] = field(default_factory=dict)
    cum: dict[str, int] = field(default_factory=dict)
    type: str = ""


_INLINE = re.compile(r" \((partial-)?inline\)$")


def _bytes(tok: str) -> int:
    tok = tok.rstrip("B")
    return int(float(tok)) if tok else 0


def pprof_top(pprof: str, binary: str, profile: str, sample_index: str = "inuse_space") -> RefTable:
    """`pprof -top -unit=B -nodefraction=0`: names without pprof's (inline) marks."""
    proc = subprocess.run(
        [pprof, "-top", "-unit=B", "-nodefraction=0", "-nodecount=0", f"-sample_index={sample_index}",
         binary, profile],
        capture_output=True, text=True, timeout=300, check=True,
    )
    m = re.search(r"of (-?\d+)B? total", proc.stdout)
    assert m, proc.stdout + proc.stderr
    table = RefTable(total=int(m.group(1)))
    t = re.search(r"^Type: (\S+)", proc.stdout, re.MULTILINE)
    table.type = t.group(1) if t else ""
    rows = proc.stdout.split("cum%\n", 1)[1].splitlines()
    for row in rows:
        parts = row.split(None, 5)
        if len(parts) < 6:
            continue
        name = _INLINE.sub("", parts[5])
        table.flat[name] = table.flat.get(name, 0) + _bytes(parts[0])
        table.cum[name] = max(table.cum.get(name, 0), _bytes(parts[3]))
    return table


def perl_pprof_text(perl_pprof: str, binary: str, profile: str, extra: tuple[str, ...] = ()) -> RefTable:
    """`google-pprof --text --show_bytes`."""
    proc = subprocess.run([perl_pprof, "--text", "--show_bytes", *extra, binary, profile],
                          capture_output=True, text=True, timeout=300, check=True)
    m = re.search(r"^Total: (-?\d+) B", proc.stdout, re.MULTILINE)
    assert m, proc.stdout + proc.stderr
    table = RefTable(total=int(m.group(1)))
    for row in proc.stdout.splitlines():
        parts = row.split(None, 5)
        if len(parts) < 6 or not parts[1].endswith("%"):
            continue
        name = _INLINE.sub("", parts[5])
        table.flat[name] = table.flat.get(name, 0) + int(parts[0])
        table.cum[name] = max(table.cum.get(name, 0), int(parts[3]))
    return table
