"""``seq-playground export RUN_DIR --out DIR``: the app's figures from a run folder, headless.

Every view of one recorded probe frame (``--step``, default the last) as PNG or SVG, the whole
dashboard as PNG, and with ``--animate gif|mp4`` the training history (or with ``sweep`` the
time cursor crossing the sequence) as an animation — drawn by Qt off screen
(``QT_QPA_PLATFORM=offscreen`` when there is no display), by the same code as the app.

Files in ``DIR``: ``{view}_step{N}.png|svg`` (``dashboard_step{N}.png`` always PNG),
``history.gif|mp4`` or ``sweep_step{N}.gif|mp4``. Each is written atomically; Ctrl+C stops
between files (and inside an animation) and leaves no partial file. A write that fails (no
permission, a full disk) stops there: one line names the file and the reason, the files written
before stay (and are listed), and the exit status is 1.

Qt is imported only here, and only after the folder has been checked: ``train`` and
``horizon`` never need it, and where PySide6 or pyqtgraph is missing this command says so in
one line and exits 2. Bad input (no such folder, a view or step that is not there) raises
``ValueError`` with the message the command line prints.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from pathlib import Path

import numpy as np

EXIT_NO_QT = 2
EXIT_WRITE_FAILED = 1
EXIT_INTERRUPTED = 130
NO_QT = (
    "export needs Qt to draw: PySide6 and pyqtgraph are not installed here "
    "(pip install 'PySide6-Essentials<6.12' pyqtgraph), or export on a machine that has them"
)
#: The dashboard's views; heatmaps depend on the engine (``hidden``, ``cell``, gate names).
LINE_VIEWS = ("sequence", "loss", "gradient", "unit")
VIEW_SIZE = (800, 500)
DASHBOARD_SIZE = (1280, 800)


def qt_available() -> bool:
    """Whether Qt can be loaded here (a package that is there but fails to import, such as
    QtWidgets without its system libraries, counts as missing)."""
    _offscreen_without_display()
    try:
        import pyqtgraph  # noqa: F401
        from PySide6 import QtWidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _offscreen_without_display() -> None:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run_export(
    run_dir,
    out,
    format: str = "png",
    views: list[str] | None = None,
    step: int | None = None,
    animate: str | None = None,
    size: tuple[int, int] | None = None,
    *,
    dpi: float | None = None,
    fps: float = 10.0,
    sweep: bool = False,
    steps: tuple[int | None, int | None] | None = None,
    max_frames: int | None = None,
    stream=None,
) -> int:
    """Write the figures of ``run_dir`` into ``out``; returns the exit status.

    ``views``: names among ``dashboard``, ``sequence``, ``hidden``, ``cell`` (LSTM), the
    engine's gates, ``loss``, ``gradient``, ``unit`` (default: all; ``[]`` for only the
    animation). ``size``: pixels of every figure (default 800×500 for a view, 1280×800 for the
    dashboard and animations); ``dpi`` scales text and lines within them. ``animate``: ``gif``
    or ``mp4`` of the history (``steps=(first, last)``, thinned to ``max_frames``) or, with
    ``sweep``, of the time cursor across the frame at ``step``.
    """
    stream = stream if stream is not None else sys.stdout
    if format not in ("png", "svg"):
        raise ValueError(f"argument --format: must be png or svg, got {format!r}")
    if animate is not None:
        from playground.video_writers import check_format

        check_format(animate)
    from playground.run_folder import RunFolderError, open_run_folder

    try:
        contents = open_run_folder(Path(run_dir))
    except RunFolderError as error:
        raise ValueError(f"argument RUN_DIR: {error}") from None
    if not qt_available():
        _fail(NO_QT)
        return EXIT_NO_QT
    app = _qt_app()  # noqa: F841  (kept alive while drawing)

    from playground import interrupts
    from playground.animation import CursorSweep, DashboardRenderer, HistoryFrames
    from widgets.figure_export import ExportError, FigureInfo

    info = FigureInfo(**_figure_facts(contents))
    recorded = contents.frames
    names = list((contents.config.get("task") or {}).get("input_names") or []) or None
    layer = min(int(contents.view.get("layer", 0) or 0), max(info.layers - 1, 0))
    wanted = _check_views(views, contents)
    index = _frame_index(recorded, step, contents) if recorded else None
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"argument --out: {out} cannot be made: {error.strerror or error}"
        ) from None

    with _quiet_platform_warnings():  # no Qt noise around the one-line messages
        losses = loss_curves(contents)
        renderer = DashboardRenderer(size or DASHBOARD_SIZE, losses)
        written: list[Path] = []
        failed: ExportError | None = None
        try:
            if index is not None:
                frame_step = recorded[index][0].step
                still = HistoryFrames(
                    recorded, info, steps=(frame_step, frame_step), layer=layer, input_names=names
                )[0]
                unit = contents.view.get("unit")
                saved = isinstance(unit, int) and unit >= 0  # the unit the user had picked
                board = renderer.dashboard
                board.select_unit(unit if saved else 0)
                rgb = renderer.render(still)
                for name in wanted:
                    if interrupts.requested():
                        break
                    if not saved:  # unit 0 fills the unit plot; it is no pick to mark in heatmaps
                        board.select_unit(0 if name == "unit" else None)
                    written.append(
                        _export_view(
                            name, board, rgb, still.title, out, frame_step, format, size, dpi
                        )
                    )
            elif wanted and wanted != ["loss"]:
                raise ValueError(
                    f"argument RUN_DIR: {contents.path / 'frames.npz'} is missing: the run recorded "
                    "no probe frames, so only --views loss can be drawn"
                )
            elif wanted:
                steps_done = contents.metrics.step
                renderer.show_losses(int(steps_done[-1]) if len(steps_done) else None)
                written.append(
                    _export_view(
                        "loss", renderer.dashboard, None, info.title(), out, None, format, size, dpi
                    )
                )
            if animate is not None and not interrupts.requested():
                if not recorded:
                    raise ValueError(
                        f"argument --animate: {contents.path / 'frames.npz'} is missing: "
                        "the run recorded no probe frames to animate"
                    )
                if sweep:
                    frames = CursorSweep(recorded[index], info, layer=layer, input_names=names)
                    target = out / f"sweep_step{recorded[index][0].step}.{animate}"
                else:
                    frames = HistoryFrames(
                        recorded,
                        info,
                        steps=steps,
                        count=max_frames,
                        layer=layer,
                        input_names=names,
                    )
                    target = out / f"history.{animate}"
                path = _animate(
                    frames, target, renderer, size or DASHBOARD_SIZE, fps, animate, losses
                )
                if path is not None:
                    written.append(path)
        except ExportError as error:  # names the file and the reason; nothing half-written is left
            failed = error
        finally:
            renderer.close()
            # Deleted now: no event loop runs here, and a widget left for the interpreter's
            # exit outlives the QApplication and crashes it there (after a bad --dpi, say).
            _delete_deferred()
    for path in written:
        print(path, file=stream, flush=True)
    if failed is not None:
        kept = f"; the {len(written)} file(s) written before are intact" if written else ""
        _fail(f"{failed.strerror or failed}{kept}")
        return EXIT_WRITE_FAILED
    if interrupts.requested():
        _fail(f"interrupted; {len(written)} file(s) written to {out}, none half-written")
        return interrupts.exit_code(EXIT_INTERRUPTED)
    return 0


def loss_curves(contents):
    """The loss history and the task's baseline of a run folder, for the loss plot."""
    from playground.animation import LossCurves

    metrics = contents.metrics
    steps = np.asarray(metrics.step)
    train = np.asarray(metrics.train_loss, dtype=np.float64)
    test = np.asarray(metrics.test_loss, dtype=np.float64)
    has_train, has_test = np.isfinite(train), np.isfinite(test)
    baseline = (contents.config.get("task") or {}).get("baseline_loss")
    if not isinstance(baseline, int | float) or not math.isfinite(baseline):
        baseline = None
    return LossCurves(
        steps[has_train],
        train[has_train],
        steps[has_test],
        test[has_test],
        baseline=None if baseline is None else float(baseline),
        baseline_label="baseline (no memory)",
    )


def _figure_facts(contents) -> dict:
    config, summary = contents.config, contents.summary or {}
    task = config.get("task") or {}
    engine = config.get("engine") or {}
    length = task.get("length", summary.get("length"))
    return {
        "engine": str(engine.get("kind") or summary.get("engine") or ""),
        "task": str(task.get("task") or summary.get("task") or ""),
        "length": int(length) if isinstance(length, int) else None,
        "length_label": str(summary.get("length_label") or "length"),
        "layers": int(engine.get("num_layers") or 1),
    }


def available_views(contents) -> list[str]:
    """The views a run folder can be drawn as, in the dashboard's order."""
    from engines.config import GATE_NAMES

    kind = str((contents.config.get("engine") or {}).get("kind") or "lstm")
    heatmaps = ["hidden", *(["cell"] if kind == "lstm" else []), *GATE_NAMES.get(kind, ())]
    return ["dashboard", "sequence", *heatmaps, "loss", "gradient", "unit"]


def _check_views(views, contents) -> list[str]:
    known = available_views(contents)
    if views is None:
        return known if contents.frames else ["loss"]
    unknown = [name for name in views if name not in known]
    if unknown:
        raise ValueError(
            f"argument --views: unknown view {', '.join(map(repr, unknown))}; "
            f"this run has {', '.join(known)}"
        )
    return list(dict.fromkeys(views))


def _frame_index(recorded, step, contents) -> int:
    recorded_steps = [frame.step for frame, _ in recorded]
    if step is None:
        return len(recorded) - 1
    if step in recorded_steps:
        return recorded_steps.index(step)
    nearest = min(recorded_steps, key=lambda s: (abs(s - step), s))
    raise ValueError(
        f"argument --step: no frame recorded at step {step} in {contents.path}; "
        f"{len(recorded_steps)} frames from step {recorded_steps[0]} to {recorded_steps[-1]}, "
        f"the nearest is {nearest}"
    )


def _export_view(name, board, rgb, title, out: Path, step, format, size, dpi) -> Path:
    from widgets.figure_export import (
        atomic_write_bytes,
        export_png,
        export_svg,
        image_bytes,
        widget_image,
    )

    suffix = "" if step is None else f"_step{step}"
    if name == "dashboard":  # always PNG: laid out at the renderer's size already
        path = out / f"dashboard{suffix}.png"
        image = _qimage(rgb) if dpi is None else widget_image(board, title, dpi=dpi)
        return atomic_write_bytes(path, image_bytes(image, path))
    view = board.views()[name]
    path = out / f"{name}{suffix}.{format}"
    if format == "svg":
        return export_svg(view, path, title, size=size or VIEW_SIZE)
    return export_png(view, path, title, size=size or _scaled(VIEW_SIZE, dpi), dpi=dpi)


def _animate(frames, target: Path, renderer, size, fps, kind, losses) -> Path | None:
    from playground import interrupts
    from playground.animation import AnimationCancelled, render_animation

    progress = _Progress(target.name, sys.stderr)
    try:
        return render_animation(
            frames,
            target,
            size=size,
            fps=fps,
            format=kind,
            losses=losses,
            progress=progress,
            cancelled=interrupts.requested,
            renderer=renderer,
        )
    except AnimationCancelled:
        return None
    finally:
        progress.close()


class _Progress:
    """``rendering history.gif: 40 %`` on a terminal, rewritten in place; silent otherwise."""

    def __init__(self, name: str, stream) -> None:
        self.name, self.stream = name, stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if self.tty and percent != self._shown:
            self._shown = percent
            self.stream.write(f"\rrendering {self.name}: {percent:3d} %")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown >= 0:
            self.stream.write("\n")
            self.stream.flush()


def _delete_deferred() -> None:
    from PySide6 import QtCore

    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)


def _qt_app():
    _offscreen_without_display()
    from PySide6 import QtWidgets

    import widgets  # noqa: F401  (pyqtgraph's row-major image order, as in the app)

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication(["seq-playground"])


#: What Qt's off-screen platform says on every figure shown off screen: noise, not a problem.
PLATFORM_NOISE = ("This plugin does not support propagateSizeHints()",)


@contextlib.contextmanager
def _quiet_platform_warnings():
    """Drop :data:`PLATFORM_NOISE` while drawing; every other Qt message goes where it went."""
    from PySide6 import QtCore

    previous = None

    def handler(kind, context, message) -> None:
        if message in PLATFORM_NOISE:
            return
        if previous is not None:
            previous(kind, context, message)
        else:
            print(message, file=sys.stderr, flush=True)

    previous = QtCore.qInstallMessageHandler(handler)
    try:
        yield
    finally:
        QtCore.qInstallMessageHandler(previous)


def _qimage(rgb: np.ndarray):
    from PySide6 import QtGui

    height, width, _ = rgb.shape
    data = np.ascontiguousarray(rgb)
    return QtGui.QImage(
        data.data, width, height, 3 * width, QtGui.QImage.Format.Format_RGB888
    ).copy()


def _scaled(size, dpi):
    scale = 1.0 if dpi is None else float(dpi) / 96.0
    return round(size[0] * scale), round(size[1] * scale)


def _fail(message: str) -> None:
    from playground.options import fail

    fail(message)
