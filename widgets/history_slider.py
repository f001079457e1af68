"""A slider over the stored snapshots that follows the newest one until the user looks back.

At the right end the slider is "live": as snapshots arrive it moves with them, silently (the
controller is showing the newest snapshot anyway). Once the user drags it back it stays on the
snapshot they chose, however many arrive, until they return to the right end or press "Live".
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


class HistorySlider(QtWidgets.QWidget):
    """Snapshot index picker.

    Signals
    -------
    index_changed(int)
        The shown snapshot changed by the user (or :meth:`set_index`), not by live following.
    live_changed(bool)
        Following the newest snapshot started or stopped.
    """

    index_changed = QtCore.Signal(int)
    live_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(10)
        self.label = QtWidgets.QLabel()
        self.label.setMinimumWidth(110)
        self.live_button = QtWidgets.QPushButton("Live")
        self.live_button.setToolTip("Follow the newest snapshot")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QtWidgets.QLabel("history"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.live_button)
        self._count = 0
        self._live = True
        self._following = False
        self.slider.valueChanged.connect(self._on_value_changed)
        self.live_button.clicked.connect(self.go_live)
        self._refresh()

    def count(self) -> int:
        return self._count

    def index(self) -> int:
        """The shown snapshot, -1 when there is none."""
        return self.slider.value() if self._count else -1

    def is_live(self) -> bool:
        return self._live

    def set_count(self, n: int) -> None:
        """There are now ``n`` snapshots; follow the newest if live, else stay put."""
        n = max(0, int(n))
        self._count = n
        self._following = True
        try:
            self.slider.setMaximum(max(0, n - 1))
            if self._live or n == 0:
                self.slider.setValue(max(0, n - 1))
        finally:
            self._following = False
        if self.slider.value() >= n - 1:
            self._set_live(True)  # shrunk (a reset) past the chosen snapshot
        self._refresh()

    def set_index(self, index: int) -> None:
        """Show snapshot ``index`` (clamped), as if the user had moved the slider."""
        self.slider.setValue(int(index))

    def go_live(self) -> None:
        self.set_index(max(0, self._count - 1))
        self._set_live(True)

    def _on_value_changed(self, value: int) -> None:
        if self._following:
            return
        self._set_live(value >= self._count - 1)
        self._refresh()
        if self._count:
            self.index_changed.emit(value)

    def _set_live(self, live: bool) -> None:
        if live != self._live:
            self._live = live
            self.live_changed.emit(live)
        self._refresh()

    def _refresh(self) -> None:
        self.slider.setEnabled(self._count > 1)
        self.live_button.setEnabled(not self._live)
        if not self._count:
            self.label.setText("no snapshots")
        elif self._live:
            self.label.setText(f"live ({self._count})")
        else:
            self.label.setText(f"{self.slider.value() + 1} / {self._count}")
