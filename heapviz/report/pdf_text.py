"""The PDF report's text: DejaVu (or reportlab's built-in fonts) with a CJK fallback, profile
text escaped for reportlab's Paragraph markup, and names and paths packed into lines that fit."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, XPreformatted

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
_CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


_LOADED: dict[str, str] = {}  # reportlab font name -> the file registered under it in this process


def _register(name: str, path: str, **kw: int) -> None:
    """reportlab's font `name` read from `path`, once per process (TTFont parses the whole file;
    a registered font keeps its per-document state apart, so documents can share it)."""
    if _LOADED.get(name) != path:
        pdfmetrics.registerFont(TTFont(name, path, **kw))
        _LOADED[name] = path


@dataclass
class Fonts:
    regular: str = "Helvetica"
    bold: str = "Helvetica-Bold"
    mono: str = "Courier"
    fallback: str = ""  # a wide font for characters the regular one lacks (CJK)
    covered: frozenset[int] = frozenset()
    fallback_file: str = ""  # read when some text first needs it: the CJK font is large

    def need_fallback(self) -> None:
        """Register the fallback font, before any markup that names it reaches reportlab."""
        _register(self.fallback, self.fallback_file, subfontIndex=0)


def register_fonts() -> Fonts:
    fonts = Fonts()
    for d in _FONT_DIRS:
        regular, bold, mono = (os.path.join(d, f) for f in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf",
                                                            "DejaVuSansMono.ttf"))
        if os.path.exists(regular):
            _register("HV-Sans", regular)
            fonts.regular = fonts.bold = fonts.mono = "HV-Sans"
            if os.path.exists(bold):
                _register("HV-Sans-Bold", bold)
                fonts.bold = "HV-Sans-Bold"
            if os.path.exists(mono):
                _register("HV-Mono", mono)
                fonts.mono = "HV-Mono"
            face = pdfmetrics.getFont("HV-Sans").face
            fonts.covered = frozenset(face.charToGlyph.keys())
            break
    for path in _CJK_FONTS:
        if os.path.exists(path):
            fonts.fallback, fonts.fallback_file = "HV-Fallback", path
            break
    return fonts


class Markup:
    """Escapes profile text for reportlab's Paragraph markup and switches to the fallback font
    for runs of characters the main fonts cannot show (reportlab has no glyph fallback)."""

    def __init__(self, fonts: Fonts) -> None:
        self.fonts = fonts

    def __call__(self, text: str) -> str:
        if text.isascii():  # most names and paths: one run in the main font, nothing to replace
            return escape(text)
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if not self.fonts.fallback or not self.fonts.covered:
            return escape(text)
        out: list[str] = []
        run: list[str] = []
        run_fallback = False
        for ch in text:
            fb = self._needs_fallback(ch)
            if fb != run_fallback and run:
                out.append(self._flush(run, run_fallback))
                run = []
            run_fallback = fb
            run.append(ch)
        if run:
            out.append(self._flush(run, run_fallback))
        return "".join(out)

    def _needs_fallback(self, ch: str) -> bool:
        return bool(self.fonts.fallback) and ord(ch) > 0x7F and ord(ch) not in self.fonts.covered

    def _flush(self, run: list[str], fallback: bool) -> str:
        s = escape("".join(run))
        if not fallback:
            return s
        self.fonts.need_fallback()
        return f'<font name="{self.fonts.fallback}">{s}</font>'

    def width(self, text: str, font: str, size: float) -> float:
        """Width in points of `text` as __call__ lays it out (fallback glyphs count as 1 em)."""
        if text.isascii():
            return float(pdfmetrics.stringWidth(text, font, size))
        main = "".join(ch for ch in text if not self._needs_fallback(ch))
        return float(pdfmetrics.stringWidth(main, font, size)) + size * (len(text) - len(main))

    def lines(self, parts: list[str], width: float, font: str, size: float) -> list[str]:
        """Pieces packed greedily into lines of at most `width` points; a piece wider than a line
        is cut between characters (it is never shortened)."""
        lines: list[str] = []
        cur = ""
        for part in parts:
            if cur and self.width(cur + part, font, size) > width:
                lines.append(cur)
                cur = ""
            cur += part
            while self.width(cur, font, size) > width and len(cur) > 1:
                cut = max(1, self._fit(cur, width, font, size))
                lines.append(cur[:cut])
                cur = cur[cut:]
        if cur or not lines:
            lines.append(cur)
        return lines

    def _fit(self, text: str, width: float, font: str, size: float) -> int:
        lo, hi = 1, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.width(text[:mid], font, size) <= width:
                lo = mid
            else:
                hi = mid - 1
        return lo


# Where a name may wrap: after `::`, after `<`, and after a comma or `(` not followed by a space
# (a space at a line's end would be lost, and with it the name's exact text).
_NAME_BREAKS = re.compile(r"(?<=::)|(?<=<)(?!<)|(?<=[,(])(?! )")


def name_parts(name: str) -> list[str]:
    """A demangled name in pieces that may each start a line; joined they are the name."""
    return [p for p in _NAME_BREAKS.split(name) if p]


def path_parts(path: str) -> list[str]:
    """A path in pieces ending at each `/`: lines break only there, so `file:line` stays whole."""
    return [p for p in re.split(r"(?<=/)", path) if p]


def common_dir(paths: list[str]) -> str:
    """The directory, ending in `/`, that the absolute ones of `paths` share when that is worth
    saying once (two or more of them, at least 16 characters), else ""."""
    absolute = [p for p in paths if p.startswith("/")]
    if len(absolute) < 2:
        return ""
    prefix = os.path.commonpath([os.path.dirname(p) for p in absolute])
    prefix = prefix.rstrip("/") + "/"
    return prefix if len(prefix) >= 16 else ""


def plain(text: str) -> bool:
    """Whether reportlab would draw `text` exactly as given: printable ASCII (the main fonts have
    every glyph), no markup needed beyond escaping, and no spaces it would collapse or drop."""
    return bool(text) and text.isascii() and text.isprintable() and " ".join(text.split()) == text


class Lines(Flowable):  # type: ignore[misc]
    """Lines of plain text (see plain()) drawn as a Paragraph (or XPreformatted) of them joined
    by line breaks draws them: the first baseline `fontSize` below the top, then one `leading`
    per line, in the style's font and colour. It parses no markup and breaks no lines, most of
    the PDF's time in its tables; when a line is wider than the room it gets (or a frame splits
    it), that Paragraph itself takes over."""

    def __init__(self, lines: list[str], style: ParagraphStyle, preformatted: bool = False) -> None:
        super().__init__()
        self.lines = lines
        self.style = style
        self._preformatted = preformatted
        self._para: Paragraph | None = None
        self._delegate: Paragraph | None = None
        self._widths = [pdfmetrics.stringWidth(ln, style.fontName, style.fontSize) for ln in lines]

    def paragraph(self) -> Paragraph:
        """The Paragraph (XPreformatted) that draws the same."""
        if self._para is None:
            if self._preformatted:
                self._para = XPreformatted("\n".join(escape(ln) for ln in self.lines), self.style)
            else:
                self._para = Paragraph("<br/>".join(escape(ln) for ln in self.lines), self.style)
        return self._para

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        if max(self._widths) > aw:
            self._delegate = self.paragraph()
            return self._delegate.wrapOn(getattr(self, "canv", None), aw, ah)  # type: ignore[no-any-return]
        self._delegate = None
        self.width, self.height = aw, len(self.lines) * self.style.leading
        return self.width, self.height

    def split(self, aw: float, ah: float) -> list[Flowable]:
        return self.paragraph().split(aw, ah)  # type: ignore[no-any-return]

    def minWidth(self) -> float:
        """The widest word, as the Paragraph's minWidth (tables ask it to size their free columns)."""
        st = self.style
        words = (w for ln in self.lines for w in ln.split(" "))
        return float(max(pdfmetrics.stringWidth(w, st.fontName, st.fontSize) for w in words))

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:
        if self._delegate is not None:
            self._delegate.drawOn(canvas, x, y, _sW)
            return
        # what Flowable.drawOn and the Paragraph's draw come to: the origin moved to the cell, one
        # text object in a saved graphics state (for the colour), in far fewer calls
        st = self.style
        tx = canvas.beginText(0, self.height - st.fontSize)
        tx.setFont(st.fontName, st.fontSize, st.leading)
        tx.setFillColor(st.textColor)
        for ln in self.lines:
            tx.textLine(ln)
        canvas.saveState()
        canvas.translate(x, y)
        canvas.drawText(tx)
        canvas.restoreState()

    def draw(self) -> None:
        self.drawOn(self.canv, 0, 0)
