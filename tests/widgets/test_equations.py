"""Every view's title explains itself: its equation in PyTorch's form and gate order."""

from __future__ import annotations

import pytest

from widgets.dashboard import ENGINE_LAYOUTS, Dashboard
from widgets.equations import equation, intervention_equation, kind_for_gates, view_tooltip


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_every_heatmap_title_has_its_equation_as_tooltip(qtbot, kind):
    dashboard = Dashboard()
    qtbot.addWidget(dashboard)
    dashboard.configure(*ENGINE_LAYOUTS[kind])
    views = dashboard.heatmaps()
    assert set(views) == {"hidden", *(["cell"] if kind == "lstm" else []), *ENGINE_LAYOUTS[kind][0]}
    for name, view in views.items():
        tip = view.title_tooltip()
        assert equation(kind, name) and equation(kind, name).split(" = ")[0] in tip, name
        assert "PyTorch" in tip


def test_pytorch_forms_and_order():
    assert kind_for_gates(["input", "forget", "candidate", "output"]) == "lstm"
    assert kind_for_gates(["reset", "update", "candidate"]) == "gru"
    assert kind_for_gates(["forget"]) is None
    # PyTorch's GRU puts the reset around W_hn h + b_hn (not around h alone, as the paper).
    assert (
        equation("gru", "candidate") == "n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t−1} + b_hn))"
    )
    assert equation("gru", "hidden") == "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}"
    assert equation("lstm", "cell") == "c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t"
    assert "W_ii | W_if | W_ig | W_io" in view_tooltip("lstm", "input")
    assert view_tooltip("rnn", "cell") == ""


def test_intervention_equations_name_what_is_held_and_where_it_acts():
    reset = intervention_equation("gru", "clamp", "reset", 0.0)
    assert "r_t ← 0" in reset and "n_t = tanh" in reset
    assert "b_in ← 1.5, b_hn ← 0" in intervention_equation("gru", "set_bias", "candidate", 1.5)
    assert "h_t ← 0" in intervention_equation("rnn", "ablate", None, 0.0)
    assert "c_t" not in intervention_equation("gru", "ablate", None, 0.0)
