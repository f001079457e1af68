"""The gate lab panel: what a user does with it, and the dicts it says the network should get.

The dicts are the engines' ``to_dict`` form; one test reads them back with
``engines.interventions.from_dict`` (numpy only, no torch), and one runs them through an engine
into two heatmaps, the altered run beside the unaltered one.
"""

from __future__ import annotations

import numpy as np
import pytest

from widgets.gate_lab_panel import GateLabPanel
from widgets.heatmap_view import HEATMAP_STYLES, HeatmapView

LSTM = (["input", "forget", "candidate", "output"], True)
GRU = (["reset", "update", "candidate"], False)


@pytest.fixture
def panel(qtbot):
    p = GateLabPanel()
    qtbot.addWidget(p)
    p.configure(*LSTM, hidden_size=8, steps=30, layers=2)
    p.show()
    return p


def emitted(qtbot, signal, action):
    """Run ``action`` and return the args of the ``signal`` it emits."""
    with qtbot.waitSignal(signal, timeout=1000) as blocker:
        action()
    return blocker.args


def test_choose_gate_value_units_steps_and_layer_then_add(qtbot, panel):
    panel.gate_combo.setCurrentIndex(1)  # forget
    panel.value_slider.setValue(0.25)
    panel.units_edit.setText("0-2, 5")
    panel.every_step_check.setChecked(False)
    panel.steps_slider.setValue((10, 19))
    panel.layer_combo.setCurrentIndex(2)  # layer 1
    (items,) = emitted(qtbot, panel.interventions_changed, panel.add_button.click)
    assert items == [
        {
            "type": "clamp",
            "gate": "forget",
            "value": 0.25,
            "units": [0, 1, 2, 5],
            "steps": {"start": 10, "stop": 20},
            "layer": 1,
        }
    ]
    assert panel.list_widget.count() == 1 and panel.list_widget.currentRow() == 0
    assert "forget" in panel.list_widget.item(0).text()


def test_the_dicts_are_what_the_engines_read(qtbot, panel):
    from engines.interventions import Ablate, Clamp, SetBias, from_dict

    panel.gate_combo.setCurrentIndex(0)
    panel.value_slider.setValue(0.0)
    panel.every_step_check.setChecked(False)
    panel.steps_slider.setValue((3, 7))
    panel.add_current()
    panel.add_current()  # a second entry like the first; the controls now edit it
    panel.action_combo.setCurrentIndex(1)  # silence
    panel.units_edit.setText("4")
    panel.add_current()
    panel.action_combo.setCurrentIndex(2)  # bias
    panel.gate_combo.setCurrentIndex(3)
    panel.value_slider.setValue(-2.5)
    read = [from_dict(item) for item in panel.interventions()]
    assert read == [
        Clamp("input", 0.0, steps=range(3, 8)),
        Ablate([4], steps=range(3, 8)),
        SetBias("output", -2.5, units=[4]),
    ]


def test_the_value_slider_edits_the_selected_entry_live(qtbot, panel):
    panel.apply_preset("forget_open")
    (items,) = emitted(qtbot, panel.interventions_changed, lambda: panel.value_slider.setValue(0.6))
    qtbot.waitUntil(lambda: panel.interventions()[0]["value"] == 0.6)
    assert items[-1]["gate"] == "forget"
    # A burst of slider moves arrives as its last value.
    seen = []
    panel.interventions_changed.connect(seen.append)
    for value in np.linspace(0.6, 0.9, 20):
        panel.value_slider.setValue(float(value))
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0]["value"] == 0.9)
    assert len(seen) < 20


def test_bad_units_say_why_and_change_nothing(qtbot, panel):
    panel.apply_preset("no_input")
    with qtbot.assertNotEmitted(panel.interventions_changed, wait=100):
        panel.units_edit.setText("3-1")
    assert "backwards" in panel.units_error.text()
    panel.units_edit.setText("9")
    assert "out of range" in panel.units_error.text()
    assert panel.interventions()[0]["units"] is None
    assert panel.add_current() is None
    panel.units_edit.setText("7")
    assert panel.units_error.text() == ""


@pytest.mark.parametrize(
    "name, gate, value",
    [("forget_open", "forget", 1.0), ("no_input", "input", 0.0), ("output_shut", "output", 0.0)],
)
def test_lstm_presets(qtbot, panel, name, gate, value):
    assert panel.preset_buttons[name].isVisible()
    (items,) = emitted(qtbot, panel.interventions_changed, panel.preset_buttons[name].click)
    assert items == [
        {"type": "clamp", "gate": gate, "value": value, "units": None, "steps": None, "layer": None}
    ]
    assert panel.gate_combo.currentData() == gate  # the controls show it, ready to narrow


def test_gru_preset_and_which_presets_each_engine_offers(qtbot, panel):
    assert not panel.preset_buttons["never_update"].isVisible()
    panel.configure(*GRU, hidden_size=4, steps=20, layers=1)
    assert [panel.gate_combo.itemData(i) for i in range(panel.gate_combo.count())] == GRU[0]
    visible = {n for n, b in panel.preset_buttons.items() if b.isVisible()}
    assert visible == {"never_update", "memory_unit"}
    (items,) = emitted(
        qtbot, panel.interventions_changed, panel.preset_buttons["never_update"].click
    )
    assert items[0]["gate"] == "update" and items[0]["value"] == 1.0
    with pytest.raises(ValueError, match="LSTM"):
        panel.apply_preset("forget_open")


def test_memory_unit_preset_asks_the_controller_and_takes_its_answer(qtbot, panel):
    (name,) = emitted(qtbot, panel.preset_requested, panel.preset_buttons["memory_unit"].click)
    assert name == "memory_unit"
    assert panel.interventions() == []
    (items,) = emitted(qtbot, panel.interventions_changed, lambda: panel.silence_unit(3))
    assert items == [{"type": "ablate", "units": [3], "steps": None, "layer": None}]
    with pytest.raises(ValueError, match="unit"):
        panel.silence_unit(8)


def test_dragging_on_a_heatmap_selects_units_and_steps(qtbot, qt_helpers, panel):
    levels, cmap = HEATMAP_STYLES["gate"]
    view = HeatmapView("forget gate", levels, cmap)
    qtbot.addWidget(view)
    view.set_data(np.random.default_rng(0).random((8, 30)))
    qt_helpers.settle(qtbot, view)
    view.region_selected.connect(lambda *r: panel.set_region(*r, view="forget"))
    panel.selection_mode_toggled.connect(view.set_selection_mode)
    panel.apply_preset("no_input")  # the entry the drag narrows
    panel.pick_button.click()  # "Select on heatmaps": a plain drag selects
    start = qt_helpers.view_point(view, view.scene_pos_of(1, 4))
    end = qt_helpers.view_point(view, view.scene_pos_of(3, 12))
    with qtbot.waitSignal(view.region_selected) as blocker:
        qt_helpers.mouse_drag(view, start, end)
    assert blocker.args == [1, 3, 4, 12]
    qtbot.waitUntil(lambda: panel.interventions()[0]["units"] == [1, 2, 3])
    (item,) = panel.interventions()
    assert item["gate"] == "forget"  # dragged on the forget heatmap
    assert item["steps"] == {"start": 4, "stop": 13}
    assert panel.units_edit.text() == "1-3"
    assert panel.steps_slider.value() == (4, 12)


def test_clear_empties_the_list_in_one_click(qtbot, panel):
    panel.apply_preset("forget_open")
    panel.apply_preset("no_input")
    panel.silence_unit(2)
    assert len(panel.interventions()) == 3
    (items,) = emitted(qtbot, panel.interventions_changed, panel.clear_button.click)
    assert items == [] and panel.interventions() == []
    assert panel.list_widget.count() == 0


def test_remove_drops_the_selected_entry(qtbot, panel):
    panel.apply_preset("forget_open")
    panel.apply_preset("no_input")
    panel.list_widget.setCurrentRow(0)
    (items,) = emitted(qtbot, panel.interventions_changed, panel.remove_button.click)
    assert [i["gate"] for i in items] == ["input"]


def test_another_engine_clears_what_no_longer_fits(qtbot, panel):
    panel.apply_preset("forget_open")
    (items,) = emitted(qtbot, panel.interventions_changed, lambda: panel.configure(*GRU, 8, 30, 2))
    assert items == []
    emitted(qtbot, panel.interventions_changed, lambda: panel.apply_preset("never_update"))
    with qtbot.assertNotEmitted(panel.interventions_changed, wait=50):
        panel.configure(*GRU, 8, 45, 2)  # a longer probe: same engine, keep them
    assert len(panel.interventions()) == 1


def test_the_equation_of_the_altered_gate_is_shown(panel):
    panel.apply_preset("forget_open")
    text = panel.equation_text()
    assert "f_t ← 1" in text
    assert "σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)" in text
    assert "c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t" in text
    panel.action_combo.setCurrentIndex(2)
    assert "b_if + b_hf ←" in panel.equation_text()
    panel.action_combo.setCurrentIndex(1)
    assert "h_t ← 0 and c_t ← 0" in panel.equation_text()


def test_difference_toggle_and_losses(qtbot, panel):
    (on,) = emitted(qtbot, panel.difference_toggled, panel.difference_check.click)
    assert on is True and panel.difference_shown()
    panel.set_losses(0.1667, 0.52)
    assert panel.loss_label.text() == "probe loss 0.1667 → 0.52"
    panel.set_losses(None, None)
    assert "—" in panel.loss_label.text()


def test_set_interventions_shows_them_without_emitting(qtbot, panel):
    items = [{"type": "ablate", "units": [1, 2], "steps": {"start": 2, "stop": 9}, "layer": 0}]
    with qtbot.assertNotEmitted(panel.interventions_changed, wait=50):
        panel.set_interventions(items)
    assert panel.interventions() == items
    panel.list_widget.setCurrentRow(0)
    assert panel.units_edit.text() == "1-2" and panel.steps_slider.value() == (2, 8)


def test_select_on_heatmaps_button_toggles_selection_mode(qtbot, panel):
    (on,) = emitted(qtbot, panel.selection_mode_toggled, panel.pick_button.click)
    assert on is True


def test_the_panel_drives_an_engine_and_the_views_hold_both_runs(qtbot, qt_helpers, panel):
    """End to end without the window: the panel's dicts, an engine's trace, two heatmaps."""
    torch = pytest.importorskip("torch")
    from engines import create_engine

    engine = create_engine("lstm", 2, 8, 1, num_layers=2, seed=0)
    x = torch.randn(1, 30, 2, generator=torch.Generator().manual_seed(0))
    panel.apply_preset("forget_open")
    panel.apply_preset("no_input")
    altered = engine.trace(x, panel.interventions())
    plain = engine.trace(x)
    levels, cmap = HEATMAP_STYLES["state"]
    views = [HeatmapView("cell state c_t", levels, cmap) for _ in range(2)]
    for view, trace in zip(views, (altered, plain), strict=True):
        qtbot.addWidget(view)
        view.set_data(trace.cell[0, 0].T)
    assert np.all(views[0].data() == 0.0)  # f = 1, i = 0: the cell never stores anything
    assert np.any(views[1].data() != 0.0)
