"""Graphviz's PDF (cairo's writer: one page, a classic cross-reference table) read just enough to
draw its page inside the report: the page's box, its drawing and its resources as reportlab
objects. Importing pypdf for this took longer than reading it; a file this reader does not
expect (object streams, updates, other filters, odd names) is read by pypdf instead."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

_WS = b" \t\r\n\f\x00"
_DELIM = b"()<>[]{}/%"
_TOKEN = re.compile(rb"[^ \t\r\n\f\x00()<>\[\]{}/%]+")
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")
_REF = re.compile(rb"(\d+)\s+(\d+)\s+R(?![^ \t\r\n\f\x00()<>\[\]{}/%])")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.+\-]+")


@dataclass(frozen=True)
class _Ref:
    num: int


@dataclass
class _Stream:
    entries: dict[str, Any]
    data: bytes  # as stored: still encoded


@dataclass
class GraphPage:
    """The first page of a PDF: its MediaBox, its drawing (decoded) and its resources."""
    box: tuple[float, float, float, float]
    contents: bytes
    resources: Any  # reportlab objects, or a pypdf page's resources when pypdf read the file
    _reader: _Reader | None = None
    _pypdf_page: Any = None

    def reportlab_resources(self, doc: Any) -> Any:
        """The resources as objects of reportlab's document `doc` (each indirect object once)."""
        if self._reader is not None:
            return self._reader.convert(self.resources, doc, {})
        from reportlab.pdfbase.pdfdoc import PDFDictionary
        page = self._pypdf_page
        return _from_pypdf(page["/Resources"], doc, {}) if "/Resources" in page else PDFDictionary()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offsets: dict[int, int] = {}
        self.cache: dict[int, Any] = {}

    # -- tokens and objects ---------------------------------------------------------------------
    def _skip(self, i: int) -> int:
        d = self.data
        while i < len(d):
            c = d[i:i + 1]
            if c in _WS and c:
                i += 1
            elif c == b"%":
                while i < len(d) and d[i:i + 1] not in (b"\r", b"\n"):
                    i += 1
            else:
                break
        return i

    def parse(self, i: int) -> tuple[Any, int]:
        """The object at offset i (leaves as their own bytes) and the offset after it."""
        d = self.data
        i = self._skip(i)
        if d.startswith(b"<<", i):
            entries: dict[str, Any] = {}
            i += 2
            while True:
                i = self._skip(i)
                if d.startswith(b">>", i):
                    return entries, i + 2
                key, i = self.parse(i)
                if not (isinstance(key, bytes) and key.startswith(b"/")):
                    raise ValueError("dictionary key is not a name")
                name = key[1:].decode("ascii")
                if not _SAFE_NAME.fullmatch(name):
                    raise ValueError(f"unexpected name {name!r}")
                entries[name], i = self.parse(i)
        c = d[i:i + 1]
        if c == b"[":
            items: list[Any] = []
            i += 1
            while True:
                i = self._skip(i)
                if d.startswith(b"]", i):
                    return items, i + 1
                item, i = self.parse(i)
                items.append(item)
        if c == b"(":
            depth, j = 0, i
            while j < len(d):
                ch = d[j:j + 1]
                if ch == b"\\":
                    j += 2
                    continue
                if ch == b"(":
                    depth += 1
                elif ch == b")":
                    depth -= 1
                    if depth == 0:
                        return d[i:j + 1], j + 1
                j += 1
            raise ValueError("unterminated string")
        if c == b"<":
            j = d.index(b">", i)
            return d[i:j + 1], j + 1
        if c == b"/":
            m = _TOKEN.match(d, i + 1)
            j = m.end() if m else i + 1
            return d[i:j], j
        m = _REF.match(d, i)
        if m:
            return _Ref(int(m.group(1))), m.end()
        m = _TOKEN.match(d, i)
        if not m:
            raise ValueError(f"unexpected byte at {i}")
        word = m.group()
        if not (_NUMBER.fullmatch(word) or word in (b"true", b"false", b"null")):
            raise ValueError(f"unexpected token {word[:20]!r}")
        return word, m.end()

    def get(self, obj: Any) -> Any:
        """An object with a reference followed (once per object number)."""
        if not isinstance(obj, _Ref):
            return obj
        if obj.num not in self.cache:
            i = self.offsets[obj.num]
            m = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj").match(self.data, i)
            if not m or int(m.group(1)) != obj.num:
                raise ValueError(f"object {obj.num} is not where the table says")
            value, i = self.parse(m.end())
            i = self._skip(i)
            if self.data.startswith(b"stream", i):
                i += 6
                i += 2 if self.data.startswith(b"\r\n", i) else 1
                length = int(self.get(value["Length"]))
                value = _Stream(value, self.data[i:i + length])
            self.cache[obj.num] = value
        return self.cache[obj.num]

    # -- the file ---------------------------------------------------------------------------------
    def read_xref(self) -> dict[str, Any]:
        d = self.data
        at = d.rindex(b"startxref")
        start = int(_TOKEN.match(d, self._skip(at + 9)).group())  # type: ignore[union-attr]
        if not d.startswith(b"xref", start):
            raise ValueError("no classic cross-reference table")
        i = start + 4
        while True:
            i = self._skip(i)
            if d.startswith(b"trailer", i):
                trailer, _ = self.parse(i + 7)
                if "Prev" in trailer:
                    raise ValueError("an updated file")
                return dict(trailer)
            m = re.compile(rb"(\d+)\s+(\d+)").match(d, i)
            if not m:
                raise ValueError("bad cross-reference table")
            first, count = int(m.group(1)), int(m.group(2))
            i = m.end()
            for k in range(count):
                i = self._skip(i)
                entry = d[i:i + 18].split()
                if entry[2] == b"n":
                    self.offsets[first + k] = int(entry[0])
                i += 18

    def page_count(self) -> int:
        count = self.get(self.get(self.get(self.read_xref()["Root"])["Pages"])["Count"])
        if not isinstance(count, bytes) or not count.isdigit():
            raise ValueError("no page count")
        return int(count)

    def first_page(self) -> GraphPage:
        trailer = self.read_xref()
        node = self.get(self.get(trailer["Root"])["Pages"])
        inherited: dict[str, Any] = {}
        while node.get("Type") == b"/Pages":
            inherited.update({k: node[k] for k in ("MediaBox", "Resources") if k in node})
            node = self.get(self.get(node["Kids"])[0])
        page = {**inherited, **node}
        box = tuple(float(self.get(v)) for v in self.get(page["MediaBox"]))
        contents = self.get(page.get("Contents", []))
        streams = [self.get(s) for s in contents] if isinstance(contents, list) else [contents]
        drawing = b"\n".join(self._decoded(s) for s in streams)
        return GraphPage(box, drawing, page.get("Resources", {}), self)  # type: ignore[arg-type]

    def _decoded(self, s: Any) -> bytes:
        if not isinstance(s, _Stream):
            raise ValueError("contents are not a stream")
        filters = self.get(s.entries.get("Filter", []))
        filters = filters if isinstance(filters, list) else [filters]
        if filters == [b"/FlateDecode"] and "DecodeParms" not in s.entries:
            return zlib.decompress(s.data)
        if not filters:
            return s.data
        raise ValueError(f"a content stream with filters {filters}")

    def convert(self, obj: Any, doc: Any, memo: dict[int, Any]) -> Any:
        """An object as reportlab writes it: dictionaries and arrays rebuilt, a stream kept
        encoded with its filters, an indirect object made once, any other value as it was."""
        from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFObject, PDFStream
        if isinstance(obj, _Ref):
            if obj.num not in memo:
                target = self.convert(self.get(obj), doc, memo)
                memo[obj.num] = doc.Reference(target) if isinstance(target, PDFObject) else target
            return memo[obj.num]
        if isinstance(obj, _Stream):  # "Filter" in its dictionary: reportlab encodes nothing again
            entries = {k: self.convert(v, doc, memo) for k, v in obj.entries.items() if k != "Length"}
            return PDFStream(PDFDictionary(entries), obj.data)
        if isinstance(obj, dict):
            return PDFDictionary({k: self.convert(v, doc, memo) for k, v in obj.items()})
        if isinstance(obj, list):
            return PDFArray([self.convert(v, doc, memo) for v in obj])
        return obj


def page_count(data: bytes) -> int | None:
    """The number of pages of a PDF this reader can read (reportlab's and Graphviz's), else None."""
    try:
        return _Reader(data).page_count()
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def read_graph_page(data: bytes, pypdf: bool = False) -> GraphPage:
    """The first page of Graphviz's PDF `data`, by this reader or else (or with `pypdf`) by pypdf."""
    if not pypdf:
        try:
            return _Reader(data).first_page()
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, zlib.error):
            pass
    import io

    from pypdf import PdfReader
    page = PdfReader(io.BytesIO(data)).pages[0]
    box = page.mediabox
    return GraphPage((float(box.left), float(box.bottom), float(box.right), float(box.top)),
                     page._get_contents_as_bytes() or b"", None, None, page)


def _from_pypdf(obj: Any, doc: Any, memo: dict[int, Any]) -> Any:
    """A pypdf object as reportlab writes it (as _Reader.convert does with its own)."""
    import io

    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject
    from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFObject, PDFStream
    if isinstance(obj, IndirectObject):
        if obj.idnum not in memo:
            target = _from_pypdf(obj.get_object(), doc, memo)
            memo[obj.idnum] = doc.Reference(target) if isinstance(target, PDFObject) else target
        return memo[obj.idnum]
    if isinstance(obj, StreamObject):
        entries = {k[1:]: _from_pypdf(v, doc, memo) for k, v in obj.items() if k != "/Length"}
        return PDFStream(PDFDictionary(entries), obj._data)
    if isinstance(obj, DictionaryObject):
        return PDFDictionary({k[1:]: _from_pypdf(v, doc, memo) for k, v in obj.items()})
    if isinstance(obj, ArrayObject):
        return PDFArray([_from_pypdf(v, doc, memo) for v in obj])
    out = io.BytesIO()
    obj.write_to_stream(out)
    return out.getvalue()
