"""Train / Pause, Step and Reset buttons.

The bar only asks (``train_requested``, ``pause_requested``, ...); it changes its look when the
controller reports the run's actual state with :meth:`TransportBar.set_state`, so the buttons
can never disagree with the trainer.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

STATES = ("idle", "running", "paused", "finished", "error")

#: state -> (toggle text, toggle enabled, step enabled, reset enabled)
_LOOK: dict[str, tuple[str, bool, bool, bool]] = {
    "idle": ("Train", True, True, True),
    "running": ("Pause", True, False, True),
    "paused": ("Resume", True, True, True),
    "finished": ("Train", True, True, True),
    "error": ("Train", False, False, True),
}


class TransportBar(QtWidgets.QWidget):
    """Run controls; see :data:`STATES` for the states :meth:`set_state` accepts."""

    train_requested = QtCore.Signal()
    pause_requested = QtCore.Signal()
    step_requested = QtCore.Signal()
    reset_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        style = self.style()
        self._play_icon = style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPause)
        self.toggle_button = QtWidgets.QPushButton("Train")
        self.step_button = QtWidgets.QPushButton(
            style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaSkipForward), "Step"
        )
        self.reset_button = QtWidgets.QPushButton(
            style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_BrowserReload), "Reset"
        )
        self.toggle_button.setToolTip("Start or pause training (Space)")
        self.step_button.setToolTip("Run one training step")
        self.reset_button.setToolTip("Stop and re-initialise the model")
        self.state_label = QtWidgets.QLabel()
        self.state_label.setMinimumWidth(60)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for button in (self.toggle_button, self.step_button, self.reset_button):
            layout.addWidget(button)
        layout.addWidget(self.state_label)
        layout.addStretch(1)

        self.toggle_button.clicked.connect(self.toggle)
        self.step_button.clicked.connect(self.step_requested)
        self.reset_button.clicked.connect(self.reset_requested)
        self._state = ""
        self.set_state("idle")

    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        if state not in _LOOK:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        self._state = state
        text, toggle_on, step_on, reset_on = _LOOK[state]
        self.toggle_button.setText(text)
        self.toggle_button.setIcon(self._pause_icon if state == "running" else self._play_icon)
        self.toggle_button.setEnabled(toggle_on)
        self.step_button.setEnabled(step_on)
        self.reset_button.setEnabled(reset_on)
        self.state_label.setText(state)

    def toggle(self) -> None:
        """Ask to pause when running, else to train (nothing when the toggle is disabled)."""
        if self._state == "running":
            self.pause_requested.emit()
        elif self.toggle_button.isEnabled():
            self.train_requested.emit()
