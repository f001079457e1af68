"""One engine's column in a comparison: its title (name, parameter count, weights seed) over
its state and gate heatmaps, stacked, on the comparison's shared time cursor.

The heatmaps are the single run's (``HeatmapView``, with the dashboard's fixed colour levels
and each title's equation as its tooltip), so a gate's 0.3 looks the same in every column and
in the main window.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from widgets.dashboard import CELL_LEVELS, GATE_STYLES
from widgets.equations import kind_for_gates, view_tooltip
from widgets.heatmap_view import HEATMAP_STYLES, HeatmapView


class EngineColumn(QtWidgets.QWidget):
    """The heatmaps of one engine (hidden state, the LSTM's cell state, one per gate).

    Signals
    -------
    cursor_moved(int)
        The user dragged the time cursor in one of the heatmaps.
    cell_hovered(str, int, int, float)
        View name, unit, step and value under the mouse.
    """

    cursor_moved = QtCore.Signal(int)
    cell_hovered = QtCore.Signal(str, int, int, float)

    def __init__(self, title: str = "", color=(255, 255, 255), parent=None) -> None:
        super().__init__(parent)
        self.title_label = QtWidgets.QLabel(title)
        self.title_label.setWordWrap(True)
        red, green, blue = color
        self.title_label.setStyleSheet(
            f"QLabel {{ border-left: 6px solid rgb({red}, {green}, {blue}); padding-left: 4px;"
            " font-weight: bold; }"
        )
        self._views: dict[str, HeatmapView] = {}
        self._grid = QtWidgets.QGridLayout()
        self._grid.setSpacing(2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title_label)
        layout.addLayout(self._grid, 1)

    def set_title(self, text: str, tooltip: str = "") -> None:
        self.title_label.setText(text)
        self.title_label.setToolTip(tooltip)

    def title(self) -> str:
        return self.title_label.text()

    def configure(self, gate_names: list[str], has_cell: bool) -> None:
        """Build the heatmaps of one engine kind (the old ones go): one column for two
        heatmaps, two columns for more, so an LSTM's six keep a readable height."""
        for view in self._views.values():
            self._grid.removeWidget(view)
            view.deleteLater()
        state_levels, state_cmap = HEATMAP_STYLES["state"]
        specs = [("hidden", "hidden state h_t", state_levels, state_cmap)]
        if has_cell:
            specs.append(("cell", "cell state c_t", CELL_LEVELS, state_cmap))
        for name in gate_names:
            style = GATE_STYLES.get(name, "state")
            levels, cmap = HEATMAP_STYLES[style]
            specs.append((name, f"{name} gate" if style == "gate" else name, levels, cmap))
        kind = kind_for_gates(gate_names)
        self._views = {}
        columns = 1 if len(specs) <= 2 else 2
        for index, (name, title, levels, cmap) in enumerate(specs):
            view = HeatmapView(title, levels, cmap)
            view.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys go to the window
            view.set_title_tooltip(view_tooltip(kind, name))
            view.cursor_moved.connect(self.cursor_moved)
            view.hovered.connect(
                lambda unit, step, value, n=name: self.cell_hovered.emit(n, unit, step, value)
            )
            view.plot_item.setLabel("bottom", "")  # the time axis reads the same everywhere
            self._views[name] = view
            self._grid.addWidget(view, index // columns, index % columns)
        for row in range((len(specs) + columns - 1) // columns):
            self._grid.setRowStretch(row, 1)

    def heatmaps(self) -> dict[str, HeatmapView]:
        """The heatmaps by name: ``hidden``, ``cell`` (LSTM), the gate names."""
        return dict(self._views)

    def show_frame(self, frame: dict | None) -> None:
        """Show ``frame`` (``hidden`` and ``cell`` (units, T) arrays, ``gates`` {name:
        (units, T)}: the dashboard's frame dict); None clears every heatmap."""
        frame = frame or {}
        gates = frame.get("gates") or {}
        for name, view in self._views.items():
            view.set_data(frame.get(name) if name in ("hidden", "cell") else gates.get(name))

    def set_cursor(self, t: int) -> None:
        for view in self._views.values():
            view.set_cursor(t)
