import pytest
from PySide6 import QtCore

from widgets.history_slider import HistorySlider
from widgets.transport_bar import TransportBar

# ------------------------------------------------------------------ TransportBar


@pytest.fixture
def bar(qtbot):
    b = TransportBar()
    qtbot.addWidget(b)
    return b


@pytest.mark.parametrize(
    ("state", "text", "toggle", "step", "reset"),
    [
        ("idle", "Train", True, True, True),
        ("running", "Pause", True, False, True),
        ("paused", "Resume", True, True, True),
        ("finished", "Train", True, True, True),
        ("error", "Train", False, False, True),
    ],
)
def test_states_set_buttons(bar, state, text, toggle, step, reset):
    bar.set_state(state)
    assert bar.state() == state
    assert bar.toggle_button.text() == text
    assert bar.toggle_button.isEnabled() is toggle
    assert bar.step_button.isEnabled() is step
    assert bar.reset_button.isEnabled() is reset


def test_toggle_asks_for_train_or_pause(qtbot, bar):
    with qtbot.waitSignal(bar.train_requested):
        bar.toggle()
    bar.set_state("running")
    with qtbot.waitSignal(bar.pause_requested), qtbot.assertNotEmitted(bar.train_requested):
        bar.toggle()
    bar.set_state("paused")
    with qtbot.waitSignal(bar.train_requested):
        qtbot.mouseClick(bar.toggle_button, QtCore.Qt.MouseButton.LeftButton)
    bar.set_state("error")
    with qtbot.assertNotEmitted(bar.train_requested), qtbot.assertNotEmitted(bar.pause_requested):
        bar.toggle()


def test_buttons_emit_requests(qtbot, bar):
    with qtbot.waitSignal(bar.step_requested):
        qtbot.mouseClick(bar.step_button, QtCore.Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(bar.reset_requested):
        qtbot.mouseClick(bar.reset_button, QtCore.Qt.MouseButton.LeftButton)
    bar.set_state("running")
    with qtbot.assertNotEmitted(bar.step_requested):
        qtbot.mouseClick(bar.step_button, QtCore.Qt.MouseButton.LeftButton)


def test_unknown_state_raises(bar):
    with pytest.raises(ValueError, match="state"):
        bar.set_state("exploded")


# ----------------------------------------------------------------- HistorySlider


@pytest.fixture
def history(qtbot):
    h = HistorySlider()
    qtbot.addWidget(h)
    return h


def test_follows_the_newest_snapshot_while_live(qtbot, history):
    assert history.index() == -1 and history.is_live()
    with qtbot.assertNotEmitted(history.index_changed):
        for n in range(1, 6):
            history.set_count(n)
    assert history.index() == 4 and history.is_live()
    assert "live" in history.label.text()


def test_stays_where_the_user_moved_it(qtbot, history):
    history.set_count(10)
    with qtbot.waitSignal(history.index_changed) as moved, qtbot.waitSignal(history.live_changed):
        history.slider.setValue(3)  # what a drag does
    assert moved.args == [3]
    assert not history.is_live()
    history.set_count(20)
    assert history.index() == 3 and not history.is_live()
    assert history.label.text() == "4 / 20"
    with qtbot.waitSignal(history.live_changed) as live:
        history.slider.setValue(19)
    assert live.args == [True] and history.is_live()
    history.set_count(25)
    assert history.index() == 24


def test_go_live_and_reset(qtbot, history):
    history.set_count(10)
    history.set_index(2)
    assert history.live_button.isEnabled()
    history.set_count(12)
    with qtbot.waitSignal(history.index_changed) as moved:
        history.go_live()
    assert moved.args == [11] and history.is_live()
    history.set_index(0)
    history.set_count(0)
    assert history.is_live() and history.index() == -1
    assert history.label.text() == "no snapshots"
    history.set_count(3)
    assert history.index() == 2
