"""The training history, or a sweep of the time cursor, as an animated GIF or MP4.

Frames are drawn off screen by a Dashboard of their own (:class:`DashboardRenderer`) from the
run's record — the recorded probe frames and the loss history — never grabbed from the window,
so the window stays usable and shows what the user left there.

The work is a generator (:func:`animation_steps`): each ``next`` does one short step (set up,
render one frame, encode one frame) and yields ``(done, total)``. The command line runs it to
the end (:func:`render_animation`); the app drives it from a zero-interval QTimer in slices of
a few steps (:class:`playground.animation_job.AnimationJob`), so Qt's drawing stays on the GUI thread, where it must,
and the event loop runs between slices. Measured on this 2-core machine a step takes 2–25 ms
at 1280×800, so a slice stays under the 50 ms a window may stall. An encoder thread would not
help: Pillow holds the GIL while it quantizes, and the render must be on the GUI thread anyway.

Encoded frames go to a temporary file beside the target, renamed over it after the last frame;
a cancelled (``close()`` of the generator) or failed render removes it, so it leaves no file.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from engines.atomic_files import atomic_path
from playground.animation_frames import (
    AnimationFrame,
    CursorSweep,
    HistoryFrames,
    LossCurves,
)
from playground.video_writers import GifWriter, Mp4Writer, check_format, check_fps
from widgets.figure_export import export_error, paint_title, title_height

__all__ = [
    "AnimationCancelled",
    "AnimationFrame",
    "CursorSweep",
    "DashboardRenderer",
    "HistoryFrames",
    "LossCurves",
    "animation_steps",
    "render_animation",
]

DEFAULT_SIZE = (1280, 800)
#: The smallest size the off-screen dashboard is laid out at (as the window on a laptop):
#: smaller animations are drawn from this layout, scaled down.
LAYOUT_SIZE = (1440, 960)
DEFAULT_FPS = 10.0


class DashboardRenderer:
    """A Dashboard of its own, never on screen, drawing animation frames at one size.

    Building a Dashboard takes 0.4–0.7 s here (17 pyqtgraph plots with their menus), too long
    for one slice of the event loop: an app that animates more than once keeps one renderer
    and hands it to each :class:`AnimationJob`, which then only resizes it (:meth:`setup`).
    """

    def __init__(self, size=DEFAULT_SIZE, losses: LossCurves | None = None) -> None:
        from widgets.dashboard import Dashboard

        board = Dashboard()
        board.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)
        board.setAttribute(QtCore.Qt.WidgetAttribute.WA_QuitOnClose, False)
        self.dashboard = board
        self._strip = title_height(board)
        self.setup(size, losses)
        board.show()
        # Shown (so that layouts work) but never on screen: its pictures are made by render()
        # alone. With updates on, the event loop would repaint it after every change too,
        # outside the job's slices: measured, 150 paints for 7 frames and stalls of 250 ms.
        board.setUpdatesEnabled(False)

    def setup(self, size=DEFAULT_SIZE, losses: LossCurves | None = None) -> None:
        """Draw at ``size`` from now on, with ``losses`` (the loss plot starts empty)."""
        size = _check_size(size)
        self.size = size
        # Smaller than LAYOUT_SIZE it is laid out at that size and drawn scaled down: at its
        # minimum size the dashboard leaves its heatmaps almost no height, so a small GIF
        # would show the axes and no data.
        least = self.dashboard.minimumSizeHint()
        wide = max(LAYOUT_SIZE[0], least.width())
        tall = max(LAYOUT_SIZE[1], least.height() + self._strip)
        shrink = min(1.0, size[0] / wide, size[1] / tall)
        self._layout_size = (size[0] / shrink, size[1] / shrink)
        self.dashboard.resize(
            round(self._layout_size[0]), round(self._layout_size[1]) - self._strip
        )
        self._losses = losses
        self._loss_upto: int | None = None
        plot = self.dashboard.loss_plot
        plot.clear()
        baseline = None if losses is None else losses.baseline
        plot.set_baseline(baseline, "" if losses is None else losses.baseline_label)

    def render(self, item: AnimationFrame) -> np.ndarray:
        """``item`` drawn at :attr:`size`, as an ``(height, width, 3)`` uint8 RGB array."""
        steps = self.render_steps(item)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    def render_steps(self, item: AnimationFrame):
        """:meth:`render` in pieces of a few milliseconds: a generator that yields between
        them and returns the array. The dashboard is drawn view by view (its background and
        title first), which is what the whole-widget render does in one go."""
        board = self.dashboard
        board.show_frame(item.frame)
        if item.cursor is not None:
            board.set_cursor(item.cursor)
        self.show_losses(item.loss_step)
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.LayoutRequest)
        yield
        strip = self._strip
        image = QtGui.QImage(self.size[0], self.size[1], QtGui.QImage.Format.Format_RGB32)
        image.fill(board.palette().color(QtGui.QPalette.ColorRole.Window))
        scale = (self.size[0] / board.width(), self.size[1] / (board.height() + strip))
        with _painter(image, scale) as painter, self._updates():
            paint_title(painter, board, item.title, board.width(), strip)
            board.render(
                painter,
                QtCore.QPoint(0, strip),
                QtGui.QRegion(),
                QtWidgets.QWidget.RenderFlag.DrawWindowBackground,
            )
        for piece in self._pieces():
            yield
            offset = piece.mapTo(board, QtCore.QPoint(0, 0)) + QtCore.QPoint(0, strip)
            with _painter(image, scale) as painter, self._updates():
                QtWidgets.QWidget.render(piece, painter, offset)
        yield
        return rgb_array(image)

    @contextlib.contextmanager
    def _updates(self):
        """Updates on for one render call (render draws nothing while they are off)."""
        self.dashboard.setUpdatesEnabled(True)
        try:
            yield
        finally:
            self.dashboard.setUpdatesEnabled(False)

    def _pieces(self) -> list:
        """The widgets that draw the dashboard: its views and its label, top to bottom."""
        board = self.dashboard
        views = [v for v in board.views().values() if v.isVisibleTo(board)]
        return [board.step_label, *views]

    def pixel_of(self, view: str, unit: int, step: int) -> tuple[int, int]:
        """Where the centre of heatmap cell ``(unit, step)`` of ``view`` lands in a frame."""
        heatmap = self.dashboard.views()[view]
        point = heatmap.mapFromScene(
            heatmap.image_item.mapToScene(QtCore.QPointF(step + 0.5, unit + 0.5))
        )
        at = heatmap.mapTo(self.dashboard, point)
        scale_x = self.size[0] / self.dashboard.width()
        scale_y = self.size[1] / (self.dashboard.height() + self._strip)
        return round(at.x() * scale_x), round((at.y() + self._strip) * scale_y)

    def close(self) -> None:
        self.dashboard.close()
        self.dashboard.deleteLater()

    def show_losses(self, upto: int | None) -> None:
        """Draw the loss history up to training step ``upto`` (from the start again when it
        goes back)."""
        losses, plot = self._losses, self.dashboard.loss_plot
        if losses is None or upto is None or upto == self._loss_upto:
            return
        train_steps = np.asarray(losses.train_steps)
        start = 0
        if self._loss_upto is None or upto < self._loss_upto:
            plot.clear()
        else:
            start = bisect.bisect_right(train_steps, self._loss_upto)
        stop = bisect.bisect_right(train_steps, upto)
        if stop > start:
            plot.append_train(train_steps[start:stop], np.asarray(losses.train_losses)[start:stop])
        if losses.test_steps is not None and losses.test_losses is not None:
            low = -np.inf if start == 0 else self._loss_upto
            for step, loss in zip(losses.test_steps, losses.test_losses, strict=True):
                if low < step <= upto and np.isfinite(loss):
                    plot.append_test(float(step), float(loss))
        self._loss_upto = upto


@contextlib.contextmanager
def _painter(image: QtGui.QImage, scale: tuple[float, float]):
    painter = QtGui.QPainter(image)
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        painter.scale(*scale)
        yield painter
    finally:
        painter.end()


def rgb_array(image: QtGui.QImage) -> np.ndarray:
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, : 3 * width].reshape(height, width, 3).copy()


def animation_steps(
    frames: Sequence[AnimationFrame],
    path,
    *,
    size=DEFAULT_SIZE,
    fps: float = DEFAULT_FPS,
    format: str | None = None,
    losses: LossCurves | None = None,
    renderer: DashboardRenderer | None = None,
) -> Generator[tuple[int, int], None, None]:
    """Render ``frames`` into ``path`` one short step per ``next``; yields ``(done, total)``.

    ``format`` is ``"gif"`` or ``"mp4"`` (default: the path's ending, else GIF). Closing the
    generator before it ends cancels: the temporary file goes and ``path`` is untouched.
    Arguments are checked before the first step; errors writing raise :class:`ExportError`
    naming the file. ``renderer`` is an existing :class:`DashboardRenderer` to draw with (the
    generator then leaves it open); without one it makes and closes its own.
    """
    target = Path(path)
    kind = check_format(format or target.suffix.lstrip(".") or "gif")
    fps = check_fps(fps, kind)
    size = _check_size(size)
    if kind == "mp4" and (size[0] % 2 or size[1] % 2):
        raise ValueError(f"size must have even sides for MP4, got {size[0]}x{size[1]}")
    count = len(frames)
    if count == 0:
        raise ValueError("there are no frames to animate")
    return _steps(frames, target, kind, fps, size, losses, renderer)


def _steps(frames, target: Path, kind: str, fps: float, size, losses, renderer):
    total = len(frames) + 1  # progress counts frames (and the set-up); steps are finer
    own = renderer is None
    try:
        with atomic_path(target, suffix=f".{kind}") as temporary:
            if own:
                renderer = DashboardRenderer(size, losses)
            else:
                renderer.setup(size, losses)
            handle = open(temporary, "wb") if kind == "gif" else None  # noqa: SIM115
            try:
                writer = (
                    GifWriter(handle, fps) if kind == "gif" else Mp4Writer(temporary, fps, size)
                )
                done = 1
                yield done, total
                # A first pass lets the axes take the width their tick labels need (known
                # only after a paint), so that frame 0 is laid out like the rest.
                for _ in renderer.render_steps(frames[0]):
                    yield done, total
                for item in frames:
                    pieces = renderer.render_steps(item)
                    while True:
                        try:
                            next(pieces)
                        except StopIteration as rendered:
                            rgb = rendered.value
                            break
                        yield done, total
                    for _ in writer.append_steps(rgb):
                        yield done, total
                    done += 1
                    yield done, total
                writer.close()
            finally:
                if handle is not None:
                    handle.close()
    except OSError as error:
        raise export_error(target, error) from None
    finally:
        if own and renderer is not None:
            renderer.close()


class AnimationCancelled(Exception):
    """The render was cancelled; nothing was written."""


def render_animation(
    frames: Sequence[AnimationFrame],
    path,
    *,
    size=DEFAULT_SIZE,
    fps: float = DEFAULT_FPS,
    format: str | None = None,
    losses: LossCurves | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    renderer: DashboardRenderer | None = None,
) -> Path:
    """Render the whole animation now (the command line). ``progress(done, total)`` is called
    after each step; when ``cancelled()`` turns true the render stops, leaves no file and
    raises :class:`AnimationCancelled`."""
    steps = animation_steps(
        frames, path, size=size, fps=fps, format=format, losses=losses, renderer=renderer
    )
    try:
        for done, total in steps:
            if progress is not None:
                progress(done, total)
            if cancelled is not None and cancelled():
                steps.close()
                raise AnimationCancelled(f"the animation {path} was cancelled; nothing was written")
    finally:
        steps.close()
    return Path(path)


def _check_size(size) -> tuple[int, int]:
    try:
        width, height = size
        pixels = (int(width), int(height))
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}") from None
    if pixels != (width, height) or not (320 <= pixels[0] <= 7680 and 240 <= pixels[1] <= 4320):
        raise ValueError(f"size must be whole pixels from 320x240 to 7680x4320, got {size!r}")
    return pixels
