"""The app's side of the figure exports: file dialogs, a progress dialog, messages.

The main window calls these from its menus (File ▸ Export ▸ View: :func:`add_view_export_menu`)
and from the views' context menus (:func:`connect_view_exports`); both reach the same
:func:`export_view`, and both grey a view out while it has nothing to draw. Each takes the window and, for tests and scripts, an explicit
``path`` that skips the file dialog. Failures go to ``window.show_error`` and return False or
None: nothing here raises at the user. The window is expected to have ``dashboard``,
``experiment`` (``playground.experiment.Experiment``), ``show_error`` and ``statusBar``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from playground.animation import (
    DEFAULT_FPS,
    DEFAULT_SIZE,
    CursorSweep,
    DashboardRenderer,
    HistoryFrames,
    LossCurves,
)
from playground.animation_job import AnimationJob
from playground.trace_csv import save_trace_csv, save_view_csv
from playground.video_writers import MP4_MISSING, mp4_available
from widgets.figure_export import FigureInfo, add_export_actions, export_png, export_svg
from widgets.view_data import has_data

FILTERS = {
    "png": "PNG image (*.png)",
    "svg": "SVG drawing (*.svg)",
    "csv": "CSV table (*.csv)",
    "gif": "Animated GIF (*.gif)",
    "mp4": "MP4 video (*.mp4)",
}
#: PNGs of single views default to twice their size on screen at 192 dpi: crisp on a slide.
VIEW_PNG_DPI = 192.0
#: Entries of a view's submenu under File ▸ Export ▸ View.
VIEW_EXPORT_ENTRIES = {"png": "PNG…", "svg": "SVG…", "csv": "Data as CSV…"}
#: How File ▸ Export ▸ View names the views whose plot title would not do.
VIEW_LABELS = {
    "sequence": "Sequence",
    "hidden": "Hidden state",
    "cell": "Cell state",
    "loss": "Loss",
    "gradient": "Gradient flow",
    "unit": "Selected unit",
}


def figure_info(experiment, step: int | None = None) -> FigureInfo:
    """Engine, task, length (with the task's own word for it) and step of the shown run."""
    from engines.tasks.registry import length_label

    info = getattr(experiment, "info", {}) or {}
    settings = getattr(experiment, "settings", {}) or {}
    task = info.get("task") or {}
    engine = info.get("engine") or {}
    name = str(task.get("task") or settings.get("task") or "")
    try:
        label = length_label(name) if name else "length"
    except (KeyError, ValueError):
        label = "length"
    length = task.get("length", settings.get("length"))
    layer = getattr(getattr(experiment, "view", None), "layer", None)
    return FigureInfo(
        engine=str(engine.get("kind") or settings.get("engine") or ""),
        task=name,
        length=int(length) if isinstance(length, int) else None,
        step=step,
        length_label=label,
        layer=layer,
        layers=int(engine.get("num_layers") or settings.get("layers") or 1),
    )


def loss_curves(experiment, baseline: float | None = None) -> LossCurves:
    """The experiment's loss history for a history animation."""
    metrics = experiment.metrics

    def column(name: str) -> np.ndarray:
        value = getattr(metrics, name)
        return np.asarray(value() if callable(value) else value, dtype=np.float64)

    train_steps, train = column("train_steps"), column("train_losses")
    test_steps, test = column("eval_steps"), column("eval_losses")
    if baseline is None:
        baseline = ((getattr(experiment, "info", {}) or {}).get("task") or {}).get("baseline_loss")
    finite = np.isfinite(train)
    return LossCurves(
        train_steps[finite],
        train[finite],
        test_steps,
        test,
        baseline=None if baseline is None else float(baseline),
        baseline_label="baseline (no memory)",
    )


def _shown(window):
    shown = window.experiment.shown_frame()
    if shown is None:
        window.show_error("There is nothing to export yet: train for a moment first.")
    return shown


def _ask_path(window, title: str, name: str, kind: str) -> str | None:
    path, _ = QtWidgets.QFileDialog.getSaveFileName(window, title, name, FILTERS[kind])
    if not path:
        return None
    if not path.lower().endswith(f".{kind}"):
        path += f".{kind}"
    return path


def export_view(window, view, name: str, kind: str, path=None, *, size=None, dpi=None) -> bool:
    """One view as PNG, SVG or CSV (its data). Without a ``path`` the user picks the size
    and DPI, then the file; with one, PNG defaults to the view's size at 192 dpi."""
    shown = window.experiment.shown_frame()
    step = None if shown is None else shown[0].step
    if path is None:
        if kind in ("png", "svg") and size is None and dpi is None:
            from playground.export_options import ask_image_options

            chosen = ask_image_options(window, view, kind)
            if chosen is None:
                return False
            size, dpi = chosen.size, chosen.dpi
        stem = name if step is None else f"{name}_step{step}"
        path = _ask_path(window, f"Export {name}", f"{stem}.{kind}", kind)
        if path is None:
            return False
    title = figure_info(window.experiment, step).title()
    try:
        if kind == "png":
            export_png(view, path, title, size=size, dpi=VIEW_PNG_DPI if dpi is None else dpi)
        elif kind == "svg":
            export_svg(view, path, title, size=size)
        elif kind == "csv":
            save_view_csv(view, path)
        else:
            raise ValueError(f"format must be png, svg or csv, got {kind!r}")
    except (OSError, ValueError) as error:
        window.show_error(str(error))
        return False
    window.statusBar().showMessage(f"Saved {path}", 5000)
    return True


def view_has_data(view) -> bool:
    """Whether ``view`` draws anything yet (what its CSV would hold): the menus grey out the
    exports of a view that does not."""
    try:
        return has_data(view)
    except (ValueError, RuntimeError):
        return False


def connect_view_exports(window) -> None:
    """Put "Export PNG…/SVG…/data as CSV…" on every view's context menu (again after an
    engine change made new heatmaps: views that have the entries are left alone)."""
    board = window.dashboard
    views = {**board.views(), **board.gate_views, "cell": board.cell_view}
    for name, view in views.items():
        if getattr(view, "_export_actions", None):
            continue
        add_export_actions(
            view,
            lambda kind, v=view, n=name: export_view(window, v, n, kind),
            enabled=lambda v=view: view_has_data(v),
        )


def view_label(name: str, view) -> str:
    """``"Forget gate"``, ``"Hidden state"``: a view as File ▸ Export ▸ View lists it."""
    title = getattr(getattr(getattr(view, "plot_item", None), "titleLabel", None), "text", "")
    label = VIEW_LABELS.get(name) or title or name
    return label[:1].upper() + label[1:]


def add_view_export_menu(window, parent: QtWidgets.QMenu) -> QtWidgets.QMenu:
    """File ▸ Export ▸ View: a submenu per view on the dashboard (PNG…, SVG…, Data as CSV…),
    the same exports as its context menu. It follows the engine's heatmaps and greys out a view
    with nothing to draw each time it opens."""
    menu = parent.addMenu("&View")
    menu.aboutToShow.connect(lambda: refresh_view_export_menu(window, menu))
    refresh_view_export_menu(window, menu)
    return menu


def refresh_view_export_menu(window, menu: QtWidgets.QMenu) -> dict[str, QtWidgets.QMenu]:
    """Bring File ▸ Export ▸ View up to date with the dashboard; returns its submenus by view
    name (kept while the views stay the same)."""
    views = window.dashboard.views()
    key = tuple((name, id(view)) for name, view in views.items())
    submenus: dict[str, QtWidgets.QMenu] = getattr(menu, "view_menus", {})
    if getattr(menu, "views_key", None) != key:
        for old in submenus.values():
            old.deleteLater()
        menu.clear()
        submenus = {}
        for name, view in views.items():
            submenu = menu.addMenu(view_label(name, view))
            for kind, text in VIEW_EXPORT_ENTRIES.items():
                action = submenu.addAction(text)
                action.setData(kind)
                action.triggered.connect(
                    lambda _=False, v=view, n=name, k=kind: export_view(window, v, n, k)
                )
            submenus[name] = submenu
        menu.view_menus, menu.views_key = submenus, key
    for name, submenu in submenus.items():
        submenu.setEnabled(view_has_data(views[name]))
    return submenus


def export_trace_csv(window, path=None) -> bool:
    """The probe trace on screen (every layer, state, gate, the read-out and gradient flow)
    as tidy CSV."""
    shown = _shown(window)
    if shown is None:
        return False
    frame, gradients = shown
    if path is None:
        path = _ask_path(window, "Export trace", f"trace_step{frame.step}.csv", "csv")
        if path is None:
            return False
    try:
        save_trace_csv(frame, gradients, path)
    except (OSError, ValueError) as error:
        window.show_error(str(error))
        return False
    window.statusBar().showMessage(f"Saved {path}", 5000)
    return True


def start_animation(
    window,
    path=None,
    *,
    kind: str = "gif",
    size=DEFAULT_SIZE,
    fps: float = DEFAULT_FPS,
    steps: tuple[int | None, int | None] | None = None,
    count: int | None = None,
    sweep: bool = False,
) -> AnimationJob | None:
    """Render the history (or, with ``sweep``, the time cursor across the frame on screen)
    behind a progress dialog that cancels; returns the running job (also kept as
    ``window.animation_job``). The window stays usable while it renders."""
    if kind == "mp4" and not mp4_available():
        window.show_error(MP4_MISSING)
        return None
    running = getattr(window, "animation_job", None)
    if running is not None and running.is_running():
        window.show_error(f"{running.path.name} is still being rendered: wait or cancel it first")
        return None
    experiment = window.experiment
    shown = _shown(window)
    if shown is None:
        return None
    if path is None:
        from playground.export_options import ask_animation_options

        chosen = ask_animation_options(window, experiment.frames.steps(), sweep)
        if chosen is None:
            return None
        size, fps, steps = chosen.size, chosen.fps, (None if sweep else chosen.steps)
        stem = f"sweep_step{shown[0].step}" if sweep else "history"
        path = _ask_path(window, "Export animation", f"{stem}.{kind}", kind)
        if path is None:
            return None
    info = figure_info(experiment)
    layer = getattr(experiment.view, "layer", 0)
    names = (experiment.info or {}).get("input_names") or None
    try:
        if sweep:
            frames = CursorSweep(shown, info, layer=layer, input_names=names)
        else:
            frames = HistoryFrames(
                experiment.frames, info, steps=steps, count=count, layer=layer, input_names=names
            )
        renderer = getattr(window, "figure_renderer", None)
        if renderer is None:
            renderer = DashboardRenderer(size)
            window.figure_renderer = renderer  # kept: building one takes ~0.5 s
        job = AnimationJob(
            frames,
            path,
            size=size,
            fps=fps,
            format=kind,
            losses=loss_curves(experiment),
            renderer=renderer,
            parent=window,
        )
    except (OSError, ValueError) as error:
        window.show_error(str(error))
        return None
    dialog = QtWidgets.QProgressDialog(
        f"Rendering {Path(path).name} ({len(frames)} frames)…", "Cancel", 0, job.total, window
    )
    dialog.setWindowTitle("Export animation")
    dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    job.progressed.connect(lambda done, total: dialog.setValue(done))
    dialog.canceled.connect(job.cancel)

    def finished(saved: str) -> None:
        dialog.reset()
        window.statusBar().showMessage(f"Saved {saved}", 5000)

    def failed(message: str) -> None:
        dialog.reset()
        window.show_error(message)

    def cancelled() -> None:
        dialog.reset()
        window.statusBar().showMessage("Animation cancelled; nothing was written", 5000)

    job.finished.connect(finished)
    job.failed.connect(failed)
    job.cancelled.connect(cancelled)
    job.dialog = dialog
    window.animation_job = job
    job.start()
    return job
