"""The compare window's widgets without a trainer: engine rows and presets, a loss curve and a
gradient line per engine, and an engine's column of heatmaps on the time cursor."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtWidgets

from widgets.compare_plots import CompareGradientPlot, CompareLossPlot
from widgets.engine_column import EngineColumn
from widgets.engine_setup import EngineSetup

PRESETS = {
    "kinds": ({"engine": "rnn"}, {"engine": "lstm"}, {"engine": "gru"}),
    "bias": ({"engine": "lstm", "forget_bias": 0.0}, {"engine": "lstm", "forget_bias": 1.0}),
}


def test_engine_rows_presets_and_their_limits(qtbot):
    setup = EngineSetup(PRESETS)
    qtbot.addWidget(setup)
    with qtbot.waitSignal(setup.engines_changed):
        setup.apply_preset("kinds")
    assert [e["engine"] for e in setup.engines()] == ["rnn", "lstm", "gru"]
    assert setup.weights_seeds() == [0, 1, 2]
    assert not setup.add_button.isEnabled()  # three at most
    setup.set_engines([{"engine": "gru", "hidden": 40}, {"engine": "gru", "layers": 2}], [7, 7])
    engines = setup.engines()
    assert [e["hidden"] for e in engines] == [40, 32]  # a key left out keeps the row's value
    assert [e["layers"] for e in engines] == [1, 2]
    assert setup.weights_seeds() == [7, 7] and not setup.remove_button.isEnabled()
    setup.apply_preset("bias")  # over the first row's settings: hidden 40 stays
    assert [(e["engine"], e["forget_bias"], e["hidden"]) for e in setup.engines()] == [
        ("lstm", 0.0, 40),
        ("lstm", 1.0, 40),
    ]
    setup.set_parameter_counts([1000, 1040])
    assert setup.parameter_texts() == ["1,000", "1,040 (+4.0 %)"]
    setup.set_training(True)
    assert not setup.match_button.isEnabled()
    assert not any(box.isEnabled() for box in setup.findChildren(QtWidgets.QAbstractSpinBox))
    with pytest.raises(ValueError, match="2 or 3 engines"):
        setup.set_engines([{"engine": "rnn"}])


def test_a_loss_curve_and_a_gradient_line_per_engine(qtbot):
    loss = CompareLossPlot()
    gradient = CompareGradientPlot()
    for plot in (loss, gradient):
        qtbot.addWidget(plot)
        plot.set_engines(["RNN", "LSTM"])
    loss.append(0, [1, 2, 3], [0.5, 0.4, 0.3], [3], [0.35])
    loss.append(1, [1, 2], [0.6, 0.2])
    steps, losses, test_steps, test_losses = loss.engine_data(0)
    np.testing.assert_array_equal(steps, [1, 2, 3])
    np.testing.assert_array_equal(test_losses, [0.35])
    assert len(loss.engine_data(1)[0]) == 2 and len(loss.engine_data(1)[2]) == 0
    legend = [item[1].text for item in loss.plot_item.legend.items]
    assert legend == ["RNN", "RNN (test)", "LSTM", "LSTM (test)"]
    loss.set_log_y(True)  # every engine's curves follow the scale
    assert all(c.opts["logMode"][1] for c in loss._curves())
    loss.clear()
    assert all(len(loss.engine_data(i)[0]) == 0 for i in range(2))
    gradient.set_engine_data(0, np.array([1e-6, 1e-3, 1.0]))
    gradient.set_engine_data(1, np.array([0.5, 0.6, 1.0]))
    np.testing.assert_allclose(gradient.engine_data(0), [1e-6, 1e-3, 1.0])
    assert gradient.cursor.count() == 3
    drawn = [c.getOriginalDataset()[1] for c in gradient._curves()]
    np.testing.assert_allclose(drawn[1], [0.5, 0.6, 1.0])


def test_an_engine_column_shows_its_heatmaps_on_the_cursor(qtbot, qt_helpers):
    column = EngineColumn("LSTM")
    qtbot.addWidget(column)
    column.configure(["input", "forget", "candidate", "output"], has_cell=True)
    frame = qt_helpers.make_frame("lstm", steps=12, units=5)
    column.show_frame(frame)
    heatmaps = column.heatmaps()
    assert set(heatmaps) == {"hidden", "cell", "input", "forget", "candidate", "output"}
    np.testing.assert_array_equal(heatmaps["forget"].data(), frame["gates"]["forget"])
    np.testing.assert_array_equal(heatmaps["cell"].data(), frame["cell"])
    column.set_cursor(4)
    assert {view.cursor_value() for view in heatmaps.values()} == {4}
    with qtbot.waitSignal(column.cursor_moved) as moved:
        heatmaps["input"].cursor_moved.emit(7)
    assert moved.args == [7]
    column.configure(["preactivation"], has_cell=False)
    assert set(column.heatmaps()) == {"hidden", "preactivation"}
