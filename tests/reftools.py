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


@dataclass
class RefGraph:
    nodes: dict[str, tuple[int, int]]  # name -> (flat, cum)
    edges: dict[tuple[str, str], tuple[int, bool, bool]]  # (from, to) -> (weight, residual, inline)
    legend: str


_DOT_NODE = re.compile(r'^(N\d+) \[label="(.*?)" id="node\d+" .*?tooltip="(.*) \((-?\d+)B?\)" color=')
_DOT_EDGE = re.compile(r'^(N\d+) -> (N\d+) \[label=" (-?\d+)B?(\\n \(inline\))?"(.*)\]$')


def _undot(s: str) -> str:
    return s.replace('\\"', '"').replace("\\\\", "\\")


def pprof_dot(pprof: str, binary: str, profile: str, options: tuple[str, ...] = ()) -> RefGraph:
    """pprof's own -dot output, parsed: node flat/cum by printable name, edges."""
    proc = subprocess.run([pprof, "-dot", "-unit=B", *options, binary, profile], capture_output=True, text=True,
                          timeout=300, check=True)
    names: dict[str, str] = {}
    nodes: dict[str, tuple[int, int]] = {}
    edges: dict[tuple[str, str], tuple[int, bool, bool]] = {}
    legend = ""
    for line in proc.stdout.splitlines():
        if line.startswith("subgraph cluster_L"):
            legend = line
        m = _DOT_NODE.match(line)
        if m:
            nid, label, name, cum = m.groups()
            name = _undot(name)
            names[nid] = name
            fm = re.search(r"\\n(-?\d+)B \(", label)
            nodes[name] = (int(fm.group(1)) if fm else 0, int(cum))
            continue
        m = _DOT_EDGE.match(line)
        if m and m.group(2) in names:
            src, dst, w, inl, rest = m.groups()
            edges[(names[src], names[dst])] = (int(w), 'style="dotted"' in rest, bool(inl))
    return RefGraph(nodes, edges, legend)
