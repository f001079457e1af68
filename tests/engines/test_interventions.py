"""Interventions (clamp a gate, silence units, replace a bias) against exact expectations.

The expectations come from the cell equations (PyTorch's form and gate order), not from the
stepper's code: a forget gate held at 1 with no input keeps c at its initial value, a forget
gate held at 0 leaves c_t = i_t * g_t, and so on. The gradient flow under interventions (the
explicit recursion) is checked against autograd through the reference stepper, float64.
"""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest
import torch

from engines import Ablate, Clamp, SetBias, Trace, create_engine, memory_unit
from engines.config import GATE_NAMES, KINDS
from engines.interventions import check_interventions, coerce, from_dict
from engines.probe import trace_from_states
from engines.stepper import step_through, stepped_states

STEPS = 30


def _engine(kind: str, device: str = "cpu", layers: int = 1, hidden: int = 6, seed: int = 0):
    return create_engine(kind, 3, hidden, 2, num_layers=layers, device=device, seed=seed)


def _inputs(device: str = "cpu", batch: int = 3, steps: int = STEPS, seed: int = 0):
    return torch.randn(batch, steps, 3, generator=torch.Generator().manual_seed(seed)).to(device)


def _gates64(kind: str, x: np.ndarray, h_prev: np.ndarray, params) -> dict[str, np.ndarray]:
    """The gates from PyTorch's documented equations, float64, for given h_{t-1}."""
    w_ih, w_hh, b_ih, b_hh = (p.detach().cpu().double().numpy() for p in params)
    size = w_hh.shape[1]
    from_x = [
        x @ w.T + b
        for w, b in zip(
            np.split(w_ih, len(w_ih) // size), np.split(b_ih, len(b_ih) // size), strict=True
        )
    ]
    from_h = [
        h_prev @ w.T + b
        for w, b in zip(
            np.split(w_hh, len(w_hh) // size), np.split(b_hh, len(b_hh) // size), strict=True
        )
    ]

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    if kind == "lstm":
        i, f, g, o = (a + b for a, b in zip(from_x, from_h, strict=True))
        return {
            "input": sigmoid(i),
            "forget": sigmoid(f),
            "candidate": np.tanh(g),
            "output": sigmoid(o),
        }
    if kind == "gru":
        r = sigmoid(from_x[0] + from_h[0])
        return {
            "reset": r,
            "update": sigmoid(from_x[1] + from_h[1]),
            "candidate": np.tanh(from_x[2] + r * from_h[2]),
        }
    return {"preactivation": from_x[0] + from_h[0]}


def _previous(states: np.ndarray) -> np.ndarray:
    """s_{t-1} along the time axis (axis 1), with s_{-1} = 0."""
    return np.concatenate((np.zeros_like(states[:, :1]), states[:, :-1]), axis=1)


def _assert_traces_equal(actual: Trace, expected: Trace) -> None:
    np.testing.assert_array_equal(actual.hidden, expected.hidden)
    np.testing.assert_array_equal(actual.outputs, expected.outputs)
    if expected.cell is None:
        assert actual.cell is None
    else:
        np.testing.assert_array_equal(actual.cell, expected.cell)
    assert actual.gates.keys() == expected.gates.keys()
    for name in expected.gates:
        np.testing.assert_array_equal(actual.gates[name], expected.gates[name])


# --------------------------------------------------------------------- the fast path stays


@pytest.mark.parametrize("kind", KINDS)
def test_no_interventions_is_the_plain_trace_exactly_and_skips_the_stepper(
    kind, device, monkeypatch
):
    engine = _engine(kind, device, layers=2)
    x = _inputs(device)
    plain = engine.trace(x)

    def no_stepper(*args, **kwargs):
        raise AssertionError("the stepper ran without interventions")

    monkeypatch.setattr("engines.engine.stepped_states", no_stepper)
    monkeypatch.setattr("engines.engine.intervened_gradient_flow", no_stepper)
    for empty in (None, [], ()):
        _assert_traces_equal(engine.trace(x, interventions=empty), plain)

    def loss(y):
        return y[:, -1].square().mean()

    flow = engine.gradient_flow(x, loss)
    again = engine.gradient_flow(x, loss, interventions=[])
    np.testing.assert_array_equal(again.hidden, flow.hidden)
    np.testing.assert_array_equal(again.inputs, flow.inputs)


@pytest.mark.parametrize("kind", KINDS)
def test_the_stepper_without_interventions_matches_the_fused_trace(kind, device):
    engine = _engine(kind, device, layers=2)
    x = _inputs(device)
    plain = engine.trace(x)
    run = stepped_states(engine, x, [])
    stepped = trace_from_states(kind, run.layers, run.outputs)
    np.testing.assert_allclose(stepped.hidden, plain.hidden, atol=2e-6)
    np.testing.assert_allclose(stepped.outputs, plain.outputs, atol=2e-6)
    for name in plain.gates:
        np.testing.assert_allclose(stepped.gates[name], plain.gates[name], atol=2e-6)


# --------------------------------------------------------------------- clamps


def test_forget_open_and_no_input_keep_the_cell_at_its_initial_value(device):
    engine = _engine("lstm", device, layers=2)
    trace = engine.trace(_inputs(device), [Clamp("forget", 1.0), Clamp("input", 0.0)])
    assert np.all(trace.cell == 0.0)  # c_0 = 0 and c_t = 1 * c_{t-1} + 0 * g_t
    assert np.all(trace.hidden == 0.0)  # h_t = o_t * tanh(0)
    assert np.all(trace.gates["forget"] == 1.0)  # the trace shows the clamped values
    assert np.all(trace.gates["input"] == 0.0)
    np.testing.assert_allclose(
        trace.outputs,
        np.broadcast_to(engine.readout.bias.detach().cpu().numpy(), trace.outputs.shape),
        rtol=1e-6,
    )


def test_forget_open_and_no_input_from_a_step_on_hold_the_cell_it_had(device):
    engine = _engine("lstm", device)
    trace = engine.trace(
        _inputs(device),
        [Clamp("forget", 1.0, steps=(10, None)), Clamp("input", 0.0, steps=(10, None))],
    )
    cell = trace.cell[0]
    assert np.abs(cell[:, 9]).min() > 0  # something was stored before the clamp
    np.testing.assert_array_equal(cell[:, 10:], np.broadcast_to(cell[:, 9:10], cell[:, 10:].shape))


def test_forget_shut_leaves_only_the_new_input(device):
    engine = _engine("lstm", device, layers=2)
    trace = engine.trace(_inputs(device), [Clamp("forget", 0.0)])
    for k in range(2):
        expected = trace.gates["input"][k] * trace.gates["candidate"][k]
        np.testing.assert_allclose(trace.cell[k], expected, rtol=1e-6, atol=1e-7)
    assert not np.allclose(trace.cell, engine.trace(_inputs(device)).cell, atol=1e-3)


def test_gru_that_never_updates_keeps_its_initial_state(device):
    engine = _engine("gru", device, layers=2)
    trace = engine.trace(_inputs(device), [Clamp("update", 1.0)])
    assert np.all(trace.hidden == 0.0)  # h_t = (1 - 1) * n_t + 1 * h_{t-1} = h_0 = 0
    # From a later step on it holds the state it had reached.
    late = engine.trace(_inputs(device), [Clamp("update", 1.0, steps=range(12, STEPS))]).hidden
    assert np.abs(late[:, :, 11]).min() > 0
    np.testing.assert_array_equal(
        late[:, :, 12:], np.broadcast_to(late[:, :, 11:12], late[:, :, 12:].shape)
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_clamp_over_steps_10_to_19_changes_nothing_before_step_10(kind, device):
    engine = _engine(kind, device, layers=2)
    x = _inputs(device)
    gate = GATE_NAMES[kind][1]
    altered = engine.trace(x, [Clamp(gate, 0.0, steps=range(10, 20))])
    unaltered = engine.trace(x, [Ablate(units=[0], steps=[STEPS + 5])])  # a no-op: the stepper
    plain = engine.trace(x)
    for name in ("hidden", "cell"):
        a, u, p = (getattr(t, name) for t in (altered, unaltered, plain))
        if a is None:
            continue
        np.testing.assert_array_equal(a[:, :, :10], u[:, :, :10])
        np.testing.assert_allclose(a[:, :, :10], p[:, :, :10], atol=2e-6)
        assert not np.allclose(a[:, :, 10:], u[:, :, 10:], atol=1e-4)  # and it does act after
    np.testing.assert_array_equal(altered.outputs[:, :10], unaltered.outputs[:, :10])
    assert np.all(altered.gates[gate][:, :, 10:20] == 0.0)
    assert np.all(altered.gates[gate][:, :, 20:] != 0.0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_unit_selective_clamp_leaves_the_other_units_equations_intact(kind, device):
    engine = _engine(kind, device)
    x = _inputs(device)
    gate = GATE_NAMES[kind][1]  # forget / update
    trace = engine.trace(x, [Clamp(gate, 1.0, units=[2, 4])])
    others = [0, 1, 3, 5]
    assert np.all(trace.gates[gate][0][..., [2, 4]] == 1.0)
    h = trace.hidden[0].astype(np.float64)
    expected = _gates64(kind, x.cpu().double().numpy(), _previous(h), engine.layer_parameters(0))
    for name, values in expected.items():
        np.testing.assert_allclose(
            trace.gates[name][0][..., others], values[..., others], atol=2e-6
        )
    if kind == "lstm":
        c = trace.cell[0].astype(np.float64)
        g = {n: trace.gates[n][0].astype(np.float64) for n in GATE_NAMES["lstm"]}
        np.testing.assert_allclose(
            c, g["forget"] * _previous(c) + g["input"] * g["candidate"], atol=2e-6
        )
        np.testing.assert_allclose(h, g["output"] * np.tanh(c), atol=2e-6)
    else:
        g = {n: trace.gates[n][0].astype(np.float64) for n in GATE_NAMES["gru"]}
        np.testing.assert_allclose(
            h, (1 - g["update"]) * g["candidate"] + g["update"] * _previous(h), atol=2e-6
        )


def test_clamps_apply_to_the_chosen_layer_only(device):
    engine = _engine("lstm", device, layers=2)
    x = _inputs(device)
    trace = engine.trace(x, [Clamp("output", 0.0, layer=1)])
    plain = engine.trace(x)
    np.testing.assert_allclose(trace.hidden[0], plain.hidden[0], atol=2e-6)
    assert np.all(trace.hidden[1] == 0.0)


def test_later_interventions_win_where_they_overlap():
    engine = _engine("lstm")
    trace = engine.trace(_inputs(), [Clamp("forget", 0.2), Clamp("forget", 0.7, units=[1])])
    assert np.all(trace.gates["forget"][0][..., 1] == np.float32(0.7))
    assert np.all(trace.gates["forget"][0][..., 0] == np.float32(0.2))


# --------------------------------------------------------------------- ablation


@pytest.mark.parametrize("kind", KINDS)
def test_an_ablated_unit_is_zero_at_every_step_of_its_range(kind, device):
    engine = _engine(kind, device, layers=2)
    trace = engine.trace(_inputs(device), [Ablate(units=[1, 3], steps=range(5, 25), layer=0)])
    plain = engine.trace(_inputs(device))
    assert np.all(trace.hidden[0][:, 5:25][..., [1, 3]] == 0.0)
    if kind == "lstm":
        assert np.all(trace.cell[0][:, 5:25][..., [1, 3]] == 0.0)
    assert np.all(trace.hidden[0][:, 25:][..., [1, 3]] != 0.0)  # free again after the range
    assert np.all(trace.hidden[0][:, 5:25][..., [0, 2]] != 0.0)  # the others are not silenced
    assert not np.allclose(trace.outputs, plain.outputs, atol=1e-5)  # and the read-out follows


# --------------------------------------------------------------------- bias


@pytest.mark.parametrize(
    "kind, gate", [(k, g) for k in KINDS for g in GATE_NAMES[k]], ids=lambda v: str(v)
)
def test_set_bias_equals_editing_the_bias_parameters_by_hand(kind, gate, device):
    engine = _engine(kind, device, layers=2)
    before = {k: v.clone() for k, v in engine.state_dict().items()}
    x = _inputs(device)
    units, value = [0, 4], -2.5
    altered = engine.trace(x, [SetBias(gate, value, units=units, layer=1)])

    by_hand = copy.deepcopy(engine)
    size = engine.config.hidden_size
    rows = [GATE_NAMES[kind].index(gate) * size + u for u in units]
    with torch.no_grad():
        by_hand.core.bias_ih_l1[rows] = value
        by_hand.core.bias_hh_l1[rows] = 0.0
    expected = by_hand.trace(x)  # the fast path, on edited parameters
    np.testing.assert_allclose(altered.hidden, expected.hidden, atol=3e-6)
    np.testing.assert_allclose(altered.outputs, expected.outputs, atol=3e-6)
    for name in expected.gates:
        np.testing.assert_allclose(altered.gates[name], expected.gates[name], atol=3e-6)
    assert not np.allclose(altered.hidden[1], engine.trace(x).hidden[1], atol=1e-4)
    for name, value_before in before.items():  # the engine's own weights are untouched
        assert torch.equal(engine.state_dict()[name], value_before), name


# --------------------------------------------------------------------- gradient flow


CASES = {
    "lstm": [
        [Clamp("forget", 1.0, steps=range(4, 15))],
        [Clamp("input", 0.3, units=[1, 2]), Clamp("output", 0.8, steps=[3, 9, 20])],
        [Clamp("candidate", -0.5, layer=0), Ablate(units=[0, 5], steps=range(6, 18))],
        [SetBias("forget", 3.0, units=[2]), Ablate(units=None, steps=[7])],
    ],
    "gru": [
        [Clamp("update", 1.0, steps=range(4, 15))],
        [Clamp("reset", 0.0, units=[1, 2]), Clamp("candidate", 0.4, steps=[3, 9, 20])],
        [Ablate(units=[0, 5], steps=range(6, 18), layer=0), SetBias("candidate", 1.5)],
    ],
    "rnn": [
        [Clamp("preactivation", 0.5, units=[1], steps=range(3, 12))],
        [Ablate(units=[2, 3]), SetBias("preactivation", -1.0, units=[0])],
    ],
}


@pytest.mark.parametrize(
    "kind, interventions",
    [(k, case) for k, cases in CASES.items() for case in cases],
    ids=lambda v: v if isinstance(v, str) else "+".join(type(i).__name__ for i in v),
)
@pytest.mark.parametrize("layers", [1, 2])
def test_gradient_flow_under_interventions_matches_autograd_through_the_stepper(
    kind, interventions, layers
):
    engine = create_engine(kind, 3, 6, 2, num_layers=layers, seed=1).double()
    x = torch.randn(2, 25, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def loss_fn(out):
        return (out[:, ::4] ** 2).mean() + out[:, -1, 0].sum()

    flow = engine.gradient_flow(x, loss_fn, interventions=interventions)
    leaf = x.clone().requires_grad_(True)
    run = step_through(engine, leaf, interventions=interventions)
    states = [h for layer in run.hidden for h in layer]
    grads = torch.autograd.grad(loss_fn(run.outputs), [leaf, *states])
    expected_h = torch.stack([g.norm() for g in grads[1:]]).reshape(layers, 25)
    np.testing.assert_allclose(flow.hidden, expected_h.numpy(), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(flow.inputs, grads[0].norm(dim=(0, 2)).numpy(), rtol=1e-6)
    assert flow.loss == pytest.approx(float(loss_fn(run.outputs).detach()))
    plain = engine.gradient_flow(x, loss_fn)
    assert not np.allclose(flow.hidden, plain.hidden, rtol=1e-3)  # the altered run's own


@pytest.mark.parametrize(
    "kind, interventions",
    [(k, case) for k, cases in CASES.items() for case in cases],
    ids=lambda v: v if isinstance(v, str) else "+".join(type(i).__name__ for i in v),
)
def test_the_probe_under_interventions_matches_the_torch_stepper(kind, interventions, device):
    """The probe's numpy loop against the autograd reference's torch loop, same interventions."""
    engine = _engine(kind, device, layers=2)
    x = _inputs(device)
    run = stepped_states(engine, x, interventions)
    with torch.no_grad():
        reference = step_through(engine, x, interventions=interventions)
    assert run.outputs.device == engine.device and run.layers[0].hidden.device == engine.device
    for k, layer in enumerate(run.layers):
        expected = torch.stack(reference.hidden[k], dim=1)
        torch.testing.assert_close(layer.hidden, expected, atol=2e-6, rtol=0)
        if kind == "lstm":
            torch.testing.assert_close(
                layer.cell, torch.stack(reference.cell[k], dim=1), atol=2e-6, rtol=0
            )
        for name, values in reference.gates[k].items():
            torch.testing.assert_close(
                layer.gates[name], torch.stack(values, dim=1), atol=2e-6, rtol=0
            )
    torch.testing.assert_close(run.outputs, reference.outputs, atol=2e-6, rtol=0)


def test_a_clamped_gate_passes_no_gradient_to_its_weights():
    """Autograd through the stepper: the forget block's weights get nothing where f is held."""
    engine = create_engine("lstm", 3, 4, 1, seed=0)
    x = _inputs()
    run = step_through(engine, x, interventions=[Clamp("forget", 0.9)])
    run.outputs.square().mean().backward()
    size = engine.config.hidden_size
    w_ih, w_hh, b_ih, b_hh = engine.layer_parameters(0)
    for grad in (w_ih.grad, w_hh.grad, b_ih.grad, b_hh.grad):
        assert torch.all(grad[size : 2 * size] == 0)
        assert torch.any(grad[:size] != 0)  # the input gate still learns


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradient_flow_under_a_clamp_on_the_device(kind, device):
    engine = _engine(kind, device, layers=2)
    x = _inputs(device)
    interventions = [Clamp(GATE_NAMES[kind][1], 1.0, steps=range(5, 20)), Ablate([1])]

    def loss_fn(y):
        return y[:, -1].square().mean()

    flow = engine.gradient_flow(x, loss_fn, interventions=interventions)
    leaf = x.clone().requires_grad_(True)
    run = step_through(engine, leaf, interventions=interventions)
    grads = torch.autograd.grad(loss_fn(run.outputs), [h for layer in run.hidden for h in layer])
    expected = torch.stack([g.norm() for g in grads]).reshape(2, STEPS).cpu().numpy()
    np.testing.assert_allclose(flow.hidden, expected, rtol=1e-4, atol=1e-12)


def test_interventions_leave_the_weights_and_the_fused_forward_alone():
    engine = _engine("lstm", layers=2)
    before = {k: v.clone() for k, v in engine.state_dict().items()}
    x = _inputs()
    out_before = engine(x).detach()
    everything = [SetBias("forget", 5.0), Clamp("input", 0.0), Ablate([0])]
    engine.trace(x, everything)
    engine.gradient_flow(x, lambda y: y.mean(), everything)
    for name, value in before.items():
        assert torch.equal(engine.state_dict()[name], value), name
    assert torch.equal(engine(x).detach(), out_before)
    assert all(p.grad is None for p in engine.parameters())


# --------------------------------------------------------------------- values and validation


def test_round_trip_through_json_and_pickle():
    items = [
        Clamp("f", 1.0, units=range(3), steps=(10, 20), layer=1),
        Clamp("candidate", -0.25, steps=[4, 2, 2]),
        Clamp("input", 0.0, steps=slice(5, None)),
        Ablate(7, steps=range(0, 10, 2)),
        Ablate(None),
        SetBias("update", -3, units=[5, 1]),
    ]
    assert items[0].gate == "forget" and items[0].units == (0, 1, 2)
    assert items[1].steps == (2, 4)
    assert items[3].steps == (0, 2, 4, 6, 8)
    for item in items:
        data = json.loads(json.dumps(item.to_dict()))
        assert from_dict(data) == item
        assert type(item).from_dict(data) == item
        assert pickle.loads(pickle.dumps(item)) == item
    assert len(set(items)) == len(items)  # hashable, slices included
    assert coerce([i.to_dict() for i in items]) == tuple(items)


@pytest.mark.parametrize(
    "make, word",
    [
        (lambda: Clamp("sideways", 0.5), "gate"),
        (lambda: Clamp("forget", float("nan")), "value"),
        (lambda: Clamp("forget", float("inf")), "value"),
        (lambda: Clamp("forget", 1.5), "range"),
        (lambda: Clamp("candidate", -2.0), "range"),
        (lambda: Clamp("forget", "1"), "value"),
        (lambda: Clamp("forget", 1.0, units=[-1]), "units"),
        (lambda: Clamp("forget", 1.0, units=[]), "units"),
        (lambda: Clamp("forget", 1.0, units="0-3"), "units"),
        (lambda: Clamp("forget", 1.0, steps=(5, 5)), "steps"),
        (lambda: Clamp("forget", 1.0, steps=(-1, 5)), "steps"),
        (lambda: Clamp("forget", 1.0, layer=-1), "layer"),
        (lambda: Ablate(units=[1.5]), "units"),
        (lambda: SetBias("forget", float("nan")), "value"),
        (lambda: from_dict({"type": "explode"}), "type"),
        (lambda: from_dict({"type": "clamp", "gate": "forget"}), "value"),
        (lambda: from_dict("clamp"), "mapping"),
    ],
)
def test_bad_values_raise_naming_the_argument(make, word):
    with pytest.raises(ValueError, match=word):
        make()


@pytest.mark.parametrize(
    "kind, item, word",
    [
        ("lstm", Clamp("reset", 0.5), "not a gate of the LSTM"),
        ("gru", Clamp("forget", 0.5), "not a gate of the GRU"),
        ("rnn", SetBias("input", 0.5), "not a gate of the RNN"),
        ("lstm", Ablate(units=[6]), "units: unit 6 is out of range"),
        ("gru", Clamp("update", 1.0, units=[2, 99]), "unit 99"),
        ("lstm", Clamp("forget", 1.0, layer=2), "layer 2 is out of range"),
    ],
)
def test_interventions_that_do_not_fit_the_engine_raise(kind, item, word):
    engine = _engine(kind, layers=2)
    with pytest.raises(ValueError, match=word):
        engine.trace(_inputs(), [Ablate([0]), item])
    with pytest.raises(ValueError, match=r"interventions\[1\]"):
        check_interventions([Ablate([0]), item], engine.config)


def test_steps_past_the_end_of_the_sequence_apply_nowhere():
    engine = _engine("lstm")
    x = _inputs(steps=8)
    trace = engine.trace(x, [Clamp("forget", 0.0, steps=range(20, 30))])
    np.testing.assert_allclose(trace.cell, engine.trace(x).cell, atol=2e-6)


# --------------------------------------------------------------------- the memory unit


def _trace_with(cell: np.ndarray | None, hidden: np.ndarray) -> Trace:
    return Trace(
        kind="lstm" if cell is not None else "gru",
        hidden=hidden,
        cell=cell,
        gates={},
        outputs=np.zeros((1, 1, 1)),
    )


def test_memory_unit_is_the_one_whose_cell_jumps_at_the_marked_steps():
    rng = np.random.default_rng(0)
    cell = rng.normal(0, 0.05, (1, 2, 20, 5)).cumsum(axis=2)
    cell[0, 0, 4:, 3] += 2.0  # unit 3 writes at step 4 in sequence 0 ...
    cell[0, 1, 11:, 3] += 2.0  # ... and at step 11 in sequence 1
    cell[0, :, 15:, 1] += 5.0  # unit 1 jumps too, but at an unmarked step
    hidden = np.tanh(cell)
    marks = np.zeros((2, 20), dtype=bool)
    marks[0, 4] = marks[1, 11] = True
    assert memory_unit(_trace_with(cell, hidden), marks) == 3
    assert memory_unit(_trace_with(cell, hidden), [15]) == 1
    # GRU/RNN: the hidden state is what holds it.
    assert memory_unit(_trace_with(None, hidden), marks) == 3


def test_memory_unit_rejects_bad_marks():
    trace = _trace_with(np.zeros((1, 2, 10, 3)), np.zeros((1, 2, 10, 3)))
    with pytest.raises(ValueError, match="marked_steps"):
        memory_unit(trace, [10])
    with pytest.raises(ValueError, match="marked_steps"):
        memory_unit(trace, np.zeros(10, dtype=bool))
    with pytest.raises(ValueError, match="layer"):
        memory_unit(trace, [2], layer=1)
