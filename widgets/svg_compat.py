"""A workaround for pyqtgraph 0.14's SVG exporter under Qt 6 (pyqtgraph issue 3495)."""

from __future__ import annotations

import contextlib
import sys

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (loads the SVG exporter module)


@contextlib.contextmanager
def svg_closed_paths():
    """Let pyqtgraph's SVG exporter take closed paths.

    pyqtgraph 0.14's ``correctCoordinates`` reads every token of a path as ``x,y`` and fails on
    the ``Z`` that Qt 6 writes after a closed subpath (a rectangle, a legend box, a marker:
    pyqtgraph issue 3495). For the duration of one export, the ``Z`` tokens are taken out
    before that function runs and put back at the same places after it; it maps one token to
    one token, so the places stay right. Harmless where pyqtgraph handles ``Z`` itself.
    """
    module = sys.modules[pg.exporters.SVGExporter.__module__]
    original = module.correctCoordinates

    def tolerant(node, defs, item, options):
        closed = []
        for path in node.getElementsByTagName("path"):
            tokens = path.getAttribute("d").split()
            if "Z" not in tokens and "z" not in tokens:
                continue
            kept, marks = [], []
            for token in tokens:
                if token in ("Z", "z"):
                    marks.append(len(kept))
                else:
                    kept.append(token)
            path.setAttribute("d", " ".join(kept))
            closed.append((path, marks))
        original(node, defs, item, options)
        for path, marks in closed:
            tokens = path.getAttribute("d").split()
            for index in reversed(marks):
                tokens.insert(index, "Z")
            path.setAttribute("d", " ".join(tokens))

    module.correctCoordinates = tolerant
    try:
        yield
    finally:
        module.correctCoordinates = original
