"""`list` and `disasm` as text laid out like pprof's (`ROUTINE ===…`, `flat cum line: source`)
and as JSON with the same rows. Never reads a profile or a file: source.py and disasm.py do."""

from __future__ import annotations

import json
from collections.abc import Callable

from heapviz.disasm import Instruction
from heapviz.disasm import Routine as AsmRoutine
from heapviz.model import Value
from heapviz.source import Listing
from heapviz.text import safe
from heapviz.units import json_unit, percentage

GAP = ". . ."


def _dot(v: Value, fmt: Callable[[Value], str]) -> str:
    """pprof's valueOrDot: zero prints as `.`."""
    return "." if v == 0 else fmt(v)


def routine_header(name: str, where: str, flat: Value, cum: Value, total: Value,
                   fmt: Callable[[Value], str]) -> list[str]:
    head = f"ROUTINE ======================== {safe(name)}" + (f" in {safe(where)}" if where else "")
    return [head, f"{fmt(flat):>10s} {fmt(cum):>10s} (flat, cum) {percentage(cum, total)} of Total"]


def render_text(listings: list[Listing], total: Value, fmt: Callable[[Value], str]) -> str:
    out = [f"Total: {fmt(total)}"]
    for li in listings:
        r = li.routine
        out += routine_header(r.name, r.file, r.flat, r.cum, total, fmt)
        if li.missing:
            out.append(f" {safe(li.missing)}")
        last = None
        for row in li.rows:
            if last is not None and row.line > last + 1 and li.source is not None:
                out.append(f"{'':10s} {'':10s} {GAP:>6s}")
            last = row.line
            text = "" if row.text is None else safe(row.text)
            out.append(f"{_dot(row.flat, fmt):>10s} {_dot(row.cum, fmt):>10s} {row.line:6d}:{text}")
    return "\n".join(out) + "\n"


def render_json(listings: list[Listing], total: Value, source: str, sample_type: str, sample_unit: str,
                warnings: list[str]) -> str:
    return _json(source, sample_type, sample_unit, total, warnings, [
            {
                "name": li.routine.name,
                "file": li.routine.file,
                "source": li.source,
                "missing": li.missing or None,
                "flat": round(li.routine.flat),
                "cum": round(li.routine.cum),
                "lines": [{"line": row.line, "flat": round(row.flat), "cum": round(row.cum), "text": row.text}
                          for row in li.rows],
            }
            for li in listings
        ])


def _json(source: str, sample_type: str, sample_unit: str, total: Value, warnings: list[str],
          routines: list[dict[str, object]]) -> str:
    """list's and disasm's JSON: the profile, its sample type and total, the routines, warnings."""
    doc = {"profile": source, "sample_index": sample_type, "unit": json_unit(sample_unit), "total": round(total),
           "routines": routines, "warnings": warnings}
    # surrogates (bytes of a source file that were not UTF-8) as \udcXX escapes, never raw
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def _where(function: str, file: str, line: int) -> str:
    """pprof's `function file:line` after an instruction, file as its base name."""
    text = f"{function} " if function else ""
    if file:
        text += file.rsplit("/", 1)[-1] + (f":{line}" if line else "")
    return text


def _source_lines(inst: Instruction) -> list[str]:
    """--source: the `;function file:line  text` line of an instruction group, then one per
    caller its code is inlined into, innermost first."""
    def text(src: str | None) -> str:
        return f"  {safe(src.strip())}" if src and src.strip() else ""

    out = [f"{'':34s};{safe(_where(inst.function, inst.file, inst.line))}{text(inst.source)}"]
    out += [f"{'':34s};  inlined into {safe(_where(c.function, c.file, c.line))}{text(c.source)}"
            for c in inst.inlined]
    return out


def render_disasm_text(routines: list[AsmRoutine], total: Value, fmt: Callable[[Value], str],
                       source: bool = False) -> str:
    """pprof -disasm's layout; with `source`, each group of instructions from one source line
    comes under that line's file:line and text, and the lines of the callers it is inlined into."""
    out = [f"Total: {fmt(total)}"]
    for r in routines:
        out += routine_header(r.name, "", r.flat, r.cum, total, fmt)
        if source:
            group = None
            for inst in r.instructions:
                here = (inst.function, inst.file, inst.line, tuple((c.function, c.file, c.line) for c in inst.inlined))
                if here != group:
                    out += _source_lines(inst)
                    group = here
                out.append(f"{_dot(inst.flat, fmt):>10s} {_dot(inst.cum, fmt):>10s} {inst.address:10x}: "
                           f"{safe(inst.text)}")
            continue
        last = None
        for inst in r.instructions:
            key = (inst.function, inst.file, inst.line)
            where = _where(*key) if key != last else ""  # only when it changes, as pprof
            last = key
            values = f"{_dot(inst.flat, fmt):>10s} {_dot(inst.cum, fmt):>10s} {inst.address:10x}: "
            text = safe(inst.text)
            if not where:
                out.append(values + text)
            elif len(text) < 40:
                out.append(f"{values}{text:<40s};{safe(where)}")
            else:
                out.append(f"{'':74s};{safe(where)}")
                out.append(values + text)
    return "\n".join(out) + "\n"


def _instruction_json(i: Instruction, source: bool) -> dict[str, object]:
    row: dict[str, object] = {"address": i.address, "text": i.text, "function": i.function, "file": i.file,
                              "line": i.line, "flat": round(i.flat), "cum": round(i.cum)}
    if source:  # --source: the line's text and the callers the code is inlined into, innermost first
        row["source"] = i.source
        row["inlined"] = [{"function": c.function, "file": c.file, "line": c.line, "source": c.source}
                          for c in i.inlined]
    return row


def render_disasm_json(routines: list[AsmRoutine], total: Value, profile: str, sample_type: str, sample_unit: str,
                       warnings: list[str], source: bool = False) -> str:
    return _json(profile, sample_type, sample_unit, total, warnings, [
            {
                "name": r.name,
                "full_name": r.full_name,
                "binary": r.binary,
                "start": r.start,
                "end": r.end,
                "flat": round(r.flat),
                "cum": round(r.cum),
                "instructions": [_instruction_json(i, source) for i in r.instructions],
            }
            for r in routines
        ])
