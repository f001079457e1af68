"""Step Jacobians ds_t/ds_{t-1} against autograd, and the spectra the "why it forgets" view draws.

The reference never touches engines.jacobians or engines.probe: torch.nn's own cells
(RNNCell, LSTMCell, GRUCell) loaded with each layer's weights are stepped in float64, and
autograd differentiates one cell step with respect to the previous state. Under interventions
the reference is a step written out here with the clamps and ablations as ``torch.where``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engines.config import KINDS
from engines.engine import create_engine
from engines.interventions import Ablate, Clamp
from engines.jacobians import (
    SpectrumTracker,
    product_norms,
    singular_values,
    state_size,
    top_singular_values,
)

_CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


def _cells(engine) -> list[nn.Module]:
    config = engine.config
    cells = []
    for k in range(config.num_layers):
        in_size = config.input_size if k == 0 else config.hidden_size
        cell = _CELLS[config.kind](in_size, config.hidden_size).double()
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        weights = {
            n: p.detach().double().cpu()
            for n, p in zip(names, engine.layer_parameters(k), strict=True)
        }
        cell.load_state_dict(weights)
        cells.append(cell)
    return cells


def _cell_step(kind: str, cell, x_t, state, size):
    """One step as a function of the flat state s (h, or h then c)."""
    if kind == "lstm":
        h, c = cell(x_t, (state[..., :size], state[..., size:]))
        return torch.cat((h, c), dim=-1)
    return cell(x_t, state)


def reference_jacobians(engine, x: torch.Tensor) -> np.ndarray:
    """(layers, batch, time, S, S) in float64 from torch.nn cells and autograd."""
    kind, size = engine.config.kind, engine.config.hidden_size
    cells = _cells(engine)
    x = x.detach().double().cpu()
    batch, steps, _ = x.shape
    s = state_size(kind, size)
    out = np.zeros((len(cells), batch, steps, s, s))
    states = [torch.zeros(batch, s, dtype=torch.float64) for _ in cells]
    for t in range(steps):
        layer_input = x[:, t]
        for k, cell in enumerate(cells):
            previous = states[k]
            for b in range(batch):
                out[k, b, t] = torch.autograd.functional.jacobian(
                    lambda state, cell=cell, x_t=layer_input[b]: _cell_step(
                        kind, cell, x_t, state, size
                    ),
                    previous[b],
                ).numpy()
            with torch.no_grad():
                states[k] = _cell_step(kind, cell, layer_input, previous, size)
            layer_input = states[k][:, :size]
    return out


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_jacobians_match_autograd(kind, layers, device):
    engine = create_engine(kind, 3, 5, 2, num_layers=layers, device=device, seed=11)
    x = torch.randn(2, 7, 3, generator=torch.Generator().manual_seed(12)).to(device)
    jac = engine.jacobians(x)
    size = state_size(kind, 5)
    assert size == (10 if kind == "lstm" else 5)
    assert jac.shape == (layers, 2, 7, size, size)
    assert jac.dtype == np.float32
    expected = reference_jacobians(engine, x)
    assert np.abs(jac - expected).max() <= 1e-5
    assert np.abs(expected).max() > 0.1  # a real test: the Jacobians are not all tiny


def test_lstm_cell_block_is_diag_of_forget_gate():
    """The LSTM's way out: dc_t/dc_{t-1} = diag(f_t), straight from the trace's gates."""
    engine = create_engine("lstm", 3, 4, 1, seed=13)
    x = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(14))
    jac = engine.jacobians(x)
    forget = engine.trace(x).gates["forget"]
    for b in range(2):
        for t in range(6):
            np.testing.assert_allclose(jac[0, b, t, 4:, 4:], np.diag(forget[0, b, t]), atol=1e-7)


def test_clamped_forget_one_input_zero_makes_the_cell_path_the_identity():
    engine = create_engine("lstm", 3, 6, 2, num_layers=2, seed=15)
    x = torch.randn(3, 8, 3, generator=torch.Generator().manual_seed(16))
    jac = engine.jacobians(x, interventions=[Clamp("forget", 1.0), Clamp("input", 0.0)])
    np.testing.assert_array_equal(
        jac[..., 6:, 6:], np.broadcast_to(np.eye(6), jac[..., 6:, 6:].shape)
    )
    # Without the clamp it is not the identity: the test can fail.
    free = engine.jacobians(x)
    assert np.abs(free[..., 6:, 6:] - np.eye(6)).max() > 0.1


# --------------------------------------------------------------- interventions vs autograd


def _intervened_step(kind, params, x_t, state, size, clamps, ablate):
    """One step written out with PyTorch's formulas; ``clamps`` gate -> (mask, value) (H,),
    ``ablate`` a (H,) mask or None. The clamped values are constants (no gradient)."""
    weight_ih, weight_hh, bias_ih, bias_hh = params

    def hold(name, value):
        if name not in clamps:
            return value
        mask, fixed = clamps[name]
        return torch.where(mask, fixed, value)

    def silence(value):
        return value if ablate is None else torch.where(ablate, torch.zeros_like(value), value)

    h = state[:size]
    a_in = weight_ih @ x_t + bias_ih
    a_h = weight_hh @ h + bias_hh
    if kind == "rnn":
        return silence(torch.tanh(hold("preactivation", a_in + a_h)))
    if kind == "gru":
        r = hold("reset", torch.sigmoid(a_in[:size] + a_h[:size]))
        z = hold("update", torch.sigmoid(a_in[size : 2 * size] + a_h[size : 2 * size]))
        n = hold("candidate", torch.tanh(a_in[2 * size :] + r * a_h[2 * size :]))
        return silence((1 - z) * n + z * h)
    pre = a_in + a_h
    i = hold("input", torch.sigmoid(pre[:size]))
    f = hold("forget", torch.sigmoid(pre[size : 2 * size]))
    g = hold("candidate", torch.tanh(pre[2 * size : 3 * size]))
    o = hold("output", torch.sigmoid(pre[3 * size :]))
    c = silence(f * state[size:] + i * g)
    return torch.cat((silence(o * torch.tanh(c)), c))


_CLAMPS = {
    "rnn": [("preactivation", 0.3)],
    "gru": [("reset", 0.2), ("update", 0.9), ("candidate", -0.5)],
    "lstm": [("input", 0.7), ("forget", 0.95), ("candidate", 0.1), ("output", 0.4)],
}


@pytest.mark.parametrize("kind", KINDS)
def test_jacobians_under_interventions_match_autograd(kind):
    size, steps = 5, 6
    engine = create_engine(kind, 3, size, 2, num_layers=2, seed=17)
    x = torch.randn(2, steps, 3, generator=torch.Generator().manual_seed(18))
    # Each gate clamped on its own unit over steps 1..3, in the second layer only; unit 4
    # ablated at steps 2 and 4 in the first layer.
    interventions = [
        Clamp(gate, value, units=[unit], steps=(1, 4), layer=1)
        for unit, (gate, value) in enumerate(_CLAMPS[kind])
    ] + [Ablate([4], steps=[2, 4], layer=0)]
    jac = engine.jacobians(x, interventions=interventions)

    params = [tuple(p.detach().double() for p in engine.layer_parameters(k)) for k in range(2)]
    x64 = x.double()
    s = state_size(kind, size)
    states = [torch.zeros(2, s, dtype=torch.float64) for _ in range(2)]
    worst = 0.0
    for t in range(steps):
        layer_input = x64[:, t]
        for k in range(2):
            clamps, ablate = {}, None
            if k == 1 and 1 <= t < 4:
                for unit, (gate, value) in enumerate(_CLAMPS[kind]):
                    mask = torch.zeros(size, dtype=torch.bool)
                    mask[unit] = True
                    clamps[gate] = (mask, torch.full((size,), value, dtype=torch.float64))
            if k == 0 and t in (2, 4):
                ablate = torch.zeros(size, dtype=torch.bool)
                ablate[4] = True
            new_states = []
            for b in range(2):

                def step(state, p=params[k], x_t=layer_input[b], held=clamps, off=ablate):
                    return _intervened_step(kind, p, x_t, state, size, held, off)

                expected = torch.autograd.functional.jacobian(step, states[k][b]).numpy()
                worst = max(worst, float(np.abs(jac[k, b, t] - expected).max()))
                if ablate is not None:
                    rows = [4, 4 + size] if kind == "lstm" else [4]
                    assert np.all(jac[k, b, t][rows] == 0.0)
                with torch.no_grad():
                    new_states.append(step(states[k][b]))
            states[k] = torch.stack(new_states)
            layer_input = states[k][:, :size]
    assert worst <= 1e-5


# --------------------------------------------------------------------------------- spectra


def _half_identity_rnn(size: int = 6):
    engine = create_engine("rnn", 2, size, 1, seed=0)
    with torch.no_grad():
        for p in engine.layer_parameters(0):
            p.zero_()
        engine.layer_parameters(0)[1].copy_(0.5 * torch.eye(size))
    return engine


def test_half_identity_rnn_product_norm_is_half_to_the_distance():
    """h_t = tanh(0.5 h_{t-1}) from h = 0 stays 0: every J_t = 0.5 I, so the product norm at
    distance d is 0.5^d, exactly -- the vanishing gradient in its purest form."""
    engine = _half_identity_rnn()
    x = torch.zeros(1, 40, 2)
    jac = engine.jacobians(x)
    np.testing.assert_array_equal(jac[0, 0], np.broadcast_to(0.5 * np.eye(6), (40, 6, 6)))
    distances = np.arange(1, 41)
    np.testing.assert_allclose(product_norms(jac[0, 0]), 0.5**distances, rtol=1e-12)
    largest, norms = SpectrumTracker().update(jac[0, 0])
    np.testing.assert_allclose(largest, 0.5, rtol=1e-6)
    np.testing.assert_allclose(norms, 0.5**distances, rtol=1e-6)
    np.testing.assert_allclose(singular_values(jac[0, 0]), 0.5, rtol=1e-6)


def test_product_norms_do_not_underflow_over_long_distances():
    engine = _half_identity_rnn(3)
    jac = engine.jacobians(torch.zeros(1, 400, 2))[0, 0]
    norms = product_norms(jac)
    assert norms[-1] == pytest.approx(0.5**400, rel=1e-9)  # ~4e-121: far below float32
    tracked = SpectrumTracker().update(jac)[1]
    assert tracked[-1] == pytest.approx(0.5**400, rel=1e-5)


def _explicit_product_norms(jac: np.ndarray) -> np.ndarray:
    steps, size, _ = jac.shape
    product = np.eye(size)
    out = []
    for d in range(1, steps + 1):
        product = product @ jac[steps - d].astype(np.float64)
        out.append(np.linalg.norm(product, 2))
    return np.array(out)


@pytest.mark.parametrize("kind", KINDS)
def test_product_norms_against_explicit_products(kind):
    engine = create_engine(kind, 3, 8, 1, seed=19)
    x = torch.randn(2, 25, 3, generator=torch.Generator().manual_seed(20))
    jac = engine.jacobians(x)[0]  # (batch, T, S, S)
    norms = product_norms(jac)
    assert norms.shape == (2, 25)
    for b in range(2):
        expected = _explicit_product_norms(jac[b])
        np.testing.assert_allclose(norms[b], expected, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_spectrum_tracker_converges_to_the_exact_values_over_frames(kind):
    """The live view's iterative numbers: after a few frames on (nearly) the same network
    they are the SVD's, and each frame costs a bounded number of iterations."""
    engine = create_engine(kind, 3, 32, 1, seed=21)
    x = torch.randn(1, 40, 3, generator=torch.Generator().manual_seed(22))
    jac = engine.jacobians(x)[0, 0]
    tracker = SpectrumTracker(iterations=4)
    for _ in range(10):
        largest, norms = tracker.update(jac)
    np.testing.assert_allclose(largest, singular_values(jac, 1)[:, 0], rtol=1e-4)
    np.testing.assert_allclose(norms, _explicit_product_norms(jac), rtol=1e-4)
    # A slightly changed network (the next frame): still close at once.
    with torch.no_grad():
        for p in engine.parameters():
            p.add_(1e-3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(23)))
    moved = engine.jacobians(x)[0, 0]
    largest, _ = tracker.update(moved)
    np.testing.assert_allclose(largest, singular_values(moved, 1)[:, 0], rtol=1e-3)


def test_top_singular_values_with_close_and_repeated_values():
    rng = np.random.default_rng(24)
    q1, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    q2, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    spectra = np.stack(
        [
            np.linspace(1.0, 0.1, 40),
            np.r_[1.0, 0.995, np.linspace(0.9, 0.0, 38)],  # a close second
            np.r_[0.7, 0.7, 0.7, np.linspace(0.5, 0.1, 37)],  # repeated at the top
            np.zeros(40),
        ]
    )
    matrices = np.stack([q1 @ np.diag(s) @ q2.T for s in spectra]).astype(np.float32)
    values, vectors = top_singular_values(matrices)
    np.testing.assert_allclose(values, spectra[:, 0], rtol=1e-5, atol=1e-7)
    assert vectors.shape == (4, 40)


def test_singular_values_rejects_a_bad_k():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        singular_values(np.eye(3)[None], k=0)


def test_spectrum_tracker_rejects_a_bad_shape():
    with pytest.raises(ValueError, match="jac must have shape"):
        SpectrumTracker().update(np.zeros((3, 4)))


def test_jacobians_reject_bad_input():
    engine = create_engine("gru", 3, 4, 1, seed=0)
    with pytest.raises(ValueError, match="input_size=3"):
        engine.jacobians(torch.zeros(1, 5, 2))
