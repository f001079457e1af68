"""One view's data as a table, for "Export data as CSV…": what the view draws, not a screenshot.

A heatmap gives ``unit, time_step, value`` (its unclipped array, unit 0 first); line plots give
``plot, series, x, y`` in long form, one row per point of every visible curve, named as in the
legend. The columns are numpy arrays of equal length; the caller writes them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from widgets.figure_copy import cursor_lines, layout_cells

HEATMAP_COLUMNS = ("unit", "time_step", "value")
LINE_COLUMNS = ("plot", "series", "x", "y")


def view_table(view) -> dict[str, np.ndarray]:
    """The data of ``view`` as columns (see the module docstring); empty columns when the view
    shows nothing yet."""
    array = _heatmap_array(view)
    if array is not None:
        return heatmap_table(array)
    if _is_heatmap(view):
        return {name: np.array([]) for name in HEATMAP_COLUMNS}
    return line_table(view)


def has_data(view) -> bool:
    """Whether ``view`` draws anything (its table would have rows), without building the
    table: menus ask it each time they open."""
    if _is_heatmap(view):
        array = _heatmap_array(view)
        return array is not None and np.asarray(array).size > 0
    return next(_drawn_curves(view), None) is not None


def _is_heatmap(view) -> bool:
    return isinstance(getattr(view, "image_item", None), pg.ImageItem)


def _heatmap_array(view):
    """A heatmap's own (unclipped) array if it has one, else its image; None for a line view
    or an empty heatmap."""
    if not _is_heatmap(view):
        return None
    getter = getattr(view, "data", None)
    return getter() if callable(getter) else view.image_item.image


def heatmap_table(array: np.ndarray) -> dict[str, np.ndarray]:
    """``(units, time)`` -> long form, row-major: unit 0's steps first."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"a heatmap must have shape (units, time), got shape {array.shape}")
    units, steps = array.shape
    return {
        "unit": np.repeat(np.arange(units), steps),
        "time_step": np.tile(np.arange(steps), units),
        "value": array.reshape(-1),
    }


def line_table(view) -> dict[str, np.ndarray]:
    plots, series, xs, ys = [], [], [], []
    for title, name, x, y in _drawn_curves(view):
        count = len(y)
        plots.append(np.full(count, title, dtype=object))
        series.append(np.full(count, name, dtype=object))
        xs.append(np.asarray(x, dtype=np.float64))
        ys.append(np.asarray(y, dtype=np.float64))
    if not ys:
        return {name: np.array([]) for name in LINE_COLUMNS}
    return {
        "plot": np.concatenate(plots),
        "series": np.concatenate(series),
        "x": np.concatenate(xs),
        "y": np.concatenate(ys),
    }


def _drawn_curves(view):
    """(plot title, series name, x, y) of every visible curve with points, cursors left out."""
    skip = cursor_lines(view)
    for item, *_ in layout_cells(view):
        if not isinstance(item, pg.PlotItem) or isinstance(item, pg.ColorBarItem):
            continue
        names = _legend_names(item)
        title = item.titleLabel.text if item.titleLabel.isVisible() else ""
        for index, curve in enumerate(item.listDataItems()):
            if curve in skip or not curve.isVisible() or not isinstance(curve, pg.PlotDataItem):
                continue
            x, y = curve.getOriginalDataset()
            if x is None or y is None or len(y) == 0:
                continue
            yield title, names.get(curve) or curve.opts.get("name") or f"series {index}", x, y


def _legend_names(plot: pg.PlotItem) -> dict:
    legend = plot.legend
    if legend is None:
        return {}
    return {sample.item: label.text for sample, label in legend.items}
