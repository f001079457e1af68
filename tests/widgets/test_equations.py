"""Every view's title explains itself: its equation in PyTorch's form and gate order."""

from __future__ import annotations

import pytest

from widgets.dashboard import ENGINE_LAYOUTS, Dashboard
from widgets.equations import (
    EQUATIONS,
    VIEW_EQUATIONS,
    equation,
    intervention_equation,
    kind_for_gates,
    view_tooltip,
)
from widgets.gradient_history_view import GradientHistoryView
from widgets.jacobian_view import JacobianView
from widgets.state_space_view import StateSpaceView
from widgets.timescale_view import TimescaleView

KINDS = ["lstm", "gru", "rnn"]

#: The "why it forgets" views by their names in widgets.equations.
FORGETTING_VIEWS = {
    "jacobians": JacobianView,
    "gradient_history": GradientHistoryView,
    "timescales": TimescaleView,
    "state_space": StateSpaceView,
}


def title_tooltips(view) -> list[str]:
    """The tooltip of every title of ``view`` (the sequence, Jacobian and timescale views have
    two plots, each titled)."""
    plots = view.title_plots() if hasattr(view, "title_plots") else [view.plot_item]
    return [plot.titleLabel.toolTip() for plot in plots]


def assert_titles_explain(view, kind: str, name: str) -> str:
    expected = view_tooltip(kind, name)
    assert expected, (kind, name)
    assert view.title_tooltip() == expected, (kind, name)
    assert set(title_tooltips(view)) == {expected}, (kind, name)
    return expected


def test_every_dashboard_view_title_has_its_equation_and_follows_the_kind(qtbot):
    dashboard = Dashboard()
    qtbot.addWidget(dashboard)
    kinds_seen = []
    dashboard.engine_kind_changed.connect(kinds_seen.append)
    shown: dict[str, dict[str, str]] = {}
    for kind in [*KINDS, "lstm"]:  # each kind, and back: every change updates the titles
        dashboard.configure(*ENGINE_LAYOUTS[kind])
        assert dashboard.engine_kind() == kind
        views = dashboard.views()
        heatmaps = {"hidden", *(["cell"] if kind == "lstm" else []), *ENGINE_LAYOUTS[kind][0]}
        assert set(views) == {"sequence", "loss", "gradient", "unit", *heatmaps}
        texts = {name: assert_titles_explain(view, kind, name) for name, view in views.items()}
        shown.setdefault(kind, texts)
        assert texts == shown[kind]
    assert kinds_seen == ["gru", "rnn", "lstm"]
    # The views whose equations depend on the kind changed with it; the others did not.
    for name in ("hidden", "candidate", "gradient", "unit"):
        assert len({shown[kind][name] for kind in KINDS if name in shown[kind]}) > 1, name
    for name in ("sequence", "loss"):
        assert len({shown[kind][name] for kind in KINDS}) == 1, name


@pytest.mark.parametrize("name", list(FORGETTING_VIEWS))
def test_every_why_it_forgets_view_title_has_its_equation_and_follows_the_kind(qtbot, name):
    view = FORGETTING_VIEWS[name]()
    qtbot.addWidget(view)
    assert view.title_tooltip() == view_tooltip(None, name) != ""  # before a kind is known
    texts = {}
    for kind in [*KINDS, "lstm"]:
        view.set_engine_kind(kind)
        assert view.engine_kind() == kind
        texts.setdefault(kind, assert_titles_explain(view, kind, name))
        assert view.title_tooltip() == texts[kind]
    depends_on_kind = set(VIEW_EQUATIONS[name]) - {""}
    assert len(set(texts.values())) == (3 if depends_on_kind else 1)


def test_the_texts_say_what_each_view_computes():
    sequence = view_tooltip("lstm", "sequence")
    assert "y_t = W_hy h_t + b_y" in sequence and "nn.Linear" in sequence
    gradient = view_tooltip("lstm", "gradient")
    assert "dL/dh_t = ∂L/∂h_t + dL/ds_{t+1}" in gradient and "dL/dx_t" in gradient
    assert "s_t = (h_t, c_t)" in gradient and "total derivative" in gradient
    assert "baseline" in view_tooltip("gru", "loss") and "test" in view_tooltip("gru", "loss")
    for kind in KINDS:  # the unit plot: every equation of its kind, in PyTorch's order
        unit = view_tooltip(kind, "unit")
        positions = [unit.index(line.split(" = ")[0]) for line in EQUATIONS[kind].values()]
        assert positions == sorted(positions)
    jacobians = {kind: view_tooltip(kind, "jacobians") for kind in KINDS}
    assert all(
        "J_t = ∂s_t/∂s_{t−1}" in text and "J_t ⋯ J_{k+1}" in text for text in jacobians.values()
    )
    assert "s_t = (h_t, c_t)" in jacobians["lstm"] and "diag(f_t)" in jacobians["lstm"]
    assert "s_t = h_t" in jacobians["gru"] and "diag(z_t)" in jacobians["gru"]
    assert "diag(1 − h_t²) W_hh" in jacobians["rnn"]
    assert "log10 ‖dL/dh_t‖" in view_tooltip("rnn", "gradient_history")
    assert "forget gate f_t" in view_tooltip("lstm", "timescales")
    assert "update gate z_t" in view_tooltip("gru", "timescales")
    assert "spectral radius" in view_tooltip("rnn", "timescales")
    assert "PCA of h_0" in view_tooltip("gru", "state_space")
    assert view_tooltip("lstm", "no such view") == ""


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
    assert "W_ir | W_iz | W_in" in view_tooltip("gru", "jacobians")
    assert view_tooltip("rnn", "cell") == ""


def test_intervention_equations_name_what_is_held_and_where_it_acts():
    reset = intervention_equation("gru", "clamp", "reset", 0.0)
    assert "r_t ← 0" in reset and "n_t = tanh" in reset
    assert "b_in ← 1.5, b_hn ← 0" in intervention_equation("gru", "set_bias", "candidate", 1.5)
    assert "h_t ← 0" in intervention_equation("rnn", "ablate", None, 0.0)
    assert "c_t" not in intervention_equation("gru", "ablate", None, 0.0)
