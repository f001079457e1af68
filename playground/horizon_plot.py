"""``horizon.png``: the final test metric against the task's length, one line per engine, the
memoryless baseline dashed and the "solved" threshold dotted.

Qt and pyqtgraph are imported inside ``render_horizon`` only: the headless command line runs
where Qt is missing (the GPU machine), and there ``render_horizon`` raises ``QtMissing`` so the
caller can say the PNG was skipped and keep the CSV. Without a display Qt renders offscreen.
"""

from __future__ import annotations

import math
import os
import sys
from collections import defaultdict
from pathlib import Path

from engines.atomic_files import atomic_path
from playground.run_summary import solved_threshold

ENGINE_COLOURS = {"rnn": (214, 39, 40), "lstm": (31, 119, 180), "gru": (44, 160, 44)}
OTHER_COLOURS = [(148, 103, 189), (255, 127, 14), (140, 86, 75), (127, 127, 127)]
LOG_FLOOR = 1e-6  # zero errors are drawn here on a log axis
SIZE = (960, 600)  # the plot's size in points; the PNG is EXPORT_WIDTH pixels wide
EXPORT_WIDTH = 1440


class QtMissing(ImportError):
    """Qt (PySide6) or pyqtgraph cannot be imported here."""


def _import_qt():
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        import pyqtgraph as pg
        import pyqtgraph.exporters  # noqa: F401
        from PySide6 import QtCore, QtWidgets  # noqa: F401
    except ImportError as error:
        raise QtMissing(
            f"Qt is not installed (PySide6 and pyqtgraph are needed for the PNG: {error})"
        ) from error
    if QtWidgets.QApplication.instance() is None:
        QtWidgets.QApplication(sys.argv[:1] or ["seq-playground"])
    return pg, QtCore


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def render_horizon(rows: list[dict], path: os.PathLike | str, title: str = "") -> Path:
    """Draw ``rows`` (dicts with engine, length, seed, final_test_metric, baseline_metric,
    metric, higher_is_better, length_label) and write the PNG atomically to ``path``."""
    pg, QtCore = _import_qt()
    path = Path(path)
    metric = rows[0]["metric"]
    higher = bool(rows[0]["higher_is_better"])
    label = rows[0].get("length_label", "length")
    lengths = sorted({int(r["length"]) for r in rows})
    log_x = len(lengths) > 1 and lengths[0] > 0 and lengths[-1] / lengths[0] >= 8
    log_y = not higher

    def y(value: float) -> float:
        return max(value, LOG_FLOOR) if log_y and math.isfinite(value) else value

    # A view that is never shown (the exporter wants one); the plot's size is set directly.
    view = pg.GraphicsView(background="w")
    plot = pg.PlotItem()
    view.setCentralItem(plot)
    plot.setGeometry(0, 0, *SIZE)
    plot.setTitle(title, color="k", size="13pt")
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(pg.mkPen("k"))
        axis.setTextPen(pg.mkPen("k"))
        axis.enableAutoSIPrefix(False)
    label_style = {"color": "#000", "font-size": "12pt"}
    plot.setLabel("bottom", f"{label} (steps){', log scale' if log_x else ''}", **label_style)
    plot.setLabel("left", f"final test {metric}{', log scale' if log_y else ''}", **label_style)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLogMode(x=log_x, y=log_y)
    legend = plot.addLegend(
        offset=(10, 10) if not higher else (10, -10),
        labelTextColor="k",
        labelTextSize="11pt",
        brush=pg.mkBrush(255, 255, 255, 220),
        pen=pg.mkPen(180, 180, 180),
    )

    by_engine: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    baselines: dict[int, float] = {}
    for row in rows:
        by_engine[row["engine"]][int(row["length"])].append(float(row["final_test_metric"]))
        baselines[int(row["length"])] = float(row["baseline_metric"])

    others = iter(OTHER_COLOURS * 4)
    for engine, per_length in by_engine.items():
        colour = ENGINE_COLOURS.get(engine) or next(others)
        xs = sorted(per_length)
        means = [y(_mean(per_length[x])) for x in xs]
        plot.addItem(
            pg.PlotDataItem(
                xs,
                means,
                pen=pg.mkPen(colour, width=3),
                symbol="o",
                symbolSize=10,
                symbolBrush=pg.mkBrush(colour),
                symbolPen=pg.mkPen("w"),
                name=engine.upper(),
                connect="finite",
            )
        )
        seeds_x = [x for x in xs for v in per_length[x] if math.isfinite(v)]
        seeds_y = [y(v) for x in xs for v in per_length[x] if math.isfinite(v)]
        if max(len(v) for v in per_length.values()) > 1 and seeds_x:
            plot.addItem(  # each seed, faint (a PlotDataItem follows the log mode)
                pg.PlotDataItem(
                    seeds_x,
                    seeds_y,
                    pen=None,
                    symbol="o",
                    symbolSize=6,
                    symbolBrush=pg.mkBrush(*colour, 120),
                    symbolPen=None,
                )
            )

    xs = sorted(baselines)
    base = [baselines[x] for x in xs]
    if len(xs) == 1:  # a single length: stretch the reference lines so they are visible
        xs, base = [xs[0] * 0.8, xs[0] * 1.25], base * 2
    plot.addItem(
        pg.PlotDataItem(
            xs,
            [y(b) for b in base],
            pen=pg.mkPen((90, 90, 90), width=2, style=QtCore.Qt.PenStyle.DashLine),
            name="baseline (memoryless)",
        )
    )
    plot.addItem(
        pg.PlotDataItem(
            xs,
            [y(solved_threshold(b, higher)) for b in base],
            pen=pg.mkPen((150, 150, 150), width=2, style=QtCore.Qt.PenStyle.DotLine),
            name="solved above" if higher else "solved below (0.1 × baseline)",
        )
    )
    if log_x:  # ticks at the lengths measured, not at powers of ten
        ticks = [(math.log10(x), str(x)) for x in lengths]
        plot.getAxis("bottom").setTicks([ticks, []])
    if higher:
        plot.setYRange(0, 1.15, padding=0)
    else:  # room above the data for the legend (top left)
        shown = [y(v) for r in rows for v in (float(r["final_test_metric"]),) if math.isfinite(v)]
        shown += [y(b) for b in base] + [y(solved_threshold(b, higher)) for b in base]
        plot.setYRange(math.log10(min(shown) / 1.5), math.log10(max(shown) * 15), padding=0)
    del legend

    # Lay the plot out now: a view that is never shown gets no layout events of its own.
    plot.setGeometry(0, 0, *SIZE)
    plot.layout.activate()
    QtCore.QCoreApplication.processEvents()
    exporter = pg.exporters.ImageExporter(plot)
    exporter.parameters()["background"] = pg.mkColor("w")
    exporter.parameters()["width"] = EXPORT_WIDTH
    try:
        with atomic_path(path, suffix=path.suffix) as temporary:
            if not exporter.export(temporary):
                raise OSError(f"pyqtgraph could not write {path.name}")
    finally:
        view.close()
        view.deleteLater()
    return path
