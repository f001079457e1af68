"""The parallel-over-time probe against torch.nn and against a float64 recomputation.

The float64 reference below is written from PyTorch's documented equations (torch.nn.RNN,
LSTM and GRU), layer by layer and step by step, independently of engines.stepper and of the
gate code in engines.probe.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.config import GATE_NAMES, KINDS
from engines.engine import create_engine
from engines.probe import Trace, full_precision, linear_scan

LAYERS = (1, 2)
TOLERANCE = 1e-5


def reference_float64(engine, x: torch.Tensor) -> dict:
    """Every hidden state, cell state and gate, in float64, from the engine's weights.

    Returns numpy arrays shaped like the trace's: (layers, batch, time, hidden), and
    ``outputs`` (batch, time, output_size).
    """
    kind = engine.config.kind
    size = engine.config.hidden_size
    weights = {k: v.detach().to("cpu", torch.float64) for k, v in engine.state_dict().items()}
    x = x.detach().to("cpu", torch.float64)
    batch, steps, _ = x.shape
    hidden_layers, cell_layers = [], []
    gate_layers = {name: [] for name in GATE_NAMES[kind]}
    layer_input = x
    for layer in range(engine.config.num_layers):
        w_ih = weights[f"core.weight_ih_l{layer}"]
        w_hh = weights[f"core.weight_hh_l{layer}"]
        b_ih = weights[f"core.bias_ih_l{layer}"]
        b_hh = weights[f"core.bias_hh_l{layer}"]
        # PyTorch stacks the gates' weights in its documented order: LSTM (W_ii|W_if|W_ig|W_io),
        # GRU (W_ir|W_iz|W_in), and the same for the recurrent weights and both biases.
        w_i, w_h = w_ih.split(size), w_hh.split(size)
        b_i, b_h = b_ih.split(size), b_hh.split(size)
        h = torch.zeros(batch, size, dtype=torch.float64)
        c = torch.zeros(batch, size, dtype=torch.float64)
        hs, cs = [], []
        gs = {name: [] for name in GATE_NAMES[kind]}
        for t in range(steps):
            xt = layer_input[:, t]
            # W_i* x + b_i* + W_h* h + b_h*, per gate block.
            pre = [xt @ w_i[k].T + b_i[k] + h @ w_h[k].T + b_h[k] for k in range(len(w_i))]
            if kind == "lstm":
                i = torch.sigmoid(pre[0])
                f = torch.sigmoid(pre[1])
                g = torch.tanh(pre[2])
                o = torch.sigmoid(pre[3])
                c = f * c + i * g
                h = o * torch.tanh(c)
                values = (i, f, g, o)
                cs.append(c)
            elif kind == "gru":
                r = torch.sigmoid(pre[0])
                z = torch.sigmoid(pre[1])
                n = torch.tanh(xt @ w_i[2].T + b_i[2] + r * (h @ w_h[2].T + b_h[2]))
                h = (1 - z) * n + z * h
                values = (r, z, n)
            else:
                a = xt @ w_ih.T + b_ih + h @ w_hh.T + b_hh
                h = torch.tanh(a)
                values = (a,)
            for name, value in zip(GATE_NAMES[kind], values, strict=True):
                gs[name].append(value)
            hs.append(h)
        layer_input = torch.stack(hs, dim=1)
        hidden_layers.append(layer_input)
        if kind == "lstm":
            cell_layers.append(torch.stack(cs, dim=1))
        for name, values in gs.items():
            gate_layers[name].append(torch.stack(values, dim=1))
    outputs = layer_input @ weights["readout.weight"].T + weights["readout.bias"]

    def stack(tensors):
        return torch.stack(tensors).numpy()

    return {
        "hidden": stack(hidden_layers),
        "cell": stack(cell_layers) if cell_layers else None,
        "gates": {name: stack(values) for name, values in gate_layers.items()},
        "outputs": outputs.numpy(),
    }


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def _inputs(batch=3, steps=37, features=4, seed=0, device="cpu") -> torch.Tensor:
    x = torch.randn(batch, steps, features, generator=torch.Generator().manual_seed(seed))
    return x.to(device)


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("kind", KINDS)
def test_trace_top_hidden_and_outputs_equal_the_fused_module(kind, layers, device):
    engine = create_engine(kind, 4, 6, 2, num_layers=layers, device=device, seed=10)
    x = _inputs(device=device)
    trace = engine.trace(x)
    assert isinstance(trace, Trace)
    with torch.no_grad(), full_precision(engine.device):
        hidden, _ = engine.core(x)
        outputs = engine(x)
    assert _max_diff(trace.hidden[-1], hidden.cpu()) <= TOLERANCE
    assert _max_diff(trace.outputs, outputs.cpu()) <= TOLERANCE


@pytest.mark.parametrize("init", ["default", "orthogonal", "identity"])
@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("kind", KINDS)
def test_trace_equals_float64_step_by_step_recomputation(kind, layers, init, device):
    engine = create_engine(kind, 4, 6, 2, num_layers=layers, init=init, device=device, seed=20)
    x = _inputs(seed=1, device=device)
    trace = engine.trace(x)
    reference = reference_float64(engine, x)

    assert trace.kind == kind
    assert trace.num_layers == layers
    assert trace.steps == x.shape[1]
    assert trace.hidden.shape == (layers, 3, 37, 6)
    assert trace.hidden.dtype == np.float32
    assert trace.outputs.shape == (3, 37, 2)
    assert tuple(trace.gates) == GATE_NAMES[kind]
    for name, values in trace.gates.items():
        assert values.shape == (layers, 3, 37, 6), name
        assert values.dtype == np.float32
        assert _max_diff(values, reference["gates"][name]) <= TOLERANCE, name
    assert _max_diff(trace.hidden, reference["hidden"]) <= TOLERANCE
    if kind == "lstm":
        assert trace.cell.shape == (layers, 3, 37, 6)
        assert _max_diff(trace.cell, reference["cell"]) <= TOLERANCE
    else:
        assert trace.cell is None
    assert _max_diff(trace.outputs, reference["outputs"]) <= TOLERANCE


@pytest.mark.parametrize("kind", KINDS)
def test_trace_of_a_single_step(kind):
    engine = create_engine(kind, 4, 5, 3, num_layers=2, seed=30)
    x = _inputs(batch=1, steps=1)
    trace = engine.trace(x)
    reference = reference_float64(engine, x)
    assert trace.hidden.shape == (2, 1, 1, 5)
    assert _max_diff(trace.hidden, reference["hidden"]) <= TOLERANCE
    for name, values in trace.gates.items():
        assert _max_diff(values, reference["gates"][name]) <= TOLERANCE, name


def test_lstm_cell_over_long_sequence_with_saturated_forget_gate():
    """A forget gate near 1 keeps c_t growing for hundreds of steps: the scan must follow."""
    engine = create_engine("lstm", 4, 8, 1, forget_bias=6.0, seed=40)
    x = _inputs(batch=2, steps=300, seed=4)
    trace = engine.trace(x)
    reference = reference_float64(engine, x)
    scale = max(1.0, float(np.abs(reference["cell"]).max()))
    assert _max_diff(trace.cell, reference["cell"]) <= TOLERANCE * scale
    assert _max_diff(trace.hidden, reference["hidden"]) <= TOLERANCE


def test_trace_does_not_build_a_graph_or_touch_gradients():
    engine = create_engine("lstm", 4, 5, 1, num_layers=2, seed=50)
    x = _inputs(steps=5).requires_grad_()
    trace = engine.trace(x)
    assert all(isinstance(v, np.ndarray) for v in trace.gates.values())
    assert x.grad is None
    assert all(p.grad is None for p in engine.parameters())


# --- linear_scan ------------------------------------------------------------------------


def _loop_scan(decay: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
    state = torch.zeros_like(drive[:, 0])
    out = []
    for t in range(drive.shape[1]):
        state = decay[:, t] * state + drive[:, t]
        out.append(state)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("steps", [1, 2, 3, 17, 100, 128])
def test_linear_scan_equals_a_loop(steps):
    generator = torch.Generator().manual_seed(steps)
    decay = torch.rand(3, steps, 5, generator=generator, dtype=torch.float64)
    drive = torch.randn(3, steps, 5, generator=generator, dtype=torch.float64)
    scanned = linear_scan(decay, drive)
    assert scanned.shape == drive.shape
    assert torch.allclose(scanned, _loop_scan(decay, drive), rtol=1e-12, atol=1e-12)


def test_linear_scan_with_tiny_decays_does_not_underflow_to_nan():
    decay = torch.full((1, 60, 2), 1e-30)
    drive = torch.ones(1, 60, 2)
    scanned = linear_scan(decay, drive)
    assert torch.isfinite(scanned).all()
    assert torch.allclose(scanned, _loop_scan(decay, drive))
