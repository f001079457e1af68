""" "Why it forgets" in the main window: the step Jacobians, the gradient flow over training,
the memory timescales and the state space, drawn from the record.

The analyses are computed in the trainer process, only for the page that is visible
(``SetAnalyses``): a hidden dock costs training nothing. Frames without an analysis (the
costly ones run on their own, sparser schedule) show the last one before them. The gradient
history needs no analysis: it is built from the recorded frames' gradient flows, so it
scrubs with the history slider like everything else.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtGui, QtWidgets

from engines.commands import SetAnalyses
from playground.dock_layout import keep_beside_dashboard
from widgets.gradient_history_view import GradientHistoryView
from widgets.jacobian_view import JacobianView
from widgets.state_space_view import StateSpaceView
from widgets.timescale_view import TimescaleView

#: Page title -> the analyses it needs from the trainer.
PAGES = (
    ("Jacobians", frozenset({"jacobians"})),
    ("Gradient over training", frozenset()),
    ("Memory timescales", frozenset({"timescales"})),
    ("State space", frozenset({"state_space"})),
)


class ForgettingDock(QtWidgets.QDockWidget):
    def __init__(self, window) -> None:
        super().__init__("Why it forgets", window)
        self.setObjectName("forgettingDock")
        self.window_ = window
        self.jacobian_view = JacobianView()
        self.gradient_history_view = GradientHistoryView()
        self.timescale_view = TimescaleView()
        self.state_space_view = StateSpaceView()
        self.tabs = QtWidgets.QTabWidget()
        for (title, _kinds), view in zip(PAGES, self.views(), strict=True):
            self.tabs.addTab(view, title)
        self.setWidget(self.tabs)
        self._asked: frozenset | None = None
        self._stale = True  # hidden, the dock draws nothing; it catches up when shown
        self.tabs.currentChanged.connect(lambda _i: self.ask_trainer())
        self.visibilityChanged.connect(self._on_visibility)
        window.controller.state_changed.connect(self._on_state)
        for view in (self.jacobian_view, self.gradient_history_view, self.state_space_view):
            view.cursor_moved.connect(window.dashboard.set_cursor)
        window.dashboard.cursor_moved.connect(self.set_cursor)
        self.gradient_history_view.frame_picked.connect(window.history_slider.set_index)
        # The titles' equations follow the engine kind the dashboard shows.
        window.dashboard.engine_kind_changed.connect(self.set_engine_kind)
        self.set_engine_kind(window.dashboard.engine_kind())
        toggle = self.toggleViewAction()
        toggle.setShortcut(QtGui.QKeySequence("Ctrl+J"))
        toggle.setText("&Why it forgets")
        keep_beside_dashboard(self, window)

    # --- what the trainer computes ---------------------------------------------------------
    def wanted(self) -> frozenset:
        if not self.isVisible():
            return frozenset()
        return PAGES[self.tabs.currentIndex()][1]

    def ask_trainer(self, force: bool = False) -> None:
        kinds = self.wanted()
        controller = self.window_.controller
        if kinds and not controller.is_active() and self._may_start(controller):
            # A reopened experiment or loaded weights with no trainer alive: a paused one
            # on the record's weights computes the page (asked again once it runs).
            self.window_.start_paused_for_lab()
            return
        if controller.is_active() and (force or kinds != self._asked):
            controller.send_command(SetAnalyses(kinds))
            self._asked = kinds

    def _may_start(self, controller) -> bool:
        """Only for weights that wait to be looked at, never after a diverged run (Reset
        comes first) nor over an untrained setup the user is still changing."""
        return self.window_.experiment.checkpoint is not None and controller.state != "error"

    def _on_state(self, state: str) -> None:
        if state == "starting":
            self._asked = None
        elif state in ("running", "paused"):
            self.ask_trainer()

    def set_engine_kind(self, kind: str | None) -> None:
        """Give every view's title the equations of engine ``kind`` ("" or None: unknown)."""
        for view in self.views():
            view.set_engine_kind(kind or None)

    def views(self) -> tuple:
        return (
            self.jacobian_view,
            self.gradient_history_view,
            self.timescale_view,
            self.state_space_view,
        )

    # --- drawing from the record -----------------------------------------------------------
    def set_cursor(self, t: int) -> None:
        for view in (self.jacobian_view, self.gradient_history_view, self.state_space_view):
            view.set_cursor(int(t))

    def _on_visibility(self, visible: bool) -> None:
        self.ask_trainer()
        if visible and self._stale:
            self.redraw()
            slider = self.window_.history_slider
            self.show_index(slider.index(), live=slider.is_live())

    def redraw(self) -> None:
        """Rebuild what depends on the whole history (after a frame, a thinning, a layer)."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        frames = self.window_.experiment.frames
        layer = self.window_.experiment.view.layer
        steps, norms, radius_steps, radii = [], [], [], []
        for i in range(len(frames)):
            frame, gradients = frames[i]
            steps.append(frame.step)
            own = frame.gradients or gradients
            norms.append(None if own is None else own.hidden[min(layer, len(own.hidden) - 1)])
            radius = (frame.analysis or {}).get("spectral_radius")
            if radius is not None:
                radius_steps.append(frame.step)
                radii.append(float(radius[min(layer, len(radius) - 1)]))
        self.gradient_history_view.set_history(steps, norms)
        if radii:
            self.timescale_view.set_spectral_radius_history(radius_steps, radii)

    def show_index(self, index: int, live: bool) -> None:
        """Show the analysis of frame ``index`` (or the last one before it that has one)."""
        if not self.isVisible():
            self._stale = True
            return
        experiment = self.window_.experiment
        frames = experiment.frames
        self.gradient_history_view.set_index(None if live else index)
        if not len(frames) or index < 0:
            return
        layer = experiment.view.layer
        analysis = {}
        for i in range(min(index, len(frames) - 1), -1, -1):
            found = frames[i][0].analysis
            if found:
                analysis = {**found, **analysis}  # newest value of each key wins
                if {"singular_values", "state_space"} <= analysis.keys():
                    break

        def pick(key):
            value = analysis.get(key)
            return None if value is None else value[min(layer, len(value) - 1)]

        self.jacobian_view.set_data(_column(pick("singular_values")), pick("product_norms"))
        timescales = pick("timescales")
        if timescales is not None:
            self.timescale_view.show_timescales(timescales)
            self.timescale_view.set_horizon(frames[0][0].trace.steps)
        points = pick("state_space")
        self.state_space_view.set_data(points, pick("state_space_explained"))

    def clear(self) -> None:
        for view in self.views():
            view.clear_data()


def _column(values):
    if values is None:
        return None
    values = np.asarray(values)
    return values if values.ndim == 2 else values[:, None]
