"""`heapviz doctor`: which external tools, compiled parts and Python packages heapviz finds, their
versions and paths, and what each missing one costs. Looks only; installs nothing.

Required (doctor exits 1 without them): a symbolizer (llvm-symbolizer or binutils' addr2line:
without one, native profiles show raw addresses) and heapviz's Python packages. Everything else
is optional: Graphviz's dot only draws the call graphs (`graph`, and the graphs inside HTML/PDF
reports), c++filt only stands in for libstdc++'s demangler, the compiled parts only make big
profiles faster. objdump is not used (heapviz has no source or disassembly views), nor is
valgrind's ms_print.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from heapviz import __version__
from heapviz.errors import ToolMissing
from heapviz.formats import gperftools_heap
from heapviz.graph import arrays
from heapviz.report import explorer_pack

VERSION_TIMEOUT_S = 10.0
# heapviz's PDF writer and graph labels use DejaVu (report/pdf_text.py looks in the same folders).
_DEJAVU = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf")
# (distribution name, module) of every Python dependency in pyproject.toml
_PACKAGES = (("numpy", "numpy"), ("networkx", "networkx"), ("jinja2", "jinja2"), ("reportlab", "reportlab"),
             ("pypdf", "pypdf"), ("pyelftools", "elftools"), ("protobuf", "google.protobuf"), ("pygments", "pygments"))


@dataclass(frozen=True)
class Check:
    name: str  # "Graphviz dot"
    found: bool
    need: str  # "required", "optional", or what can stand in ("required: this or addr2line")
    version: str = ""
    path: str = ""
    used_for: str = ""  # what heapviz does with it
    without: str = ""  # what a missing one costs
    package: str = ""  # the Debian package, or the pip requirement for Python packages

    @property
    def problem(self) -> bool:
        """Missing and needed: doctor exits 1."""
        return not self.found and self.need.startswith("required")


def compiled_parts() -> list[tuple[str, str]]:
    """(module, file) of each compiled part in use; file is "" for one that is not built (or
    turned off), whose work is then done in Python and numpy."""
    scanner = getattr(gperftools_heap, "_heapscan", None)
    groupby = getattr(arrays, "_groupby", None)
    prefix = explorer_pack.compiled()
    return [("_heapscan", getattr(scanner, "__file__", "") if gperftools_heap.uses_scanner() else ""),
            ("_groupby", getattr(groupby, "__file__", "") if arrays.hashing() else ""),
            ("_prefix", getattr(prefix, "__file__", "") if prefix is not None else "")]


def compiled_text() -> str:
    """`compiled parts in use`, `pure Python: compiled parts not built`, or which of them."""
    parts = compiled_parts()
    built = [name for name, file in parts if file]
    if len(built) == len(parts):
        return "compiled parts in use"
    if not built:
        return "pure Python: compiled parts not built"
    return f"compiled: {', '.join(built)}; pure Python: {', '.join(n for n, f in parts if not f)}"


def version_line() -> str:
    """What `heapviz --version` prints: `heapviz 0.1.0 (compiled parts in use)`."""
    return f"heapviz {__version__} ({compiled_text()})"


def tool_version(exe: str, flag: str = "--version") -> str:
    """The first dotted version number a tool prints about itself ("" when it says none)."""
    try:
        proc = subprocess.run([exe, flag], capture_output=True, timeout=VERSION_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    m = re.search(r"\b(\d+\.\d+(?:\.\d+)*)", text)
    return m.group(1) if m else ""


def _tool(name: str, exe: str | None, need: str, used_for: str, without: str, package: str,
          flag: str = "--version") -> Check:
    return Check(name, exe is not None, need, tool_version(exe, flag) if exe else "", exe or "", used_for,
                 without, package)


def _symbolizers() -> list[Check]:
    try:
        llvm: str | None = _llvm_symbolizer()
    except ToolMissing:
        llvm = None
    addr2line = shutil.which("addr2line")
    # one of the two is enough
    return [
        _tool("llvm-symbolizer", llvm, "optional while addr2line is there" if addr2line else
              "required: this or addr2line",
              "turns addresses into functions, files, lines and inline frames",
              "addr2line is used instead: slower, and it misnames some inlined static functions", "llvm"),
        _tool("addr2line", addr2line, "optional while llvm-symbolizer is there" if llvm else
              "required: this or llvm-symbolizer",
              "symbolizes when llvm-symbolizer is missing, dies or hangs",
              "nothing while llvm-symbolizer works" if llvm else
              "native profiles show raw addresses instead of functions", "binutils"),
    ]


def _llvm_symbolizer() -> str:
    # the same search as symbolizing does (versioned names too), so doctor finds what heapviz uses
    from heapviz.symbolize.tools import LlvmSymbolizer, find_symbolizer

    tool = find_symbolizer(inlines=True, prefer="llvm-symbolizer")
    assert isinstance(tool, LlvmSymbolizer)
    return tool.exe


def _demanglers() -> list[Check]:
    from heapviz.symbolize.demangle import _cxa

    cxa = _cxa.available
    return [
        Check("libstdc++ demangler", cxa, "optional", "", "libstdc++.so.6 (in process)" if cxa else "",
              "demangles C++ names (__cxa_demangle)", "c++filt is run instead", "libstdc++6"),
        _tool("c++filt", shutil.which("c++filt"), "optional", "demangles C++ names when libstdc++'s demangler "
              "cannot be loaded",
              "nothing while libstdc++'s demangler loads" if cxa else "C++ names stay mangled", "binutils"),
    ]


def _compiled() -> list[Check]:
    costs = {
        "_heapscan": ("reads gperftools heap profile lines (about 200 MB/s)",
                      "gperftools profiles are parsed in Python (about 40 MB/s)"),
        "_groupby": ("groups stacks and edges by hashing", "numpy sorts instead: slower on big profiles"),
        "_prefix": ("builds the HTML explorer's tree of stacks",
                    "numpy sorts instead: slower HTML reports of big profiles"),
    }
    return [Check(f"compiled {name}", bool(file), "optional", "in use" if file else "", file, costs[name][0],
                  costs[name][1] + "; built by pip when a C compiler and Python's headers are there",
                  "gcc python3-dev") for name, file in compiled_parts()]


def _python_packages() -> list[Check]:
    out = []
    for dist, module in _PACKAGES:
        try:
            version = importlib.metadata.version(dist)
            spec = importlib.util.find_spec(module)
        except (importlib.metadata.PackageNotFoundError, ModuleNotFoundError):
            version, spec = "", None
        path = os.path.dirname(spec.origin) if spec is not None and spec.origin else ""
        out.append(Check(f"Python {dist}", spec is not None, "required", version, path, "",
                         "heapviz does not start, or the commands that use it fail", dist))
    return out


def checks() -> list[Check]:
    """Everything doctor looks at, in the order it prints them."""
    dot = _tool("Graphviz dot", shutil.which("dot"), "optional", "lays out and draws call graphs",
                "no `heapviz graph` images, and HTML/PDF reports say the call graphs could not be drawn; "
                "top, peek, flame, convert and the JSON, Markdown and JUnit summaries work", "graphviz", "-V")
    font = next((f for f in _DEJAVU if os.path.exists(f)), "")
    fonts = Check("DejaVu fonts", bool(font), "optional", "", font, "text of PDF reports and graph labels",
                  "PDF reports use Helvetica, which lacks most non-Latin letters", "fonts-dejavu-core")
    return [dot, *_symbolizers(), *_demanglers(), fonts, *_compiled(), *_python_packages()]


def render(found: list[Check]) -> str:
    """The text `heapviz doctor` prints."""
    lines = [f"{version_line()}, Python {sys.version.split()[0]} ({sys.executable})",
             f"heapviz package: {os.path.dirname(os.path.abspath(__file__))}",
             f"heapviz on PATH: {shutil.which('heapviz') or 'no (see README: Install)'}", ""]
    width = max(len(c.name) for c in found)
    for c in found:
        status = "ok" if c.found else ("MISSING" if c.problem else "missing")
        lines.append(f"{status:8} {c.name:{width}}  {c.version or '-':10} {c.path or '-'}")
        if not c.found:
            lines.append(f"{'':8} {'':{width}}  {c.need}; without it: {c.without}")
    problems = missing_required(found)
    lines.append("")
    if problems:
        debs = sorted({c.package for c in problems if not c.name.startswith("Python ")})
        pips = sorted({c.package for c in problems if c.name.startswith("Python ")})
        lines.append("heapviz: missing what it needs: " + ", ".join(c.name for c in problems))
        if debs:
            lines.append(f"heapviz: install with: sudo apt-get install -y {' '.join(debs)}")
        if pips:
            lines.append(f"heapviz: reinstall heapviz, or: pip install {' '.join(pips)}")
    else:
        optional = [c.name for c in found if not c.found]
        lines.append("heapviz: everything required is there"
                     + (f"; optional and missing: {', '.join(optional)}" if optional else ""))
    return "\n".join(lines) + "\n"


def missing_required(found: list[Check]) -> list[Check]:
    """What doctor exits 1 for."""
    return [c for c in found if c.problem]
