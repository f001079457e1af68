"""Gradient flow through time against an independent reference built from torch.nn alone.

dL/dx_t: the fused module with ``x.requires_grad_()`` and autograd.
dL/dh_t of layer k: run the fused modules up to step t, make layer k's h_t (and c_t) fresh
leaves, finish step t in the layers above, run the fused core on the rest of the sequence from
that state, read out every step (earlier outputs are constants) and ask autograd for dL/dh_t.
The reference runs in float64 on the CPU; it never calls engines.stepper.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from engines.config import KINDS
from engines.engine import create_engine
from engines.probe import full_precision

RTOL = 1e-4
_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _fused(kind: str, input_size: int, hidden: int, layers: int, weights: dict) -> nn.RNNBase:
    module = _MODULES[kind](input_size, hidden, num_layers=layers, batch_first=True)
    module.load_state_dict(weights)
    return module.double()


def reference_hidden_gradients(engine, x: torch.Tensor, loss_fn) -> np.ndarray:
    """||dL/dh_t|| per layer and step, (layers, time), in float64 from torch.nn modules."""
    config = engine.config
    kind, size, layers = config.kind, config.hidden_size, config.num_layers
    weights = {k: v.detach().to("cpu", torch.float64) for k, v in engine.state_dict().items()}
    core_weights = {k[len("core.") :]: v for k, v in weights.items() if k.startswith("core.")}
    core = _fused(kind, config.input_size, size, layers, core_weights)
    singles = [
        _fused(
            kind,
            config.input_size if k == 0 else size,
            size,
            1,
            {
                name.replace(f"_l{k}", "_l0"): value
                for name, value in core_weights.items()
                if name.endswith(f"_l{k}")
            },
        )
        for k in range(layers)
    ]

    def readout(h):
        return h @ weights["readout.weight"].T + weights["readout.bias"]

    x = x.detach().to("cpu", torch.float64)
    batch, steps, _ = x.shape
    zeros = torch.zeros(layers, batch, size, dtype=torch.float64)
    norms = np.zeros((layers, steps))
    for t in range(steps):
        with torch.no_grad():
            if t > 0:
                prefix_hidden, state = core(x[:, :t])
                prefix = readout(prefix_hidden)
            else:
                state = (zeros, zeros) if kind == "lstm" else zeros
                prefix = x.new_zeros(batch, 0, weights["readout.bias"].shape[0])
        for k in range(layers):
            step_input = x[:, t : t + 1]
            new_h, new_c = [], []
            leaf = None
            for j, single in enumerate(singles):
                if kind == "lstm":
                    out, (h, c) = single(step_input, (state[0][j : j + 1], state[1][j : j + 1]))
                else:
                    out, h = single(step_input, state[j : j + 1])
                    c = None
                if j == k:
                    leaf = h.detach().requires_grad_()
                    h = leaf
                    c = None if c is None else c.detach()
                    out = leaf.transpose(0, 1)
                new_h.append(h)
                new_c.append(c)
                step_input = out
            outputs = [prefix, readout(step_input)]
            if t + 1 < steps:
                resumed = torch.cat(new_h)
                if kind == "lstm":
                    resumed = (resumed, torch.cat(new_c))
                suffix, _ = core(x[:, t + 1 :], resumed)
                outputs.append(readout(suffix))
            loss = loss_fn(torch.cat(outputs, dim=1))
            (grad,) = torch.autograd.grad(loss, leaf, allow_unused=True)
            norms[k, t] = 0.0 if grad is None else float(grad.norm())
    return norms


def reference_input_gradients(engine, x: torch.Tensor, loss_fn):
    """||dL/dx_t|| per step from the fused path, and the loss."""
    x = x.detach().clone().requires_grad_()
    with full_precision(engine.device):
        loss = loss_fn(engine(x))
    (grad,) = torch.autograd.grad(loss, x)
    return grad.norm(dim=(0, 2)).cpu().numpy(), float(loss.detach())


def _losses():
    """Losses that follow the read-out's device and dtype (the reference is float64 on CPU)."""
    target = torch.randn(3, 9, 2, generator=torch.Generator().manual_seed(99))
    return {
        "last": lambda y: (y[:, -1] - target[:, -1].to(y)).square().mean(),
        "all": lambda y: (y - target.to(y)).square().mean(),
        "first": lambda y: (y[:, 0] - target[:, 0].to(y)).square().mean(),
    }


def _close(actual: np.ndarray, expected: np.ndarray) -> bool:
    """Relative to each entry, with a floor far below the largest one (for exact zeros)."""
    floor = 1e-9 * float(np.max(np.abs(expected)))
    return bool(np.all(np.abs(actual - expected) <= RTOL * np.abs(expected) + floor))


@pytest.mark.parametrize("loss", ["last", "all", "first"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_flow_matches_independent_reference(kind, layers, loss, device):
    engine = create_engine(kind, 4, 6, 2, num_layers=layers, device=device, seed=60)
    x = torch.randn(3, 9, 4, generator=torch.Generator().manual_seed(61)).to(device)
    loss_fn = _losses()[loss]
    flow = engine.gradient_flow(x, loss_fn)

    assert flow.hidden.shape == (layers, 9)
    assert flow.inputs.shape == (9,)
    expected_hidden = reference_hidden_gradients(engine, x, loss_fn)
    expected_inputs, expected_loss = reference_input_gradients(engine, x, loss_fn)
    assert _close(flow.hidden, expected_hidden), (flow.hidden, expected_hidden)
    assert _close(flow.inputs, expected_inputs), (flow.inputs, expected_inputs)
    assert math.isclose(flow.loss, expected_loss, rel_tol=RTOL)
    if loss == "first":
        # Nothing after step 0 reaches the loss.
        assert np.all(flow.hidden[:, 1:] == 0.0)
        assert np.all(flow.inputs[1:] == 0.0)
    else:
        assert np.all(flow.hidden > 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_flow_leaves_parameter_gradients_alone(kind):
    engine = create_engine(kind, 4, 6, 2, num_layers=2, seed=70)
    x = torch.randn(3, 9, 4, generator=torch.Generator().manual_seed(71))

    def loss_fn(y):
        return y.square().mean()

    engine.gradient_flow(x, loss_fn)
    assert all(p.grad is None for p in engine.parameters())

    # With training gradients present, they stay exactly as they were.
    loss_fn(engine(x)).backward()
    before = {name: p.grad.clone() for name, p in engine.named_parameters()}
    engine.gradient_flow(x, loss_fn)
    for name, p in engine.named_parameters():
        assert torch.equal(p.grad, before[name]), name
    assert x.grad is None


def test_gradient_flow_works_inside_no_grad():
    engine = create_engine("lstm", 4, 6, 2, seed=72)
    x = torch.randn(3, 9, 4, generator=torch.Generator().manual_seed(73))
    with torch.no_grad():
        flow = engine.gradient_flow(x, lambda y: y[:, -1].square().mean())
    assert np.all(flow.hidden > 0.0)


def _decay_ratio(kind: str, seed: int, steps: int = 50) -> float:
    """||dL/dh_0|| / ||dL/dh_{T-1}|| for a loss on the last step only, default init."""
    engine = create_engine(kind, 4, 32, 1, forget_bias=1.0, seed=seed)
    generator = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(8, steps, 4, generator=generator)
    target = torch.randn(8, 1, generator=generator)
    flow = engine.gradient_flow(x, lambda y: (y[:, -1] - target).square().mean())
    return float(flow.hidden[0, 0] / flow.hidden[0, -1])


def test_tanh_rnn_gradient_vanishes_far_faster_than_lstm_with_forget_bias():
    """The seeds' central idea: over 50 steps the tanh RNN keeps a vanishing sliver of the
    gradient, the LSTM (forget bias 1) orders of magnitude more. Measured over 20 seeds the
    RNN kept at most 1e-9 and the LSTM at least 4e-6; the bounds below leave wide margins."""
    for seed in range(5):
        rnn, lstm = _decay_ratio("rnn", seed), _decay_ratio("lstm", seed)
        assert 0.0 < rnn < 1e-6, (seed, rnn)
        assert lstm > 100.0 * rnn, (seed, rnn, lstm)
    assert np.median([_decay_ratio("lstm", s) for s in range(5)]) > 1e4 * np.median(
        [_decay_ratio("rnn", s) for s in range(5)]
    )


def test_gradient_flow_works_inside_inference_mode():
    engine = create_engine("lstm", 3, 5, 2, seed=0)
    x = torch.randn(2, 6, 3)
    expected = engine.gradient_flow(x, lambda y: y.square().mean())
    with torch.inference_mode():
        inside = engine.gradient_flow(x, lambda y: y.square().mean())
    np.testing.assert_allclose(inside.hidden, expected.hidden, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers", [1, 3])
def test_adjoint_matches_autograd_through_the_reference_stepper(kind, layers):
    """The explicit BPTT recursion against autograd through the step-by-step cells, float64
    (the result is handed out in float32, hence rtol 1e-6)."""
    from engines.stepper import step_through

    engine = create_engine(kind, 3, 6, 2, num_layers=layers, seed=1).double()
    x = torch.randn(3, 25, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def loss_fn(out):
        return (out[:, ::4] ** 2).mean() + out[:, -1, 0].sum()

    flow = engine.gradient_flow(x, loss_fn)
    leaf = x.clone().requires_grad_(True)
    run = step_through(engine, leaf)
    states = [h for layer in run.hidden for h in layer]
    grads = torch.autograd.grad(loss_fn(run.outputs), [leaf, *states])
    expected_h = torch.stack([g.norm() for g in grads[1:]]).reshape(layers, 25)
    np.testing.assert_allclose(flow.hidden, expected_h.numpy(), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(flow.inputs, grads[0].norm(dim=(0, 2)).numpy(), rtol=1e-6)
