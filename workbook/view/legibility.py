"""How big a graphviz SVG's smallest text is on screen, in CSS px, when a notebook cell shows it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

__all__ = ["CELL_PX", "MIN_TEXT_PX", "Legibility", "legibility"]

#: Width of a JupyterLab output cell the figures are made for (JupyterLab scales wider SVGs down to it).
CELL_PX = 1000.0
#: The smallest text a reader can read comfortably in a figure, in CSS px.
MIN_TEXT_PX = 9.0

_SVG = "{http://www.w3.org/2000/svg}"
#: CSS px per unit (CSS Values 3: 1in = 96px = 72pt).
_UNIT_PX = {"": 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}
_LENGTH = re.compile(r"\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*([a-z]*)\s*$")
_SCALE = re.compile(r"scale\(\s*([-0-9.eE]+)(?:[\s,]+([-0-9.eE]+))?\s*\)")
_MATRIX = re.compile(r"matrix\(\s*([-0-9.eE]+)[\s,]+([-0-9.eE]+)[\s,]+([-0-9.eE]+)[\s,]+([-0-9.eE]+)")


@dataclass(frozen=True)
class Legibility:
    """The smallest text of a figure as shown in a cell ``cell_px`` wide (``text_px``) and why."""

    text_px: float        #: smallest font size on screen, CSS px
    font_size: float      #: that text's font-size in SVG user units
    text: str             #: that text
    natural_px: float     #: the SVG's own width in CSS px
    fit: float            #: how much the cell scales it down (1 = not at all)
    cell_px: float

    @property
    def ok(self) -> bool:
        return self.text_px >= MIN_TEXT_PX


def _px(length: str | None) -> float | None:
    m = _LENGTH.match(length or "")
    if not m or m.group(2) not in _UNIT_PX:
        return None
    return float(m.group(1)) * _UNIT_PX[m.group(2)]


def _scale(transform: str | None) -> float:
    """The horizontal scale a ``transform`` attribute applies (graphviz writes ``scale(s s)``)."""
    s = 1.0
    for m in _SCALE.finditer(transform or ""):
        s *= abs(float(m.group(1)))
    for m in _MATRIX.finditer(transform or ""):
        s *= (float(m.group(1)) ** 2 + float(m.group(2)) ** 2) ** 0.5
    return s


def _font_size(el: ET.Element, inherited: float) -> float:
    size = _px(el.get("font-size"))
    style = el.get("style") or ""
    m = re.search(r"font-size\s*:\s*([0-9.]+[a-z]*)", style)
    if m:
        size = _px(m.group(1)) or size
    return inherited if size is None else size


def legibility(svg: str, cell_px: float = CELL_PX) -> Legibility:
    """Measure ``svg`` as JupyterLab shows it in an output cell ``cell_px`` wide.

    The on-screen size of a text is its font-size × the scales of the ``transform``\\ s above it ×
    the SVG's width over its viewBox width (user units → CSS px) × the cell's fit
    (``min(1, cell_px / width)``: ``max-width: 100%``).

    >>> svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="2000pt" height="100pt" viewBox="0 0 2000 100">'
    ...        '<g transform="scale(0.5 0.5)"><text font-size="14.00">big</text><text font-size="8">small</text></g></svg>')
    >>> m = legibility(svg)
    >>> m.text, m.natural_px, round(m.fit, 3), round(m.text_px, 2)
    ('small', 2666.6666666666665, 0.375, 2.0)
    """
    root = ET.fromstring(svg[svg.find("<svg"):] if "<svg" in svg else svg)
    width = _px(root.get("width"))
    box = [float(x) for x in re.split(r"[\s,]+", (root.get("viewBox") or "").strip()) if x]
    if width is None:
        width = box[2] if len(box) == 4 else cell_px
    units = width / box[2] if len(box) == 4 and box[2] > 0 else 1.0
    fit = min(1.0, cell_px / width) if width > 0 else 1.0
    best: tuple[float, float, str] | None = None

    def walk(el: ET.Element, scale: float, size: float) -> None:
        nonlocal best
        scale *= _scale(el.get("transform"))
        size = _font_size(el, size)
        if el.tag == _SVG + "text" or el.tag == "text":
            text = "".join(el.itertext()).strip()
            if text:
                on_screen = size * scale
                if best is None or on_screen < best[0]:
                    best = (on_screen, size, text)
        for child in el:
            walk(child, scale, size)

    walk(root, units * fit, 16.0)  # 16px: a browser's default font-size
    if best is None:
        return Legibility(float("inf"), 0.0, "", width, fit, cell_px)
    return Legibility(best[0], best[1], best[2], width, fit, cell_px)
