"""Copies of a view's plot items for an off-screen figure.

A figure must not disturb the view it is made from: resizing a view on screen to the figure's
size, or adding a title row to it, would make the window jump. So the figure is a fresh
``GraphicsLayoutWidget`` holding copies of the view's own pyqtgraph items — the same data, pens,
colour maps, levels, ranges, log scales, axis labels, legends and colour bars — which
pyqtgraph's exporters then draw. Nothing is redrawn by hand.

Interaction decorations are not data: the time cursor is left out unless asked for, and the
hover read-out (a ``LabelItem`` in the view's layout) always is.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from widgets.loss_plot import LOSS_GRID_ALPHA, HorizontalGrid


def layout_cells(view) -> list[tuple[object, int, int, int, int]]:
    """``(item, row, col, rowspan, colspan)`` of the plots and colour bars a view shows.

    ``view`` is a ``PlotWidget``, a ``GraphicsLayoutWidget``, a ``PlotItem`` or a
    ``GraphicsLayout``; other items in the layout (hover labels) are left out.
    """
    if isinstance(view, pg.PlotWidget):
        return [(view.getPlotItem(), 0, 0, 1, 1)]
    if isinstance(view, pg.PlotItem):
        return [(view, 0, 0, 1, 1)]
    layout = view.ci if isinstance(view, pg.GraphicsLayoutWidget) else view
    if not isinstance(layout, pg.GraphicsLayout):
        raise ValueError(
            f"view must be a pyqtgraph PlotWidget or GraphicsLayoutWidget, got {type(view).__name__}"
        )
    cells = []
    for item, spots in layout.items.items():
        if not isinstance(item, pg.PlotItem | pg.ColorBarItem) or not item.isVisible():
            continue
        rows = [r for r, _ in spots]
        cols = [c for _, c in spots]
        cells.append(
            (item, min(rows), min(cols), max(rows) - min(rows) + 1, max(cols) - min(cols) + 1)
        )
    cells.sort(key=lambda cell: (cell[1], cell[2]))
    return cells


def cursor_lines(view) -> set:
    """The time-cursor lines of a view (its ``cursor`` attribute, a ``TimeCursor``)."""
    cursor = getattr(view, "cursor", None)
    return set(getattr(cursor, "lines", ()) or ())


def scaled_pen(pen, scale: float) -> QtGui.QPen | None:
    """A copy of ``pen`` whose width is ``scale`` times as wide.

    pyqtgraph's pens are cosmetic: their width is in device pixels, so a figure rendered at
    2× would otherwise get hair lines.
    """
    if pen is None:
        return None
    pen = QtGui.QPen(pg.mkPen(pen))
    if scale != 1.0:
        pen.setWidthF(max(pen.widthF(), 1.0) * scale)
    return pen


def _copy_curve(item: pg.PlotDataItem, scale: float) -> pg.PlotDataItem:
    x, y = item.getOriginalDataset()
    opts = item.opts
    copy = pg.PlotDataItem(
        x=np.array([]) if x is None else np.asarray(x),
        y=np.array([]) if y is None else np.asarray(y),
        pen=scaled_pen(opts["pen"], scale),
        shadowPen=scaled_pen(opts.get("shadowPen"), scale),
        symbol=opts.get("symbol"),
        symbolPen=opts.get("symbolPen"),
        symbolBrush=opts.get("symbolBrush"),
        symbolSize=opts.get("symbolSize", 7),
        fillLevel=opts.get("fillLevel"),
        fillBrush=opts.get("fillBrush"),
        connect=opts.get("connect", "all"),
        name=opts.get("name"),
        antialias=True,
    )
    return copy


def _copy_image(item: pg.ImageItem) -> pg.ImageItem:
    copy = pg.ImageItem(axisOrder=item.axisOrder)
    if item.image is not None:
        levels = item.getLevels()
        copy.setImage(item.image, autoLevels=False, levels=levels)
    cmap = item.getColorMap()
    if cmap is not None:
        copy.setColorMap(cmap)
    elif item.lut is not None and not callable(item.lut):
        copy.setLookupTable(item.lut)
    copy.setTransform(item.transform())
    copy.setOpacity(item.opacity())
    return copy


def _copy_line(item: pg.InfiniteLine, scale: float) -> pg.InfiniteLine:
    copy = pg.InfiniteLine(pos=item.value(), angle=item.angle, pen=scaled_pen(item.pen, scale))
    copy.setZValue(item.zValue())
    label = getattr(item, "label", None)
    if label is not None and label.isVisible() and label.format:
        copy.label = pg.InfLineLabel(
            copy,
            text=label.format,
            movable=False,
            position=label.orthoPos,
            anchors=label.anchors,
            color=label.color,
        )
        copy.label.valueChanged()
    return copy


def _copy_region(item: pg.LinearRegionItem) -> pg.LinearRegionItem:
    copy = pg.LinearRegionItem(
        values=item.getRegion(),
        orientation=item.orientation,
        movable=False,
        brush=item.brush,
        pen=item.lines[0].pen,
    )
    copy.setZValue(item.zValue())
    return copy


def copy_plot(
    source: pg.PlotItem,
    target: pg.PlotItem,
    *,
    skip: set | None = None,
    scale: float = 1.0,
) -> dict:
    """Give ``target`` (a fresh ``PlotItem``) what ``source`` shows; returns source -> copy.

    ``skip`` holds items to leave out (the time cursor). Ranges are copied exactly and auto-
    range is switched off, so the figure shows what the view shows.
    """
    skip = skip or set()
    title = source.titleLabel
    if title.isVisible() and title.text:
        target.setTitle(title.text)
    for name in ("left", "bottom", "right", "top"):
        axis = source.getAxis(name)
        if not axis.isVisible():
            target.hideAxis(name)
            continue
        target.showAxis(name)
        copy_axis = target.getAxis(name)
        copy_axis.enableAutoSIPrefix(axis.autoSIPrefix)
        if axis.labelText or axis.labelUnits:
            target.setLabel(name, axis.labelText, units=axis.labelUnits or None)
    log_x, log_y = source.ctrl.logXCheck.isChecked(), source.ctrl.logYCheck.isChecked()
    target.setLogMode(x=log_x, y=log_y)
    state = source.vb.state
    target.invertY(bool(state.get("yInverted")))
    target.invertX(bool(state.get("xInverted")))
    target.setMenuEnabled(False)
    target.hideButtons()

    copies: dict = {}
    for item in list(source.items):
        if item in skip or not item.isVisible():
            continue
        if isinstance(item, pg.PlotDataItem):
            copy = _copy_curve(item, scale)
        elif isinstance(item, pg.ImageItem):
            copy = _copy_image(item)
        elif isinstance(item, pg.InfiniteLine):
            copy = _copy_line(item, scale)
        elif isinstance(item, pg.LinearRegionItem):
            copy = _copy_region(item)
        elif isinstance(item, HorizontalGrid):
            target.showGrid(y=True, alpha=LOSS_GRID_ALPHA * 2)
            continue
        else:  # an item this module does not know: leave it out rather than guess
            continue
        copies[item] = copy
        target.addItem(copy, ignoreBounds=not isinstance(item, pg.PlotDataItem | pg.ImageItem))

    legend = source.legend
    if legend is not None and legend.isVisible() and legend.items:
        copy_legend = target.addLegend(
            offset=legend.opts.get("offset", (30, 30)),
            brush=legend.opts.get("brush"),
            labelTextColor=legend.opts.get("labelTextColor"),
            colCount=legend.columnCount,
        )
        for sample, label in legend.items:
            copied = copies.get(sample.item)
            if copied is not None:
                copy_legend.addItem(copied, label.text)

    x_range, y_range = source.vb.viewRange()
    target.vb.disableAutoRange()
    target.vb.setRange(xRange=x_range, yRange=y_range, padding=0.0, update=True)
    return copies


def copy_color_bar(source: pg.ColorBarItem, images: list[pg.ImageItem]) -> pg.ColorBarItem:
    """A colour bar with the levels and colour map of ``source``, bound to ``images``."""
    copy = pg.ColorBarItem(
        values=tuple(source.levels()),
        colorMap=source.colorMap(),
        interactive=False,
        colorMapMenu=False,
        width=_bar_width(source),
    )
    if images:
        copy.setImageItem(images)
    return copy


def _bar_width(bar: pg.ColorBarItem) -> float:
    """The bar's thickness (ColorBarItem keeps it only as its layout's fixed column/row)."""
    if bar.horizontal:
        return bar.layout.rowMinimumHeight(2) or 15.0
    return bar.layout.columnMinimumWidth(1) or 15.0
