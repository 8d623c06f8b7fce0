"""Showing a graphviz drawing: SVG with tooltips, and inline HTML for notebooks and widgets (a zoom view when too big to read)."""

from __future__ import annotations

import html
import re
import shutil

import graphviz

from .legibility import CELL_PX, MIN_TEXT_PX, legibility

__all__ = ["to_svg", "to_html", "Drawing", "TIP_HREF"]

#: HREF that marks a table cell's TOOLTIP (graphviz 2.43 writes cell tooltips only on links);
#: :func:`to_svg` turns it into a plain SVG ``<title>`` tooltip.
TIP_HREF = "#nfwb-tip"

#: graphviz's hover text (``tooltip``, table cells' TOOLTIP) as it writes it: an ``<a xlink:title>``.
_A_TITLE = re.compile(r'<a (?:xlink:href="' + re.escape(TIP_HREF) + r'" )?xlink:title="([^"]*)">')


def to_svg(graph: graphviz.Digraph | graphviz.Graph, engine: str | None = None) -> str:
    """Render a drawing to SVG text with the real ``dot`` (raises ``graphviz.ExecutableNotFound`` without it).

    Hover texts become SVG ``<title>`` elements, the tooltips browsers show.

    >>> svg = to_svg(graphviz.Digraph(body=["a -> b"])) if shutil.which("dot") else "<svg"
    >>> svg.lstrip().startswith(("<?xml", "<svg", "<!DOCTYPE"))
    True
    """
    if engine:
        graph = graph.copy()
        graph.engine = engine
    svg = graph.pipe(format="svg", encoding="utf-8")
    return _A_TITLE.sub(lambda m: f'<a xlink:title="{m.group(1)}"><title>{m.group(1)}</title>', svg)


_ZOOM = "var s=this.closest('.nfwb-zoom').querySelector('svg');"
_ZOOM_BUTTONS = (
    ("−", "zoom out", _ZOOM + "s.style.width=Math.max(100,s.getBoundingClientRect().width/1.25)+'px'"),
    ("+", "zoom in", _ZOOM + "s.style.width=(s.getBoundingClientRect().width*1.25)+'px'"),
    ("fit", "fit the cell's width", _ZOOM + "s.style.width='100%'"),
    ("1:1", "natural size", _ZOOM + "s.style.width=s.dataset.naturalWidth"),
)


def to_html(graph: graphviz.Digraph | graphviz.Graph, cell_px: float = CELL_PX) -> str:
    """A drawing as inline SVG for a notebook or widget (its DOT source when graphviz's ``dot`` is missing).

    A drawing whose smallest text would be under :data:`~workbook.view.legibility.MIN_TEXT_PX` when
    scaled down to a ``cell_px`` wide cell is shown at its natural size in a scrolling box, with
    zoom buttons (plain HTML, no script to load: works offline, in widgets and on Binder).

    >>> to_html(graphviz.Digraph(body=["a -> b"])).startswith(('<div class="nfwb-graph"><svg', '<div class="nfwb-graph"><pre'))
    True
    """
    if not shutil.which("dot"):
        return f'<div class="nfwb-graph"><pre>{html.escape(graph.source)}</pre></div>'
    svg = to_svg(graph)
    svg = svg[svg.find("<svg"):]
    m = legibility(svg, cell_px)
    if m.ok or m.fit >= 1 or m.text_px / m.fit < MIN_TEXT_PX:
        # scaled down to the cell's width like JupyterLab's own outputs (ipywidgets' HTML would overflow)
        svg = svg.replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)
        return f'<div class="nfwb-graph">{svg}</div>'
    width = f"{m.natural_px:.0f}px"
    svg = svg.replace("<svg ", f'<svg data-natural-width="{width}" style="max-width:none;width:{width};height:auto" ', 1)
    buttons = "".join(f'<button title="{t}" onclick="{js}" style="min-width:2.5em">{b}</button>'
                      for b, t, js in _ZOOM_BUTTONS)
    note = (f"too big to read at the cell's width (its smallest text would be {m.text_px:.1f} px): "
            "shown at natural size, scroll to pan")
    return (f'<div class="nfwb-graph nfwb-zoom"><div class="nfwb-zoom-bar">{buttons} '
            f'<small>{html.escape(note)}</small></div>'
            f'<div class="nfwb-zoom-view" style="overflow:auto;max-height:70vh;border:1px solid #ddd">{svg}</div></div>')


class Drawing(graphviz.Digraph):
    """A graphviz digraph that shows itself in Jupyter as :func:`to_html` does: tooltips on rules,
    and a scrolling zoom view when it is too big to read at the cell's width."""

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        if (include is not None and "text/html" not in include) or (exclude and "text/html" in exclude):
            return super()._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        return {"text/html": to_html(self)}
