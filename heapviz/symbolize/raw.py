"""The names of addresses the symbolizer could not name.

Such an address keeps a placeholder frame `binary+0xOFFSET` (its file offset, ASLR-independent)
so that stacks stay apart and readable; views that group by function (the graph, `top`) put all
the unnamed addresses of one object file on one `[binary]` node, as pprof does.
"""

from __future__ import annotations

from heapviz.model import Location, Mapping


def placeholder(mapping: Mapping, address: int) -> str:
    """`libfoo.so+0x1a2b`: the frame name of an unnamed address in `mapping`."""
    return f"{mapping.basename}+0x{mapping.file_offset(address):x}"


def unnamed_object(loc: Location) -> str:
    """The basename of the object file when `loc`'s only frame is the placeholder the symbolizer
    gave an address it could not name (or that a profile written by heapviz carried); else ""."""
    m = loc.mapping
    if m is None or len(loc.lines) != 1 or not m.file:
        return ""
    fn = loc.lines[0].function
    if fn.filename:
        return ""
    base = m.basename
    name = fn.system_name or fn.name
    if name.startswith(base) and name.startswith("+0x", len(base)):
        return base
    return ""


def group_name(binary: str) -> str:
    """pprof's name for the unnamed code of an object file: `[libglib-2.0.so.0]`."""
    return f"[{binary}]"
