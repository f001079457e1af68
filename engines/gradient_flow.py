"""How much of the loss's gradient reaches each time step: the vanishing gradient, measured.

For a probe batch: per time step t, the norm of the total derivative dL/dh_t (through the
recurrence, not only the direct read-out path), per layer, and of dL/dx_t. Norms are taken
over the batch and the units (features for x).

The fused kernels do not expose these, and autograd through a Python loop of cells costs ~10 ms
for 100 steps. Instead the probe's states and gates (computed in parallel over time) feed the
explicit backpropagation-through-time recursion of each cell: everything that does not depend
on the gradient is precomputed for all steps, leaving a few small numpy ops per step. "Total derivative of h_t" means what autograd would put in ``h_t.grad``
for the stepped recurrence: every path from h_t to the loss, with the LSTM cell state c_t a
node of its own. ``engines.stepper`` is the autograd reference this is tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engines.probe import LayerStates, probe_states
from engines.threads import single_threaded_numpy_blas


@dataclass(frozen=True)
class GradientFlow:
    """``hidden`` (layers, time): ||dL/dh_t|| over batch and units; ``inputs`` (time,):
    ||dL/dx_t|| over batch and features; ``loss`` the probe batch's loss."""

    hidden: np.ndarray
    inputs: np.ndarray
    loss: float


def gradient_flow(
    engine,
    x: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    states: tuple[list[LayerStates], torch.Tensor] | None = None,
) -> GradientFlow:
    """``loss_fn`` maps the read-out (batch, time, output_size) to a scalar loss. ``states``
    is ``probe_states(engine, x)`` when the caller has it already (a probe that also traces)."""
    single_threaded_numpy_blas()  # once per process; see engines.threads
    layers, outputs = states if states is not None else probe_states(engine, x)
    kind = engine.config.kind
    return flow_through_layers(
        engine,
        outputs,
        loss_fn,
        len(layers),
        lambda index, from_above: _backward_through_time(
            kind, layers[index], engine.layer_parameters(index), from_above
        ),
    )


def flow_through_layers(engine, outputs, loss_fn, count: int, backward) -> GradientFlow:
    """dL/d(read-out) by autograd on the read-out ``outputs`` alone; the rest by
    ``backward(layer index, dL/dh from above) -> (total dL/dh, dL/d(layer input))``, from
    the top layer down. Shared by the plain and the intervened gradient flow."""
    with torch.inference_mode(False), torch.enable_grad():
        readout = outputs.detach().clone().requires_grad_(True)
        loss = loss_fn(readout)
        (grad_out,) = torch.autograd.grad(loss, readout)
    from_above = _numpy(grad_out.detach() @ engine.readout.weight)  # direct path into top h_t
    norms = []
    for index in reversed(range(count)):
        grad_h, grad_in = backward(index, from_above)
        norms.append(np.sqrt((grad_h**2).sum(axis=(0, 2))))
        from_above = grad_in
    return GradientFlow(
        hidden=np.stack(norms[::-1]).astype(np.float32),
        inputs=np.sqrt((from_above**2).sum(axis=(0, 2))).astype(np.float32),
        loss=float(loss.detach()),
    )


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def layer_arrays(layer: LayerStates, params):
    """A layer's weights (ih, hh), bias_hh, hidden states and gates as numpy arrays, and
    h_{t-1} (zeros before the first step)."""
    weight_ih, weight_hh, _, bias_hh = (_numpy(p) for p in params)
    hidden = _numpy(layer.hidden)
    gates = {name: _numpy(value) for name, value in layer.gates.items()}
    h_prev = np.concatenate((np.zeros_like(hidden[:, :1]), hidden[:, :-1]), axis=1)
    return weight_ih, weight_hh, bias_hh, hidden, gates, h_prev


def lstm_inputs(layer: LayerStates, gates: dict):
    """(i, f, candidate, o, tanh(c_t), c_{t-1}, f_{t+1}) of an LSTM layer, for all steps."""
    i, f, cand, o = (gates[n] for n in ("input", "forget", "candidate", "output"))
    cell = _numpy(layer.cell)
    c_prev = np.concatenate((np.zeros_like(cell[:, :1]), cell[:, :-1]), axis=1)
    f_next = np.concatenate((f[:, 1:], np.zeros_like(f[:, :1])), axis=1)
    return i, f, cand, o, np.tanh(cell), c_prev, f_next


def _buffers(hidden: np.ndarray, weight_hh: np.ndarray):
    """The loops' results, dL/dh_t (shape, type and memory layout of ``hidden``) and
    dL/d(pre-activations)_t, and the carry dL/dh_t through step t+1 (zero after the last)."""
    batch, steps, size = hidden.shape
    grad_pre = np.empty((batch, steps, weight_hh.shape[0]), dtype=hidden.dtype)
    return np.empty_like(hidden), grad_pre, np.zeros((batch, size), dtype=hidden.dtype)


def lstm_bptt(hidden, direct, weight_ih, weight_hh, dc_from_h, f_next, to_pre, to_pre_o):
    """The LSTM's loop over time, from coefficients precomputed for all steps: ``dc_from_h``
    (dh_t -> dc_t), ``f_next`` (dc_{t+1} -> dc_t), ``to_pre`` (dc_t -> the i, f, g
    pre-activations) and ``to_pre_o`` (dh_t -> o's). ``hidden``: the layer's h_t (the
    results take its shape, type and memory layout). Returns dL/dh_t and dL/d(input)_t."""
    batch, steps, size = hidden.shape
    grad_h, grad_pre, carry = _buffers(hidden, weight_hh)
    grad_c_next = np.zeros((batch, size), dtype=hidden.dtype)
    for t in range(steps - 1, -1, -1):
        dh = direct[:, t] + carry
        grad_h[:, t] = dh
        dc = dh * dc_from_h[:, t] + grad_c_next * f_next[:, t]
        grad_pre[:, t, : 3 * size] = np.tile(dc, 3) * to_pre[:, t]
        grad_pre[:, t, 3 * size :] = dh * to_pre_o[:, t]
        carry = grad_pre[:, t] @ weight_hh
        grad_c_next = dc
    return grad_h, grad_pre @ weight_ih


def gru_bptt(hidden, direct, weight_ih, weight_hh, r, z_carry, dn_from_h, dr_from_dn, dz_from_h):
    """The GRU's loop over time, from coefficients precomputed for all steps (``z_carry``:
    dh_t -> dh_{t-1} through the update gate). Returns dL/dh_t and dL/d(input)_t."""
    batch, steps, size = hidden.shape
    w_hr, w_hz, w_hn = np.split(weight_hh, 3, axis=0)
    w_rz = np.concatenate((w_hr, w_hz), axis=0)
    grad_h, grad_pre, carry = _buffers(hidden, weight_hh)
    for t in range(steps - 1, -1, -1):
        dh = direct[:, t] + carry
        grad_h[:, t] = dh
        dn = dh * dn_from_h[:, t]
        grad_pre[:, t, :size] = dn * dr_from_dn[:, t]
        grad_pre[:, t, size : 2 * size] = dh * dz_from_h[:, t]
        grad_pre[:, t, 2 * size :] = dn
        carry = dh * z_carry[:, t] + grad_pre[:, t, : 2 * size] @ w_rz + (dn * r[:, t]) @ w_hn
    return grad_h, grad_pre @ weight_ih


def tanh_bptt(hidden, direct, weight_ih, weight_hh, to_pre):
    """The tanh RNN's loop over time (``to_pre``: dh_t -> its pre-activation)."""
    batch, steps, size = hidden.shape
    grad_h, grad_pre, carry = _buffers(hidden, weight_hh)
    for t in range(steps - 1, -1, -1):
        dh = direct[:, t] + carry
        grad_h[:, t] = dh
        grad_pre[:, t] = dh * to_pre[:, t]
        carry = grad_pre[:, t] @ weight_hh
    return grad_h, grad_pre @ weight_ih


def _backward_through_time(kind: str, layer: LayerStates, params, direct: np.ndarray):
    """One layer's BPTT, in numpy: the loop over time is a few small ops per step, and numpy's
    per-op overhead is a fraction of torch's (this is what makes the probe cheap).

    ``direct`` (B, T, H): dL/dh_t arriving from outside the recurrence (the read-out, or the
    layer above). Returns the total dL/dh_t and dL/d(layer input)_t.
    """
    weight_ih, weight_hh, bias_hh, hidden, gates, h_prev = layer_arrays(layer, params)
    size = hidden.shape[2]
    if kind == "lstm":
        i, f, cand, o, tanh_c, c_prev, f_next = lstm_inputs(layer, gates)
        # Everything that does not depend on the gradient, for all steps at once.
        dc_from_h = o * (1 - tanh_c**2)
        to_pre = np.concatenate(  # d(pre-activation)/dc for i, f, g; d(pre)/dh for o
            (cand * i * (1 - i), c_prev * f * (1 - f), i * (1 - cand**2)), axis=-1
        )
        to_pre_o = tanh_c * o * (1 - o)
        return lstm_bptt(hidden, direct, weight_ih, weight_hh, dc_from_h, f_next, to_pre, to_pre_o)
    if kind == "gru":
        r, z, n = gates["reset"], gates["update"], gates["candidate"]
        w_hn = np.split(weight_hh, 3, axis=0)[2]
        hn = h_prev @ w_hn.T + bias_hh[2 * size :]  # W_hn h_{t-1} + b_hn, inside the reset
        dn_from_h = (1 - z) * (1 - n**2)
        dr_from_dn = hn * r * (1 - r)
        dz_from_h = (h_prev - n) * z * (1 - z)
        return gru_bptt(
            hidden, direct, weight_ih, weight_hh, r, z, dn_from_h, dr_from_dn, dz_from_h
        )
    return tanh_bptt(hidden, direct, weight_ih, weight_hh, 1 - hidden**2)
