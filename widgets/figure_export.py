"""Figures of the views for slides and papers: PNG at a chosen size or DPI, and SVG.

pyqtgraph's ``ImageExporter`` and ``SVGExporter`` do the drawing. They draw a scene as it is,
so what a figure needs beyond the view — a title naming engine, task, length and training step,
the colour bar beside a heatmap, a size of its own — comes from an off-screen figure: a fresh
``GraphicsLayoutWidget`` holding a title row and copies of the view's plot items and colour bars
(:mod:`widgets.figure_copy`). The view on screen is never resized or changed.

Sizes are in pixels. A figure is laid out at ``size × 96 / dpi`` and drawn at ``size``, so a
higher DPI gives the same picture with larger text and thicker lines (what a slide at 192 dpi
wants); the PNG records the DPI. Every file is written atomically: a temporary file in the same
folder, then a rename; a failed write leaves no file and raises :class:`ExportError` (an
``OSError``) naming the file.

No file dialogs here: :func:`add_export_actions` puts "Export PNG…", "Export SVG…" and
"Export data as CSV…" into a view's context menu and calls back with the format; the caller
asks where to save.
"""

from __future__ import annotations

import errno as errno_codes
import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers the exporters)
from PySide6 import QtCore, QtGui, QtWidgets

from widgets.export_files import ExportError, atomic_write, atomic_write_bytes, export_error
from widgets.figure_copy import copy_color_bar, copy_plot, cursor_lines, layout_cells
from widgets.svg_compat import svg_closed_paths

__all__ = [
    "ExportError",
    "FigureInfo",
    "add_export_actions",
    "atomic_write",
    "atomic_write_bytes",
    "build_figure",
    "export_error",
    "export_png",
    "export_svg",
    "export_widget_png",
    "figure_image",
    "figure_svg",
    "image_bytes",
    "widget_image",
]

#: Pixels per inch of a figure drawn at scale 1 (Qt's logical DPI on a plain screen).
SCREEN_DPI = 96.0
#: Size of a figure whose view has no usable size of its own (never shown, or tiny).
DEFAULT_SIZE = (800, 500)
#: Largest side of an exported image: beyond it QImage allocation fails or takes seconds.
MAX_PIXELS = 16384
#: Formats :func:`add_export_actions` offers, with their menu text.
EXPORT_ACTIONS = {"png": "Export PNG…", "svg": "Export SVG…", "csv": "Export data as CSV…"}


@dataclass(frozen=True)
class FigureInfo:
    """What a figure's title names: engine, task, length and training step (plain values)."""

    engine: str = ""
    task: str = ""
    length: int | None = None
    step: int | None = None
    length_label: str = "length"
    layer: int | None = None
    layers: int = 1

    def title(self) -> str:
        """``"LSTM · adding · length 50 · step 1200"`` (parts that are unknown are left out;
        the layer only when there is more than one)."""
        parts = []
        if self.engine:
            parts.append(self.engine.upper() if len(self.engine) <= 4 else self.engine)
        if self.task:
            parts.append(self.task)
        if self.length is not None:
            parts.append(f"{self.length_label or 'length'} {int(self.length)}")
        if self.step is not None:
            parts.append(f"step {int(self.step)}")
        if self.layer is not None and self.layers > 1:
            parts.append(f"layer {int(self.layer) + 1} of {int(self.layers)}")
        return " · ".join(parts)


# -------------------------------------------------------------------------------- figures


def figure_size(view, size=None, dpi=None) -> tuple[tuple[int, int], tuple[float, float], float]:
    """``(pixels, logical size, scale)`` for a figure of ``view``.

    ``size`` is ``(width, height)`` in pixels (default: the view's size on screen, or
    :data:`DEFAULT_SIZE`, times ``dpi / 96``); ``dpi`` (default 96) sets how large text and
    lines are within those pixels.
    """
    scale = 1.0 if dpi is None else _positive("dpi", dpi) / SCREEN_DPI
    if size is None:
        width, height = _view_size(view)
        pixels = (round(width * scale), round(height * scale))
    else:
        pixels = _pixel_size(size)
    if max(pixels) > MAX_PIXELS or min(pixels) < 16:
        raise ValueError(
            f"size must be 16 to {MAX_PIXELS} pixels a side, got {pixels[0]}x{pixels[1]}"
        )
    logical = (pixels[0] / scale, pixels[1] / scale)
    return pixels, logical, scale


def build_figure(
    view,
    title: str = "",
    size: tuple[float, float] = DEFAULT_SIZE,
    *,
    cursor: bool = False,
    scale: float = 1.0,
) -> pg.GraphicsLayoutWidget:
    """An off-screen figure of ``view``: ``title`` above copies of its plots and colour bars,
    laid out at ``size`` (logical pixels). ``cursor`` keeps the time cursor; ``scale`` widens
    the lines for a figure drawn at ``scale`` × its logical size. Close it when done."""
    cells = layout_cells(view)
    if not cells:
        raise ValueError(f"the view {type(view).__name__} shows no plot to export")
    figure = pg.GraphicsLayoutWidget()
    figure.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)
    background = view.backgroundBrush() if isinstance(view, QtWidgets.QGraphicsView) else None
    if background is not None:
        figure.setBackgroundBrush(background)
    columns = max(col + colspan for _, _, col, _, colspan in cells)
    top = 0
    if title:
        figure.addLabel(html.escape(title), row=0, col=0, colspan=columns, size="12pt")
        top = 1
    skip = set() if cursor else cursor_lines(view)
    plots: dict = {}
    bars = []
    for item, row, col, rowspan, colspan in cells:
        if isinstance(item, pg.ColorBarItem):
            bars.append((item, row + top, col, rowspan, colspan))
            continue
        plot = figure.addPlot(row=row + top, col=col, rowspan=rowspan, colspan=colspan)
        plots[item] = (plot, copy_plot(item, plot, skip=skip, scale=scale))
    for bar, row, col, rowspan, colspan in bars:
        figure.addItem(
            copy_color_bar(bar, _bar_images(bar, plots)),
            row=row,
            col=col,
            rowspan=rowspan,
            colspan=colspan,
        )
    figure.resize(max(1, round(size[0])), max(1, round(size[1])))
    figure.show()
    settle(figure)
    return figure


def _bar_images(bar: pg.ColorBarItem, plots: dict) -> list[pg.ImageItem]:
    """The copies of the images ``bar`` colours (ColorBarItem keeps weak references)."""
    images = []
    for ref in getattr(bar, "img_list", []):
        image = ref() if callable(ref) else ref
        for _, copies in plots.values():
            if image in copies:
                images.append(copies[image])
    return images


def settle(widget: QtWidgets.QWidget) -> None:
    """Let pyqtgraph's deferred layout finish, and paint once so that axes sized by their tick
    labels (known only after a paint) take their final width before the real export."""
    for _ in range(2):
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.LayoutRequest)
        scratch = QtGui.QImage(8, 8, QtGui.QImage.Format.Format_ARGB32)
        painter = QtGui.QPainter(scratch)
        if isinstance(widget, QtWidgets.QGraphicsView):
            widget.scene().render(painter)
        painter.end()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.LayoutRequest)


def figure_image(
    view, title: str = "", size=None, dpi=None, *, cursor: bool = False, background=None
) -> QtGui.QImage:
    """The figure of ``view`` as a QImage of exactly ``size`` pixels (see :func:`figure_size`)."""
    pixels, logical, scale = figure_size(view, size, dpi)
    figure = build_figure(view, title, logical, cursor=cursor, scale=scale)
    try:
        exporter = pg.exporters.ImageExporter(figure.scene())
        _set_exporter_size(exporter, pixels)
        if background is not None:
            exporter.params["background"] = pg.mkColor(background)
        image = exporter.export(toBytes=True)
    finally:
        _dispose(figure)
    if dpi is not None:
        per_metre = round(float(dpi) / 0.0254)
        image.setDotsPerMeterX(per_metre)
        image.setDotsPerMeterY(per_metre)
    return image


def figure_svg(view, title: str = "", size=None, *, cursor: bool = False, background=None) -> bytes:
    """The figure of ``view`` as SVG text (UTF-8); ``size`` is the SVG's width and height."""
    pixels, logical, _ = figure_size(view, size, None)
    figure = build_figure(view, title, logical, cursor=cursor)
    try:
        exporter = pg.exporters.SVGExporter(figure.scene())
        _set_exporter_size(exporter, pixels)
        if background is not None:
            exporter.params["background"] = pg.mkColor(background)
        with svg_closed_paths():
            data = exporter.export(toBytes=True)
    finally:
        _dispose(figure)
    if title:  # the document's own title, instead of "pyqtgraph SVG export"
        data = data.replace(
            b"<title>pyqtgraph SVG export</title>",
            f"<title>{html.escape(title)}</title>".encode(),
            1,
        )
    return data


def export_png(view, path, title: str = "", size=None, dpi=None, **options) -> Path:
    """Write the figure of ``view`` as a PNG of ``size`` pixels (atomic; :class:`ExportError`)."""
    return atomic_write_bytes(
        path, image_bytes(figure_image(view, title, size, dpi, **options), path)
    )


def export_svg(view, path, title: str = "", size=None, **options) -> Path:
    """Write the figure of ``view`` as SVG (atomic; :class:`ExportError` naming the file)."""
    return atomic_write_bytes(path, figure_svg(view, title, size, **options))


# ----------------------------------------------------------------------- whole widgets


def widget_image(widget: QtWidgets.QWidget, title: str = "", dpi=None, size=None) -> QtGui.QImage:
    """``widget`` (the whole dashboard) as it is laid out now, with ``title`` in a strip above.

    ``dpi`` scales the picture (192: twice the pixels, same layout); ``size`` instead fits it
    into exactly ``(width, height)`` pixels. The widget is rendered, not grabbed from the
    screen, so it may be hidden or off screen.
    """
    strip = title_height(widget) if title else 0
    logical = (widget.width(), widget.height() + strip)
    if size is not None:
        width, height = _pixel_size(size)
        scale_x, scale_y = width / logical[0], height / logical[1]
    else:
        scale_x = scale_y = 1.0 if dpi is None else _positive("dpi", dpi) / SCREEN_DPI
        width, height = round(logical[0] * scale_x), round(logical[1] * scale_y)
    if max(width, height) > MAX_PIXELS or min(width, height) < 1:
        raise ValueError(f"the image would be {width}x{height} pixels; the limit is {MAX_PIXELS}")
    image = QtGui.QImage(width, height, QtGui.QImage.Format.Format_RGB32)
    image.fill(widget.palette().color(QtGui.QPalette.ColorRole.Window))
    painter = QtGui.QPainter(image)
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        painter.scale(scale_x, scale_y)
        if title:
            paint_title(painter, widget, title, logical[0], strip)
        widget.render(painter, QtCore.QPoint(0, strip))
    finally:
        painter.end()
    if dpi is not None:
        image.setDotsPerMeterX(round(float(dpi) / 0.0254))
        image.setDotsPerMeterY(round(float(dpi) / 0.0254))
    return image


def title_height(widget: QtWidgets.QWidget) -> int:
    return round(QtGui.QFontMetrics(_title_font(widget)).height() * 1.6)


def paint_title(painter: QtGui.QPainter, widget, title: str, width: int, height: int) -> None:
    painter.save()
    painter.setFont(_title_font(widget))
    painter.setPen(widget.palette().color(QtGui.QPalette.ColorRole.WindowText))
    painter.drawText(QtCore.QRectF(0, 0, width, height), QtCore.Qt.AlignmentFlag.AlignCenter, title)
    painter.restore()


def _title_font(widget) -> QtGui.QFont:
    font = QtGui.QFont(widget.font())
    font.setPointSizeF(font.pointSizeF() * 1.25 if font.pointSizeF() > 0 else 12.0)
    font.setBold(True)
    return font


def export_widget_png(widget: QtWidgets.QWidget, path, title: str = "", dpi=None) -> Path:
    """Write ``widget`` as a PNG, as :func:`widget_image` renders it (atomic)."""
    return atomic_write_bytes(path, image_bytes(widget_image(widget, title, dpi), path))


def image_bytes(image: QtGui.QImage, path="image.png") -> bytes:
    """``image`` encoded in memory (PNG unless ``path`` ends otherwise), so that the file
    itself is written by Python and a full disk raises a real ``OSError``."""
    kind = Path(path).suffix.lstrip(".").upper() or "PNG"
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if image.isNull() or not image.save(buffer, kind):
        raise ExportError(
            errno_codes.EINVAL, f"cannot write {path}: Qt could not encode a {kind} image"
        )
    return bytes(buffer.data())


# --------------------------------------------------------------------------- context menu


def add_export_actions(
    view: pg.GraphicsView,
    callback: Callable[[str], None],
    formats=("png", "svg", "csv"),
    enabled: Callable[[], bool] | None = None,
) -> list[QtGui.QAction]:
    """Offer "Export PNG…", "Export SVG…" (and "Export data as CSV…") on ``view``'s right-click
    menu; choosing one calls ``callback(format)``. Returns the actions.

    Views with a pyqtgraph menu get the entries at its end, in place of pyqtgraph's own
    "Export..." (whose dialog writes the plot without title or atomic write). Views whose plots
    have no menu (the heatmaps) get a small menu of their own on right-click. ``enabled``, asked
    each time the menu opens, greys the entries out while it is false (a view with nothing to
    draw yet).
    """
    unknown = [f for f in formats if f not in EXPORT_ACTIONS]
    if unknown:
        raise ValueError(f"formats must be among {', '.join(EXPORT_ACTIONS)}, got {unknown}")
    scene = view.scene()
    actions = []
    for kind in formats:
        action = QtGui.QAction(EXPORT_ACTIONS[kind], view)
        action.triggered.connect(lambda _=False, k=kind: callback(k))
        actions.append(action)
    scene.contextMenu = list(actions)  # pyqtgraph appends these to every item's menu

    def refresh() -> None:
        on = True if enabled is None else bool(enabled())
        for action in actions:
            action.setEnabled(on)

    if enabled is not None:  # pyqtgraph asks the scene for its entries as a menu opens
        scene_menus = scene.getContextMenus

        def context_menus(event):
            refresh()
            return scene_menus(event)

        scene.getContextMenus = context_menus
    plots = [item for item, *_ in layout_cells(view) if isinstance(item, pg.PlotItem)]
    if not any(plot.menuEnabled() for plot in plots if not isinstance(plot, pg.ColorBarItem)):
        menu = QtWidgets.QMenu(view)
        menu.addActions(actions)
        view._export_menu = menu

        def on_click(event) -> None:
            if event.button() == QtCore.Qt.MouseButton.RightButton:
                event.accept()
                refresh()
                menu.popup(event.screenPos().toPoint())

        scene.sigMouseClicked.connect(on_click)
    view._export_actions = actions
    return actions


# -------------------------------------------------------------------------------- helpers


def _set_exporter_size(exporter, pixels: tuple[int, int]) -> None:
    """Both sides exactly (pyqtgraph would round one from the other's aspect ratio)."""
    params = exporter.params
    params.param("width").setValue(pixels[0], blockSignal=exporter.widthChanged)
    params.param("height").setValue(pixels[1], blockSignal=exporter.heightChanged)


def _dispose(figure: pg.GraphicsLayoutWidget) -> None:
    figure.hide()
    figure.clear()
    figure.close()
    figure.deleteLater()


def _view_size(view) -> tuple[int, int]:
    widget = view if isinstance(view, QtWidgets.QWidget) else None
    if widget is not None and widget.width() >= 200 and widget.height() >= 150:
        return widget.width(), widget.height()
    return DEFAULT_SIZE


def _pixel_size(size) -> tuple[int, int]:
    try:
        width, height = size
        pixels = (int(width), int(height))
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}") from None
    if pixels != (width, height):
        raise ValueError(f"size must be whole pixels, got {size!r}")
    return pixels


def _positive(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not 0 < number < 10_000:
        raise ValueError(f"{name} must be a positive number below 10000, got {value!r}")
    return number
