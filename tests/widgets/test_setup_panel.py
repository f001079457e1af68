import pytest
from PySide6 import QtCore

from widgets.setup_panel import DEFAULTS, LogSpinBox, SetupPanel

TASKS = [("adding", "Adding problem"), ("copy", "Copy memory"), ("parity", "Temporal parity")]


@pytest.fixture
def panel(qtbot):
    p = SetupPanel(TASKS)
    qtbot.addWidget(p)
    return p


def test_defaults(panel):
    assert panel.settings() == DEFAULTS
    # The defaults show the memory effect in under a minute on a CPU (issue 4).
    settings = panel.settings()
    assert (settings["task"], settings["length"], settings["engine"]) == ("adding", 50, "lstm")
    assert (settings["hidden"], settings["device"]) == (32, "cpu")
    assert [panel.task_combo.itemText(i) for i in range(3)] == [t for _, t in TASKS]


def test_settings_round_trip(qtbot, panel):
    panel.set_devices([("cpu", "CPU", True, ""), ("cuda:0", "CUDA 0 (H100)", True, "")])
    wanted = {
        "task": "copy",
        "length": 120,
        "engine": "gru",
        "layers": 3,
        "hidden": 512,
        "device": "cuda:0",
        "optimizer": "rmsprop",
        "lr": 2.5e-4,
        "batch": 16,
        "clip": 0.0,
        "init": "orthogonal",
        "forget_bias": 1.0,
        "seed": 1234,
    }
    with qtbot.waitSignal(panel.settings_changed) as blocker:
        panel.set_settings(wanted)
    assert blocker.args == [wanted]
    assert panel.settings() == wanted
    other = SetupPanel(TASKS)
    qtbot.addWidget(other)
    other.set_devices([("cpu", "CPU", True, ""), ("cuda:0", "CUDA 0", True, "")])
    other.set_settings(panel.settings())
    assert other.settings() == wanted
    assert panel.clip_spin.text() == "off"


def test_partial_unknown_and_case_insensitive_settings(panel):
    panel.set_settings({"engine": "RNN", "optimizer": "SGD", "bogus": 1, "task": "no-such-task"})
    s = panel.settings()
    assert s["engine"] == "rnn" and s["optimizer"] == "sgd" and s["task"] == "adding"
    assert s["hidden"] == 32


def test_set_settings_without_change_is_silent(qtbot, panel):
    with qtbot.assertNotEmitted(panel.settings_changed):
        panel.set_settings({"hidden": 32})


def test_user_edit_emits_settings_changed(qtbot, panel):
    with qtbot.waitSignal(panel.settings_changed) as blocker:
        panel.hidden_spin.setValue(64)
    assert blocker.args[0]["hidden"] == 64
    with qtbot.waitSignal(panel.task_changed) as blocker:
        panel.task_combo.setCurrentIndex(2)
    assert blocker.args == ["parity"]


def test_unavailable_devices_are_disabled_with_reason(panel):
    panel.set_devices(
        [
            ("cpu", "CPU", True, ""),
            ("cuda:0", "CUDA 0", False, "PyTorch was built without CUDA"),
            ("mps", "Apple MPS", False, ""),
        ]
    )
    model = panel.device_combo.model()
    cuda = model.item(1)
    assert not cuda.flags() & QtCore.Qt.ItemFlag.ItemIsEnabled
    assert cuda.toolTip() == "PyTorch was built without CUDA"
    assert model.item(2).toolTip()  # some reason is always given
    assert model.item(0).flags() & QtCore.Qt.ItemFlag.ItemIsEnabled
    assert not panel.device_available("cuda:0") and panel.device_available("cpu")
    panel.set_settings({"device": "cuda:0"})
    assert panel.settings()["device"] == "cpu"


def test_current_device_falls_back_when_it_disappears(qtbot, panel):
    panel.set_devices([("cpu", "CPU", True, ""), ("cuda:0", "CUDA 0", True, "")])
    panel.set_settings({"device": "cuda:0"})
    with qtbot.waitSignal(panel.settings_changed) as blocker:
        panel.set_devices([("cpu", "CPU", True, ""), ("cuda:0", "CUDA 0", False, "busy")])
    assert blocker.args[0]["device"] == "cpu"


def test_training_locks_structure_but_not_lr_and_clip(qtbot, panel):
    panel.set_training(True)
    assert panel.is_training()
    for widget in (
        panel.task_combo,
        panel.length_spin,
        panel.engine_combo,
        panel.layers_spin,
        panel.hidden_spin,
        panel.device_combo,
        panel.optimizer_combo,
        panel.batch_spin,
        panel.init_combo,
        panel.forget_bias_spin,
        panel.seed_spin,
    ):
        assert not widget.isEnabled()
    assert panel.lr_spin.isEnabled() and panel.clip_spin.isEnabled()
    with qtbot.waitSignal(panel.live_settings_changed) as blocker:
        panel.lr_spin.setValue(1e-3)
    assert blocker.args == [{"lr": 1e-3, "clip": 1.0}]
    with qtbot.waitSignal(panel.live_settings_changed) as blocker:
        panel.clip_spin.setValue(5.0)
    assert blocker.args == [{"lr": 1e-3, "clip": 5.0}]
    panel.set_training(False)
    assert panel.hidden_spin.isEnabled() and panel.forget_bias_spin.isEnabled()


def test_forget_bias_only_for_lstm(panel):
    assert panel.forget_bias_spin.isEnabled()
    for engine, enabled in (("gru", False), ("rnn", False), ("lstm", True)):
        panel.engine_combo.setCurrentIndex(panel.engine_combo.findData(engine))
        assert panel.forget_bias_spin.isEnabled() is enabled


def test_length_range(qtbot, panel):
    with qtbot.waitSignal(panel.settings_changed) as blocker:
        panel.set_length_range(2, 20, label="delay")
    assert blocker.args[0]["length"] == 20
    assert panel.length_label.text() == "delay"
    panel.set_settings({"length": 5})
    assert panel.settings()["length"] == 5
    with pytest.raises(ValueError, match="lo"):
        panel.set_length_range(10, 1)


def test_log_spin_box_steps_along_one_two_five(qtbot):
    spin = LogSpinBox()
    qtbot.addWidget(spin)
    spin.setValue(1e-3)
    seen = []
    for _ in range(4):
        spin.stepBy(1)
        seen.append(spin.value())
    assert seen == pytest.approx([2e-3, 5e-3, 1e-2, 2e-2])
    spin.setValue(3e-3)
    spin.stepBy(-1)
    assert spin.value() == pytest.approx(2e-3)
    spin.setValue(3e-3)
    spin.stepBy(1)
    assert spin.value() == pytest.approx(5e-3)
    assert spin.textFromValue(5e-3) == "0.005"
    assert spin.valueFromText("2.5e-4") == pytest.approx(2.5e-4)
