"""Valgrind memcheck's XML (`--xml=yes --xml-file=F`, protocol versions 4 to 6): its leak
errors (`Leak_DefinitelyLost` …), one sample per loss record, read into the records and model of
valgrind_memcheck.py.

The XML is untrusted input: it is read by expat with any document type declaration refused
before its first entity is declared, so no entity is expanded (valgrind never writes one).
A file cut short (valgrind killed) keeps its complete records, with a warning.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.parsers import expat

from heapviz.formats.valgrind_memcheck import (
    LEAK_KINDS,
    Frame,
    LeakCheck,
    Record,
    build,
    check_record,
    new_profile,
    number,
)
from heapviz.model import Profile

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "valgrind_memcheck_xml"
DESCRIPTION = "Valgrind memcheck XML (--xml=yes --xml-file=F, protocols 4-6)"

_SNIFF = re.compile(rb"<valgrindoutput[\s>]|<!DOCTYPE\s+valgrindoutput\b")
_LEAK_KINDS = {"Leak_DefinitelyLost": "definite", "Leak_IndirectlyLost": "indirect",
               "Leak_PossiblyLost": "possible", "Leak_StillReachable": "reachable"}
_SUMMARY_KINDS = {"definitely_lost": "definite", "indirectly_lost": "indirect", "possibly_lost": "possible",
                  "still_reachable": "reachable", "suppressed": "suppressed"}
_INDIRECT = re.compile(r"\((\d[\d,]*) direct, (\d[\d,]*) indirect\)")
_LOSS_RECORD = re.compile(r"in loss record (\d[\d,]*) of (\d[\d,]*)")
_CHUNK = 1 << 16


def sniff(head: bytes) -> bool:
    return _SNIFF.search(head) is not None


class _Refused(Exception):
    """The XML declares a document type: refused before anything in it is expanded."""


class _Reader:
    """Expat callbacks that collect leak records as their elements close."""

    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.path: list[str] = []
        self.text: list[list[str]] = []
        self.check = LeakCheck()
        self.version = ""
        self.tool = ""
        self.preamble: list[str] = []
        self.command = ""
        self.error: dict[str, str] = {}
        self.error_line = 0
        self.frames: list[Frame] = []
        self.frame: dict[str, str] = {}
        self.summary: dict[str, tuple[int, int]] = {}
        self.other_errors: dict[str, int] = {}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.path.append(name)
        self.text.append([])
        if name == "error" and len(self.path) == 2:
            self.error, self.frames, self.error_line = {}, [], self.parser.CurrentLineNumber
        elif name == "frame":
            self.frame = {}

    def chars(self, data: str) -> None:
        if self.text:
            self.text[-1].append(data)

    def end(self, name: str) -> None:
        text = "".join(self.text.pop()).strip()
        path = self.path
        parent = path[-2] if len(path) >= 2 else ""
        if len(path) == 2:
            if name == "protocolversion":
                self.version = text
            elif name == "protocoltool":
                self.tool = text
            elif name == "error":
                self._error()
        elif parent == "frame":
            self.frame[name] = text
        elif name == "frame":
            self._frame()
        elif len(path) == 3 and parent == "error" and name == "kind":
            self.error["kind"] = text
        elif parent == "xwhat" and len(path) == 4 and path[1] == "error":
            self.error[name] = text
        elif parent == "preamble" and name == "line":
            self.preamble.append(text)
        elif len(path) == 4 and path[1] == "leak_summary" and name in ("bytes", "blocks", "in_blocks"):
            kind = _SUMMARY_KINDS.get(parent)
            if kind is not None:
                try:
                    value = number(text)
                except ValueError as e:
                    raise _Malformed(f"leak summary: {e}") from None
                b, n = self.summary.get(kind, (0, 0))
                self.summary[kind] = (value, n) if name == "bytes" else (b, value)
        path.pop()

    def _frame(self) -> None:
        f = self.frame
        ip = f.get("ip", "0")
        try:
            address = int(ip, 16)
        except ValueError:
            address = -1
        if not 0 <= address < 1 << 64:
            raise _Malformed(f"frame address {ip[:40]!r} is not a 64-bit hexadecimal number")
        file = f.get("file", "")
        if file and f.get("dir"):
            file = f"{f['dir'].rstrip('/')}/{file}"
        line = f.get("line", "0")
        line_no = int(line) if line.isdecimal() and line.isascii() else 0
        self.frames.append(Frame(address, f.get("fn", ""), file, line_no, f.get("obj", "")))

    def _error(self) -> None:
        e = self.error
        kind = _LEAK_KINDS.get(e.get("kind", ""))
        if kind is None:
            name = e.get("kind", "?")
            self.other_errors[name] = self.other_errors.get(name, 0) + 1
            return
        text = e.get("text", "")
        try:
            leaked, blocks = number(e.get("leakedbytes", "")), number(e.get("leakedblocks", ""))
        except ValueError:
            raise _Malformed(f"leak error without numeric leakedbytes/leakedblocks: {text[:80]!r}") from None
        m = _INDIRECT.search(text)
        r = _LOSS_RECORD.search(text)
        try:
            record = Record(kind=kind, bytes=leaked, blocks=blocks, indirect_bytes=number(m.group(2)) if m else 0,
                            number=number(r.group(1)) if r else len(self.check.records) + 1,
                            total=number(r.group(2)) if r else 0, line_no=self.error_line, frames=self.frames)
            check_record(record)
        except ValueError as e:
            raise _Malformed(f"leak record: {e}") from None
        self.check.add(record)


class _Malformed(Exception):
    pass


def parse(reader: LineReader) -> Profile:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    state = _Reader(parser)
    parser.StartElementHandler = state.start
    parser.EndElementHandler = state.end
    parser.CharacterDataHandler = state.chars

    def refuse(*_: object) -> None:
        raise _Refused()

    def refuse_external(*_: object) -> int:
        raise _Refused()

    # A DTD is where entities are declared: with it refused, "billion laughs" and external
    # entities never get that far; an undeclared entity reference is an expat error.
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse_external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    profile = new_profile(reader.path, "memcheck_xml")
    cut = ""
    try:
        while chunk := reader.read_lines(_CHUNK):
            parser.Parse(chunk, False)
        try:
            parser.Parse(b"", True)
        except expat.ExpatError as e:
            # Every byte was accepted until the end: the file is cut short, not malformed.
            cut = expat.ErrorString(e.code)
    except _Refused:
        raise reader.error("refused: the XML declares a document type (DOCTYPE), which valgrind never writes; "
                           "its entities were not expanded", parser.CurrentLineNumber) from None
    except _Malformed as e:
        raise reader.error(f"malformed memcheck XML: {e}", parser.CurrentLineNumber) from None
    except expat.ExpatError as e:
        raise reader.error(f"malformed XML: {expat.ErrorString(e.code)} (column {e.offset + 1})", e.lineno) from None
    if state.tool and state.tool != "memcheck":
        raise reader.error(f"valgrind XML of the tool {state.tool!r}: heapviz reads memcheck's leak reports only", 0)
    if state.version and state.version not in ("4", "5", "6"):
        profile.warn(f"valgrind XML protocol version {state.version}; heapviz knows versions 4 to 6")
    if cut:
        profile.warn(f"the XML ends early ({cut} at line {parser.ErrorLineNumber}: valgrind was killed, or the file "
                     f"was cut): the {len(state.check.records)} complete loss records are shown, the rest is lost")
    check = state.check
    if state.summary:
        check.summary = {k: state.summary.get(k, (0, 0)) for k in (*LEAK_KINDS, "suppressed")}
    for line in state.preamble:
        if line.startswith("Command: "):
            profile.header = line
        elif line.startswith("Using Valgrind-"):
            profile.comments.append("valgrind " + line.removeprefix("Using Valgrind-").split(" and ", 1)[0])
    if state.version:
        profile.comments.append(f"valgrind XML protocol {state.version}")
    if state.other_errors:
        profile.comments.append("memcheck errors that are not leaks, not shown: " + ", ".join(
            f"{n} {k}" for k, n in sorted(state.other_errors.items())))
    if not check.records and not check.summary and not state.other_errors and not cut:
        profile.comments.append("no leak records: memcheck found no leaks (or ran without --leak-check)")
    build(profile, [check])
    return profile
