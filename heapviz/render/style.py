"""pprof's visual encoding: weight to colour, font size and pen width."""

from __future__ import annotations

import math

from heapviz.model import Value


def dot_color(score: float, background: bool) -> str:
    """Red for positive weight, green for negative, grey near zero (pprof's dotColor)."""
    score = max(-1.0, min(1.0, score))
    sat, val = (0.1, 0.93) if background else (1.0, 0.7)
    if abs(score) < 0.2:
        sat *= abs(score) / 0.2
    score = math.copysign(abs(score) ** 0.3, score) if score else 0.0
    if score < 0:
        r, g = val * (1 + sat * score), val
    else:
        r, g = val, val * (1 - sat * score)
    b = val * (1 - sat)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def font_size(flat: Value, max_flat: Value) -> int:
    """8 to 24 points, growing with the square root of flat's share of the largest flat."""
    if max_flat and flat and abs(flat) <= max_flat:
        return 8 + math.ceil(16 * math.sqrt(abs(flat) / max_flat))
    return 8


def edge_weight(w: Value, total: Value) -> int:
    return 1 + int(min(abs(int(w * 100 / total)), 100)) if total else 1


def pen_width(w: Value, total: Value) -> int:
    return 1 + int(min(abs(int(w * 5 / total)), 5)) if total else 1
