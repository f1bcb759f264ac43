"""The PDF report's tables: reportlab's LongTable, with the plain string cells (numbers, shares,
headings) of each table drawn in one text object instead of one per cell."""

from __future__ import annotations

from typing import Any

from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import LongTable

# (font, size, leading, colour, x, y, text) of a string cell's line, in the table's coordinates
_Text = tuple[str, float, float, Any, float, float, str]


class Table(LongTable):  # type: ignore[misc]
    """A LongTable that queues its string cells' lines and writes them all in one text object
    once the cells are drawn and before the table's lines, at the places, in the fonts and
    colours reportlab's drawString and drawRightString give them (a text object per cell was a
    tenth of the PDF's time). Flowable cells, and string cells with links or other alignments,
    are drawn by reportlab as they come."""

    _texts: list[_Text]
    _sized_at: float | None = None  # the width at which every row's height is known

    def _calc(self, availWidth: float, availHeight: float) -> None:
        # the frame, KeepTogether and split each size the table again at the same width; its rows'
        # heights do not depend on the height offered unless a row span cut the sizing short
        if self._sized_at == availWidth:
            return
        super()._calc(availWidth, availHeight)
        self._sized_at = availWidth if self._hmax == len(self._argH) else None

    def draw(self) -> None:
        self._texts = []
        super().draw()

    def _drawCell(self, cellval: Any, cellstyle: Any, pos: tuple[float, float], size: tuple[float, float]) -> None:
        s = cellstyle
        if (type(cellval) is not str or s.valign != "TOP" or s.alignment not in ("LEFT", "RIGHT") or s.href
                or s.destination or s.direction or s.shaping):
            super()._drawCell(cellval, cellstyle, pos, size)
            return
        colpos, rowpos = pos
        colwidth, rowheight = size
        y = rowpos + rowheight - s.topPadding - s.fontsize
        for line in cellval.split("\n"):
            if s.alignment == "LEFT":
                x = colpos + s.leftPadding
            else:
                x = colpos + colwidth - s.rightPadding - pdfmetrics.stringWidth(line, s.fontname, s.fontsize)
            if line:
                self._texts.append((s.fontname, s.fontsize, s.leading, s.color, x, y, line))
            y -= s.leading

    def _drawLines(self) -> None:
        if self._texts:
            canv = self.canv
            canv.saveState()
            tx = canv.beginText()
            font: tuple[str, float, float] | None = None
            colour = None
            for name, size, leading, fill, x, y, text in self._texts:
                if font != (name, size, leading):
                    font = (name, size, leading)
                    tx.setFont(name, size, leading)
                if colour is None or fill != colour:
                    colour = fill
                    tx.setFillColor(fill)
                tx.setTextOrigin(x, y)
                tx.textLine(text)
            canv.drawText(tx)
            canv.restoreState()
            self._texts = []
        super()._drawLines()
