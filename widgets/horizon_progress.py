"""Progress of a memory-horizon sweep: a bar for the whole sweep with the time left, and one
row per run with a bar of its steps and what became of it.

Plain values in (run names, steps, texts): the playground's horizon dialog watches the runs'
processes and tells this widget what to show, so it knows nothing of processes or files.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

OVERALL_RANGE = 1000  # the overall bar counts thousandths: a run's steps move it smoothly


class HorizonProgress(QtWidgets.QWidget):
    """The sweep's progress. ``set_runs`` first, then ``set_run_progress`` /
    ``set_run_result`` per run and ``set_overall`` for the whole."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.overall_bar = QtWidgets.QProgressBar()
        self.overall_bar.setRange(0, OVERALL_RANGE)
        self.overall_bar.setTextVisible(False)
        self.overall_label = QtWidgets.QLabel("No sweep running")
        self.table = QtWidgets.QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Run", "Steps", "Result"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.Stretch)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.overall_label)
        layout.addWidget(self.overall_bar)
        layout.addWidget(self.table, 1)
        self._rows: dict[str, int] = {}

    # --- runs ------------------------------------------------------------------------------
    def set_runs(
        self, names: list[str], results: dict[str, str] | None = None, steps: int = 1
    ) -> None:
        """One row per run, in order; ``results`` pre-fills some (runs already finished);
        ``steps``: each run's training steps (``0 / 300`` while it waits)."""
        results = results or {}
        steps = max(1, int(steps))
        self.table.setRowCount(len(names))
        self._rows = {name: row for row, name in enumerate(names)}
        for row, name in enumerate(names):
            self.table.setItem(row, 0, QtWidgets.QTableWidgetItem(name))
            bar = QtWidgets.QProgressBar()
            bar.setRange(0, steps)
            bar.setValue(steps if name in results else 0)
            bar.setFormat("%v / %m")
            bar.setTextVisible(name not in results)
            self.table.setCellWidget(row, 1, bar)
            self.table.setItem(row, 2, QtWidgets.QTableWidgetItem(results.get(name, "waiting")))

    def run_names(self) -> list[str]:
        return list(self._rows)

    def set_run_progress(self, name: str, step: int, total: int) -> None:
        bar = self._bar(name)
        if bar is None:
            return
        bar.setRange(0, max(1, int(total)))
        bar.setValue(max(0, min(int(step), int(total))))
        bar.setTextVisible(True)

    def run_progress(self, name: str) -> tuple[int, int]:
        """(step, total) the row shows."""
        bar = self._bar(name)
        return (bar.value(), bar.maximum()) if bar is not None else (0, 0)

    def set_run_result(self, name: str, text: str) -> None:
        row = self._rows.get(name)
        if row is not None:
            self.table.item(row, 2).setText(text)

    def run_result(self, name: str) -> str:
        row = self._rows.get(name)
        return self.table.item(row, 2).text() if row is not None else ""

    # --- the whole sweep -------------------------------------------------------------------
    def set_overall(self, fraction: float, text: str) -> None:
        """``fraction`` of the sweep done (0..1, runs in progress counted by their steps)."""
        fraction = min(1.0, max(0.0, float(fraction)))
        self.overall_bar.setValue(round(fraction * OVERALL_RANGE))
        self.overall_label.setText(text)

    def overall_fraction(self) -> float:
        return self.overall_bar.value() / OVERALL_RANGE

    def _bar(self, name: str) -> QtWidgets.QProgressBar | None:
        row = self._rows.get(name)
        return self.table.cellWidget(row, 1) if row is not None else None

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt override
        return QtCore.QSize(420, 260)
