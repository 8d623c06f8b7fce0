"""Showing rules to people: graphviz drawings, the HTML report, notebook widgets, legibility of SVG text."""
