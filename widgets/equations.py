"""The equations behind every view, in PyTorch's form and gate order (torch.nn.RNN/LSTM/GRU).

Shown where the eye is: as the tooltip of every view's title (the heatmaps, the probe sequence,
the loss, the gradient flow, the unit plot and the "why it forgets" views), and in the gate lab
beside the gate it alters. PyTorch stacks each layer's weights in this order: LSTM (W_ii|W_if|W_ig|W_io),
GRU (W_ir|W_iz|W_in); its GRU puts the reset gate around W_hn h + b_hn, unlike the original
paper, and the texts follow PyTorch. Plain strings (HTML where a tooltip renders it); no engine
is consulted.
"""

from __future__ import annotations

import html

#: The views of each engine kind, by the dashboard's names, and the equation of each.
EQUATIONS: dict[str, dict[str, str]] = {
    "lstm": {
        "input": "i_t = σ(W_ii x_t + b_ii + W_hi h_{t−1} + b_hi)",
        "forget": "f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)",
        "candidate": "g_t = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)",
        "output": "o_t = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho)",
        "cell": "c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t",
        "hidden": "h_t = o_t ⊙ tanh(c_t)",
    },
    "gru": {
        "reset": "r_t = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr)",
        "update": "z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)",
        "candidate": "n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t−1} + b_hn))",
        "hidden": "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}",
    },
    "rnn": {
        "preactivation": "a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh",
        "hidden": "h_t = tanh(a_t)",
    },
}

#: What each view means, one line, for the tooltip under the equation.
MEANINGS: dict[str, str] = {
    "input": "how much of the candidate is written into the cell (0 = nothing, 1 = all)",
    "forget": "how much of the cell state is kept from the step before (1 = all of it)",
    "candidate": "the new content proposed at this step",
    "output": "how much of the cell state is shown as the hidden state",
    "reset": "how much of the previous hidden state the candidate sees",
    "update": "how much of the previous hidden state is kept (1 = all, nothing new)",
    "preactivation": "the weighted sum before the tanh",
    "cell": "the LSTM's memory: changed only by forgetting and writing",
    "hidden": "the state the read-out and the next layer see",
}

#: The equations on the titles of the other views: view -> kind -> lines. The lines under ""
#: hold for every kind; those of the kind shown follow them. The unit plot shows its kind's cell
#: equations (:data:`EQUATIONS`) in PyTorch's order.
VIEW_EQUATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "sequence": {"": ("y_t = W_hy h_t + b_y",)},
    "loss": {"": ("L = mean over the scored steps t of ℓ(y_t, target_t)",)},
    "gradient": {
        "": (
            "dL/dh_t = ∂L/∂h_t + dL/ds_{t+1} · ∂s_{t+1}/∂h_t",
            "dL/dx_t = dL/ds_t · ∂s_t/∂x_t",
        ),
        "lstm": ("s_t = (h_t, c_t)",),
        "gru": ("s_t = h_t",),
        "rnn": ("s_t = h_t",),
    },
    "unit": {},
    "jacobians": {
        "": (
            "J_t = ∂s_t/∂s_{t−1}, σ_max(J_t) per step",
            "‖J_t ⋯ J_{k+1}‖ = ‖∂s_t/∂s_k‖, d = t − k",
        ),
        "lstm": ("s_t = (h_t, c_t), 2H × 2H; the cell block ∂c_t/∂c_{t−1} = diag(f_t)",),
        "gru": (
            "s_t = h_t: J_t = diag(z_t) + diag(1 − z_t) ∂n_t/∂h_{t−1} "
            "+ diag(h_{t−1} − n_t) ∂z_t/∂h_{t−1}",
        ),
        "rnn": ("s_t = h_t: J_t = diag(1 − h_t²) W_hh",),
    },
    "gradient_history": {"": ("log10 ‖dL/dh_t‖ per recorded frame and time step t",)},
    "timescales": {
        "lstm": ("τ_j = 1 / (1 − f̄_j), f̄_j = mean over t of the forget gate f_t[j]",),
        "gru": ("τ_j = 1 / (1 − z̄_j), z̄_j = mean over t of the update gate z_t[j]",),
        "rnn": ("ρ(W_hh) = max_i |λ_i(W_hh)|, the spectral radius, over training",),
    },
    "state_space": {"": ("p_t = V₂ᵀ (h_t − h̄): PCA of h_0 … h_{T−1}, first two axes",)},
}

#: What each of those views shows, for the tooltip under its equations.
VIEW_MEANINGS: dict[str, str] = {
    "sequence": (
        "the probe sequence: inputs x_t on top; below, the target and the prediction y_t, the"
        " read-out nn.Linear(hidden_size, output_size) of the last layer's h_t at every step"
    ),
    "loss": (
        "train: the loss of each training batch; test (dots): on held-out sequences at each"
        " evaluation; dashed: the no-memory baseline, the best loss of a predictor that"
        " remembers nothing (ℓ: squared error for values, cross-entropy for classes)"
    ),
    "gradient": (
        "how much of the loss's gradient reaches each step: the total derivative of h_t, from"
        " the read-out (or the layer above) at step t and through the recurrence from every"
        " later step; and what reaches the input x_t. A falling line is the vanishing gradient"
    ),
    "unit": "one unit's hidden state (cell state) and gates over time: its row of each heatmap",
    "jacobians": (
        "left: the largest singular value of each step's Jacobian, below the line at 1 a step"
        " shrinks the gradient passing back through it; right: the norm of the product from the"
        " last step t = T − 1 back over d steps, on a log axis"
    ),
    "gradient_history": (
        "the gradient flow over training: one row per recorded frame (training runs down), one"
        " column per time step; the white line is the frame the history slider shows"
    ),
    "timescales": (
        "how long each unit remembers: keeping a fraction k of its state per step, it forgets"
        " over about 1 / (1 − k) steps, so bars above the sequence length carry the first step"
        " to the last; the tanh RNN has no keep gate: near 1 it remembers, above 1 it explodes"
    ),
    "state_space": (
        "the hidden-state trajectory of the probe sequence on its first two principal axes,"
        " coloured by time (dark early, bright late); the square is the first step, the ring"
        " the time cursor's; the axes are kept from frame to frame (no flipping)"
    ),
}

#: Gate symbols, PyTorch's letters.
SYMBOLS = {
    "lstm": {"input": "i", "forget": "f", "candidate": "g", "output": "o"},
    "gru": {"reset": "r", "update": "z", "candidate": "n"},
    "rnn": {"preactivation": "a"},
}

ORDER_NOTE = {
    "lstm": "weights stacked as (W_ii | W_if | W_ig | W_io): i, f, g, o",
    "gru": "weights stacked as (W_ir | W_iz | W_in): r, z, n; r acts on W_hn h + b_hn",
    "rnn": "h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)",
}

_GATE_LISTS = {
    ("input", "forget", "candidate", "output"): "lstm",
    ("reset", "update", "candidate"): "gru",
    ("preactivation",): "rnn",
}


def kind_for_gates(gate_names) -> str | None:
    """The engine kind whose gates these are (PyTorch's order), or None."""
    return _GATE_LISTS.get(tuple(gate_names))


def equation(kind: str, view: str) -> str:
    """The plain-text equation of ``view`` (``hidden``, ``cell`` or a gate) for ``kind``;
    empty when the kind has no such view."""
    return EQUATIONS.get(kind, {}).get(view, "")


def view_tooltip(kind: str | None, view: str) -> str:
    """Rich-text tooltip for a view's title: the equations, what it shows, PyTorch's order.

    ``view`` is a heatmap's name (``hidden``, ``cell``, a gate: empty when ``kind`` has no
    such view) or one of :data:`VIEW_EQUATIONS` (``sequence``, ``loss``, ``gradient``,
    ``unit``, ``jacobians``, ``gradient_history``, ``timescales``, ``state_space``), whose
    text follows ``kind`` where its equations depend on it.
    """
    kind = kind or ""
    text = equation(kind, view)
    if text:
        lines = [f"<b>{html.escape(text)}</b>"]
        if view in MEANINGS:
            lines.append(html.escape(MEANINGS[view]))
        lines.append(f"<i>PyTorch: {html.escape(ORDER_NOTE[kind])}</i>")
        return "<br>".join(lines)
    if view not in VIEW_EQUATIONS:
        return ""
    table = VIEW_EQUATIONS[view]
    own = tuple(EQUATIONS.get(kind, {}).values()) if view == "unit" else table.get(kind, ())
    lines = [f"<b>{html.escape(line)}</b>" for line in (*table.get("", ()), *own)]
    lines.append(html.escape(VIEW_MEANINGS[view]))
    if own and kind in ORDER_NOTE:  # the equations depend on the kind: name PyTorch's form
        lines.append(f"<i>PyTorch: {html.escape(ORDER_NOTE[kind])}</i>")
    return "<br>".join(lines)


def intervention_equation(kind: str, action: str, gate: str | None, value: float) -> str:
    """The equations an intervention alters, as rich text: what is held, and where it acts.

    ``action`` is ``clamp``, ``ablate`` or ``set_bias`` (the engines' intervention types).
    """
    equations = EQUATIONS.get(kind, {})
    if action == "ablate":
        held = "h_t ← 0" + (" and c_t ← 0" if kind == "lstm" else "")
        rest = [equations["hidden"]] + ([equations["cell"]] if kind == "lstm" else [])
        return _lines(f"{held} for the chosen units and steps", rest)
    if gate is None or gate not in equations:
        return ""
    symbol = SYMBOLS[kind][gate]
    if action == "set_bias":
        bias = f"b_i{symbol} + b_h{symbol} ← {value:g}"
        if kind == "gru" and gate == "candidate":
            bias = f"b_in ← {value:g}, b_hn ← 0"
        return _lines(f"{bias} (the gate's effective bias)", [equations[gate]])
    where = {
        ("lstm", "input"): "cell",
        ("lstm", "forget"): "cell",
        ("lstm", "candidate"): "cell",
        ("lstm", "output"): "hidden",
    }.get((kind, gate), "hidden")
    used_in = equations["candidate"] if (kind, gate) == ("gru", "reset") else equations[where]
    return _lines(
        f"{symbol}_t ← {value:g} (held; no gradient to its pre-activation)",
        [f"instead of {equations[gate]}", f"in {used_in}"],
    )


def _lines(head: str, rest: list[str]) -> str:
    return "<br>".join([f"<b>{html.escape(head)}</b>", *(html.escape(r) for r in rest)])
