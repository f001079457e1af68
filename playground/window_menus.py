"""Menus, actions and their shortcuts for the main window, and what they do that is not
training itself (about, exports)."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets


@dataclass
class WindowMenus:
    train_action: QtGui.QAction
    step_action: QtGui.QAction
    reset_action: QtGui.QAction
    quit_action: QtGui.QAction
    log_loss_action: QtGui.QAction
    export_dashboard_action: QtGui.QAction
    export_trace_action: QtGui.QAction
    about_action: QtGui.QAction
    file_menu: QtWidgets.QMenu
    recent_menu: QtWidgets.QMenu
    recent_experiments_menu: QtWidgets.QMenu
    save_experiment_action: QtGui.QAction
    save_experiment_as_action: QtGui.QAction
    open_experiment_action: QtGui.QAction
    reopen_last_action: QtGui.QAction
    export_weights_action: QtGui.QAction
    load_weights_action: QtGui.QAction
    view_menu: QtWidgets.QMenu | None = None
    training_menu: QtWidgets.QMenu | None = None
    #: File ▸ Export ▸ View: one submenu per dashboard view (``figure_dialogs``).
    export_views_menu: QtWidgets.QMenu | None = None

    def refresh_recent(self, window) -> None:
        from playground.experiment_files import open_experiment

        self.recent_menu.clear()
        paths = window.recent_files.paths()
        for path in paths:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: window.open_sequence_file(p))
        self.recent_menu.setEnabled(bool(paths))
        self.recent_experiments_menu.clear()
        folders = window.recent_experiments.paths()
        for folder in folders:
            action = self.recent_experiments_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: open_experiment(window, f))
        self.recent_experiments_menu.setEnabled(bool(folders))

    def set_state(self, state: str, transport=None) -> None:
        """One enabled state for buttons, menus and shortcuts: the transport bar's look."""
        self.train_action.setText("&Pause" if state in ("running", "starting") else "&Train")
        if transport is not None:
            self.train_action.setEnabled(transport.toggle_button.isEnabled())
            self.step_action.setEnabled(transport.step_button.isEnabled())
            self.reset_action.setEnabled(transport.reset_button.isEnabled())
        else:
            self.step_action.setEnabled(state not in ("running", "starting"))


def build_menus(window) -> WindowMenus:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    open_action = _action(window, "&Open Sequence…", QtGui.QKeySequence.StandardKey.Open)
    open_action.triggered.connect(lambda: open_sequence_dialog(window))
    save_drawing = _action(window, "Save Sequence as &CSV…", None)
    save_drawing.triggered.connect(lambda: save_sequence_dialog(window))
    recent_menu = QtWidgets.QMenu("Open &Recent", window)
    export_dashboard = _action(window, "Export &Dashboard as PNG…", "Ctrl+E")
    export_dashboard.triggered.connect(lambda: export_dashboard_png(window))
    export_trace = _action(window, "Export &Trace as NPZ…", "Ctrl+Shift+E")
    export_trace.triggered.connect(lambda: export_trace_npz(window))
    quit_action = _action(window, "&Quit", QtGui.QKeySequence.StandardKey.Quit)
    quit_action.setShortcut("Ctrl+Q")
    quit_action.triggered.connect(window.close)
    from playground import experiment_files as ef

    save_experiment = _action(window, "&Save Experiment", "Ctrl+S")
    save_experiment.triggered.connect(lambda: ef.save_experiment(window))
    save_experiment_as = _action(window, "Save Experiment &As…", "Ctrl+Shift+S")
    save_experiment_as.triggered.connect(lambda: ef.save_experiment(window, ask=True))
    open_experiment = _action(window, "Open E&xperiment…", "Ctrl+Shift+O")
    open_experiment.triggered.connect(lambda: ef.open_experiment_dialog(window))
    reopen_last = _action(window, "Reopen &Last Experiment", None)
    reopen_last.triggered.connect(lambda: ef.reopen_last_experiment(window))
    recent_experiments = QtWidgets.QMenu("Recent E&xperiments", window)
    export_weights = _action(window, "Export &Weights…", None)
    export_weights.triggered.connect(lambda: ef.export_weights_dialog(window))
    load_weights = _action(window, "Load Wei&ghts…", None)
    load_weights.triggered.connect(lambda: ef.load_weights_dialog(window))
    file_menu.addAction(open_experiment)
    file_menu.addMenu(recent_experiments)
    file_menu.addAction(reopen_last)
    file_menu.addAction(save_experiment)
    file_menu.addAction(save_experiment_as)
    file_menu.addSeparator()
    file_menu.addAction(load_weights)
    file_menu.addAction(export_weights)
    file_menu.addSeparator()
    file_menu.addAction(open_action)
    file_menu.addMenu(recent_menu)
    file_menu.addAction(save_drawing)
    file_menu.addSeparator()
    from playground import figure_dialogs as fd

    export_menu = file_menu.addMenu("&Export")
    export_views = fd.add_view_export_menu(window, export_menu)
    export_menu.addAction(export_dashboard)
    export_menu.addAction(export_trace)
    export_trace_csv = _action(window, "Trace as &CSV…", None)
    export_trace_csv.triggered.connect(lambda: fd.export_trace_csv(window))
    export_gif = _action(window, "Training history as &GIF…", None)
    export_gif.triggered.connect(lambda: fd.start_animation(window, kind="gif"))
    export_mp4 = _action(window, "Training history as &MP4…", None)
    export_mp4.triggered.connect(lambda: fd.start_animation(window, kind="mp4"))
    export_sweep = _action(window, "Time-cursor &sweep as GIF…", None)
    export_sweep.triggered.connect(lambda: fd.start_animation(window, kind="gif", sweep=True))
    for action in (export_trace_csv, export_gif, export_mp4, export_sweep):
        export_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(quit_action)

    train_menu = bar.addMenu("&Training")
    train_action = _action(window, "&Train", "Space")
    train_action.triggered.connect(window.toggle_training)
    step_action = _action(window, "&Step", "F10")
    step_action.triggered.connect(window.step)
    reset_action = _action(window, "&Reset", "Ctrl+R")
    reset_action.triggered.connect(window.reset)
    for action in (train_action, step_action, reset_action):
        action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        train_menu.addAction(action)
    train_menu.addSeparator()
    compare = _action(window, "&Compare Engines…", "Ctrl+K")
    compare.triggered.connect(lambda: open_compare_window(window))
    train_menu.addAction(compare)
    horizon = _action(window, "Memory &horizon…", "Ctrl+H")
    horizon.triggered.connect(lambda: _show_horizon(window))
    train_menu.addAction(horizon)

    view_menu = bar.addMenu("&View")
    log_loss = _action(window, "&Logarithmic loss axis", "Ctrl+L")
    log_loss.setCheckable(True)
    log_loss.toggled.connect(window.dashboard.loss_plot.set_log_y)
    view_menu.addAction(log_loss)
    view_menu.addAction(window.setup_dock.toggleViewAction())
    sequence_view = window.sequence_dock.toggleViewAction()
    sequence_view.setShortcut(QtGui.QKeySequence("Ctrl+D"))
    view_menu.addAction(sequence_view)

    help_menu = bar.addMenu("&Help")
    about = _action(window, "&About", None)
    about.triggered.connect(lambda: show_about(window))
    help_menu.addAction(about)
    menus = WindowMenus(
        train_action,
        step_action,
        reset_action,
        quit_action,
        log_loss,
        export_dashboard,
        export_trace,
        about,
        file_menu,
        recent_menu,
        recent_experiments,
        save_experiment,
        save_experiment_as,
        open_experiment,
        reopen_last,
        export_weights,
        load_weights,
        view_menu,
        train_menu,
        export_views,
    )
    menus.refresh_recent(window)
    return menus


def _show_horizon(window):
    from playground.horizon_dialog import show_horizon_dialog

    return show_horizon_dialog(window)


def open_compare_window(window, folder=None):
    """RNN, LSTM and GRU side by side (``playground.compare_window``), seeded from the setup;
    ``folder``: a saved comparison to open in it."""
    from playground.compare_window import CompareWindow

    compare = CompareWindow(
        window.setup_panel.settings(), preview=getattr(window, "_preview_enabled", False)
    )
    window.compare_windows = [w for w in getattr(window, "compare_windows", []) if w.isVisible()]
    window.compare_windows.append(compare)
    compare.show()
    if folder is not None:
        compare.open_comparison(folder)  # a bad folder says why in that window
    return compare


SEQUENCE_FILTER = "Sequences (*.csv *.tsv *.npy *.npz *.txt);;All files (*)"


def open_sequence_dialog(window) -> None:
    from playground.resources_path import examples_dir

    path, _ = QtWidgets.QFileDialog.getOpenFileName(
        window, "Open sequence", str(examples_dir()), SEQUENCE_FILTER
    )
    if path:
        window.open_sequence_file(path)


def save_sequence_dialog(window) -> None:
    from playground.files import SequenceData, save_sequence_csv

    path, _ = QtWidgets.QFileDialog.getSaveFileName(
        window, "Save sequence", "sequence.csv", "CSV (*.csv)"
    )
    if not path:
        return
    array = window.sequence_dock.canvas.sequence()
    if array.ndim == 1:
        names = tuple(str(i) for i in range(int(array.max()) + 1))
        data = SequenceData(symbols=array, alphabet=names, source="drawing")
    else:
        data = SequenceData(values=array, source="drawing")
    try:
        save_sequence_csv(data, path)
    except OSError as error:
        window.show_error(f"Could not save {path}: {error.strerror or error}")


def _action(window, text: str, shortcut) -> QtGui.QAction:
    action = QtGui.QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QtGui.QKeySequence(shortcut))
    window.addAction(action)  # shortcuts work even where the menu bar is hidden
    return action


def about_text(window) -> str:
    import pyqtgraph
    import PySide6
    import torch

    from playground import __version__

    device = window.status_device.text() or "cpu"
    cuda = torch.version.cuda or "none (CPU build)"
    return (
        f"<h3>Sequence Memory Playground {__version__}</h3>"
        "<p>Watch the long-term memory problem of recurrent networks: RNN, LSTM and GRU "
        "states, gates and gradients, live while they train.</p>"
        f"<p>torch {torch.__version__} (CUDA {cuda})<br>"
        f"Qt {QtCore.qVersion()}, PySide6 {PySide6.__version__}<br>"
        f"pyqtgraph {pyqtgraph.__version__}, Python {platform.python_version()}<br>"
        f"device in use: {device}</p>"
    )


def show_about(window) -> QtWidgets.QMessageBox:
    box = QtWidgets.QMessageBox(window)
    box.setWindowTitle("About Sequence Memory Playground")
    box.setTextFormat(QtCore.Qt.TextFormat.RichText)
    box.setText(about_text(window))
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok)
    box.open()
    window.about_box = box
    return box


def export_dashboard_png(window, path: str | None = None) -> bool:
    """Save the whole dashboard as it looks now."""
    if path is None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            window, "Export dashboard", "dashboard.png", "PNG image (*.png)"
        )
        if not path:
            return False
    from playground.figure_dialogs import figure_info
    from widgets.figure_export import export_widget_png

    try:
        export_widget_png(window.dashboard, path, figure_info(window.experiment).title())
    except OSError as error:
        window.show_error(f"Could not save {path}: {error.strerror or error}")
        return False
    window.statusBar().showMessage(f"Saved {path}", 5000)
    return True


def export_trace_npz(window, path: str | None = None) -> bool:
    """Save the probe frame on screen (all layers, states and gates) as NPZ."""
    if not len(window.history):
        window.show_error("There is no trace to export yet: train for a moment first.")
        return False
    if path is None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            window, "Export trace", "trace.npz", "NumPy archive (*.npz)"
        )
        if not path:
            return False
    from playground.file_writes import save_trace_npz

    frame, gradients = window.experiment.shown_frame()
    try:
        save_trace_npz(frame, gradients, path)
    except OSError as error:
        window.show_error(f"Could not save {path}: {error.strerror or error}")
        return False
    window.statusBar().showMessage(f"Saved {path}", 5000)
    return True
