"""Every state and gate of every step, computed in parallel over time.

The fused core hands back h_t for every t. With h_{t-1} known for all t, each gate of each
step is one batched matmul away (PyTorch's formulas and chunk order, torch/nn/modules/rnn.py):

- LSTM: i, f, g, o = split(x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh); the cell state
  c_t = f_t * c_{t-1} + i_t * g_t is an elementwise linear recurrence, solved by a parallel
  (Hillis-Steele) scan in log2(T) elementwise passes instead of a Python loop over T.
- GRU: r, z from the same sums; n = tanh(x W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn)).
- RNN: the pre-activation a_t (h_t = tanh(a_t)).

The probe's own forward runs with TF32 off, so on CUDA the trace is exact in fp32 while
training keeps TF32's speed (design notes, section 2).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engines.config import GATE_NAMES


@dataclass(frozen=True)
class Trace:
    """A probe of one batch. Arrays are float32 numpy, shaped (layers, batch, time, hidden)
    except ``outputs`` (batch, time, output_size), the read-out at every step."""

    kind: str
    hidden: np.ndarray
    cell: np.ndarray | None
    gates: dict[str, np.ndarray]
    outputs: np.ndarray

    @property
    def num_layers(self) -> int:
        return int(self.hidden.shape[0])

    @property
    def steps(self) -> int:
        return int(self.hidden.shape[2])


@contextmanager
def full_precision(device: torch.device):
    """Turn TF32 off for the duration (CUDA only; CPU math is always full fp32)."""
    if device.type != "cuda":
        yield
        return
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@contextmanager
def _quiet_cudnn(device: torch.device):
    """Layer views share non-flattened weights: cuDNN warns that it compacts them. (CUDA only:
    ``catch_warnings`` is not free, and the CPU path never warns.)"""
    if device.type != "cuda":
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
        yield


def linear_scan(decay: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
    """Solve c_t = decay_t * c_{t-1} + drive_t (c_{-1} = 0) along dim 1, in parallel.

    Composes the affine maps c -> a c + b pairwise (Hillis-Steele): after the pass with
    shift s, position t holds the map from t-s... to t. No division, so no underflow trouble
    when the product of forget gates becomes tiny.
    """
    a, b = decay, drive
    steps = a.shape[1]
    shift = 1
    while shift < steps:
        b = torch.cat((b[:, :shift], torch.addcmul(b[:, shift:], a[:, shift:], b[:, :-shift])), 1)
        if 2 * shift < steps:  # the last pass needs no composed decay
            a = torch.cat((a[:, :shift], a[:, shift:] * a[:, :-shift]), dim=1)
        shift *= 2
    return b


def layer_gates(kind: str, x: torch.Tensor, h_prev: torch.Tensor, params) -> dict:
    """Gate activations of one layer for all steps at once, given h_{t-1} for every t."""
    weight_ih, weight_hh, bias_ih, bias_hh = params
    from_input = F.linear(x, weight_ih, bias_ih)
    from_hidden = F.linear(h_prev, weight_hh, bias_hh)
    if kind == "rnn":
        return {"preactivation": from_input + from_hidden}
    if kind == "lstm":
        pre = from_input + from_hidden
        size = pre.shape[-1] // 4
        squashed = torch.sigmoid(pre)  # i, f, o (one call; the g slot is replaced below)
        return {
            "input": squashed[..., :size],
            "forget": squashed[..., size : 2 * size],
            "candidate": torch.tanh(pre[..., 2 * size : 3 * size]),
            "output": squashed[..., 3 * size :],
        }
    in_r, in_z, in_n = from_input.chunk(3, dim=-1)
    hid_r, hid_z, hid_n = from_hidden.chunk(3, dim=-1)
    reset = torch.sigmoid(in_r + hid_r)
    return {
        "reset": reset,
        "update": torch.sigmoid(in_z + hid_z),
        "candidate": torch.tanh(torch.addcmul(in_n, reset, hid_n)),
    }


@dataclass
class LayerStates:
    """One layer's probe in torch tensors, (batch, time, hidden): what the views and the
    gradient flow's adjoint recursion both need."""

    inputs: torch.Tensor  # the layer's input sequence (x, or the layer below's h)
    hidden: torch.Tensor
    cell: torch.Tensor | None
    gates: dict[str, torch.Tensor]


@torch.no_grad()
def probe_states(
    engine, x: torch.Tensor, validate: bool = True
) -> tuple[list[LayerStates], torch.Tensor]:
    """Every layer's states and gates, and the read-out: the h_t sequences by the fused
    kernel (one call per layer), the rest in parallel over time.

    ``validate=False`` skips the finiteness check of ``x`` (for a batch checked once before).
    """
    engine.check_input(x, finite=validate)
    kind = engine.config.kind
    x = x.to(engine.device, dtype=engine.readout.weight.dtype)
    layers: list[LayerStates] = []
    layer_input = x
    with full_precision(engine.device), _quiet_cudnn(engine.device):
        for layer in range(engine.config.num_layers):
            hidden, _ = engine.layer_view(layer)(layer_input)
            h_prev = F.pad(hidden[:, :-1], (0, 0, 1, 0))  # h_{t-1}, with h_{-1} = 0
            gates = layer_gates(kind, layer_input, h_prev, engine.layer_parameters(layer))
            cell = None
            if kind == "lstm":
                cell = linear_scan(gates["forget"], gates["input"] * gates["candidate"])
            layers.append(LayerStates(layer_input, hidden, cell, gates))
            layer_input = hidden
        outputs = engine.readout(layer_input)
    return layers, outputs


def probe(engine, x: torch.Tensor) -> Trace:
    """Trace ``engine`` on the batch ``x`` (batch, time, features); see the module docstring."""
    layers, outputs = probe_states(engine, x)
    return trace_from_states(engine.config.kind, layers, outputs)


def trace_from_states(kind: str, layers: list[LayerStates], outputs: torch.Tensor) -> Trace:
    """The numpy ``Trace`` of states already probed (shared with the gradient flow)."""

    def stack(tensors):
        return torch.stack(tensors).float().cpu().numpy()

    return Trace(
        kind=kind,
        hidden=stack([layer.hidden for layer in layers]),
        cell=stack([layer.cell for layer in layers]) if kind == "lstm" else None,
        gates={name: stack([layer.gates[name] for layer in layers]) for name in GATE_NAMES[kind]},
        outputs=outputs.float().cpu().numpy(),
    )
