"""Which writer makes an output file: one table from the suffix of `-o FILE` to a format, for
every command that writes files, and the report writers by format. Writers are imported when
used, so that commands that draw no report do not load reportlab or jinja2."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heapviz.render.dot import RenderOptions
    from heapviz.report.collect import ReportData


@dataclass(frozen=True)
class Output:
    format: str
    suffixes: tuple[str, ...]  # lower case, with the dot; the longest match wins (".junit.xml")
    commands: tuple[str, ...]  # the commands that write it
    writer: str = ""  # report writers: "module:function" taking (ReportData, RenderOptions)
    laid_out: bool = False  # needs the report's graphs laid out by Graphviz


OUTPUTS: tuple[Output, ...] = (
    Output("svg", (".svg",), ("graph",)),
    Output("pdf", (".pdf",), ("graph",)),
    Output("png", (".png",), ("graph",)),
    Output("dot", (".dot", ".gv"), ("graph",)),
    Output("json", (".json",), ("graph",)),
    Output("collapsed", (".folded",), ("graph",)),
    Output("html", (".html", ".htm"), ("report",), "heapviz.report.html:write_html", laid_out=True),
    Output("pdf", (".pdf",), ("report",), "heapviz.report.pdf:write_pdf", laid_out=True),
    Output("json", (".json",), ("report",), "heapviz.report.summary:write_report_json"),
    # for CI: a job's step summary or a pull-request comment, and test results for its dashboard.
    # Plain ".xml" is not taken as JUnit: the name says which XML it is.
    Output("markdown", (".md", ".markdown"), ("report",), "heapviz.report.summary_md:write_markdown"),
    Output("junit", (".junit.xml",), ("report",), "heapviz.report.junit:write_junit"),
)


def output_for(path: str, command: str) -> Output | None:
    """The output a file name asks for from `command`, by its longest known suffix."""
    name = path.lower()
    best: tuple[int, Output] | None = None
    for out in OUTPUTS:
        if command not in out.commands:
            continue
        for suffix in out.suffixes:
            if name.endswith(suffix) and (best is None or len(suffix) > best[0]):
                best = (len(suffix), out)
    return best[1] if best else None


def suffixes(command: str, formats: tuple[str, ...] = ()) -> str:
    """The suffixes `command` knows, one per format (only `formats` when given), for error
    messages: ".html, .pdf or .json"."""
    first = [out.suffixes[0] for out in OUTPUTS if command in out.commands and (not formats or out.format in formats)]
    return first[0] if len(first) == 1 else ", ".join(first[:-1]) + " or " + first[-1]


def report_writer(out: Output) -> Callable[[ReportData, RenderOptions], bytes]:
    module, _, name = out.writer.partition(":")
    fn: Callable[[ReportData, RenderOptions], bytes] = getattr(importlib.import_module(module), name)
    return fn


def preload(outs: list[Output]) -> threading.Thread:
    """The report writers of `outs` imported on a thread of their own: started before Graphviz
    lays the graphs out, their imports (reportlab: ~0.1 s) run while heapviz waits on `dot`.
    report_writer then finds them loaded, or waits on the import lock for the rest."""
    return _import_on_thread(sorted({out.writer.partition(":")[0] for out in outs if out.writer}), "heapviz-preload")


def preload_graph() -> threading.Thread:
    """networkx (~0.07 s of imports, for the drawn graph) imported on a thread of its own while
    the profile is read: the compiled scanner reads without holding the GIL."""
    return _import_on_thread(["networkx"], "heapviz-preload-graph")


def _import_on_thread(modules: list[str], name: str) -> threading.Thread:
    thread = threading.Thread(target=_import_all, args=(modules,), daemon=True, name=name)
    thread.start()
    return thread


def _import_all(modules: list[str]) -> None:
    for m in modules:
        try:
            importlib.import_module(m)
        except Exception:  # report_writer imports it again in the main thread and says what fails
            return
