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
    # dL/d(read-out) by autograd on the read-out alone; the rest by the explicit recursion.
    with torch.inference_mode(False), torch.enable_grad():
        readout = outputs.detach().clone().requires_grad_(True)
        loss = loss_fn(readout)
        (grad_out,) = torch.autograd.grad(loss, readout)
    grad_out = grad_out.detach()
    from_above = _numpy(grad_out @ engine.readout.weight)  # direct path into the top h_t
    norms = []
    for index in reversed(range(len(layers))):
        params = engine.layer_parameters(index)
        grad_h, grad_in = _backward_through_time(
            engine.config.kind, layers[index], params, from_above
        )
        norms.append(np.sqrt((grad_h**2).sum(axis=(0, 2))))
        from_above = grad_in
    return GradientFlow(
        hidden=np.stack(norms[::-1]).astype(np.float32),
        inputs=np.sqrt((from_above**2).sum(axis=(0, 2))).astype(np.float32),
        loss=float(loss.detach()),
    )


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _backward_through_time(kind: str, layer: LayerStates, params, direct: np.ndarray):
    """One layer's BPTT, in numpy: the loop over time is a few small ops per step, and numpy's
    per-op overhead is a fraction of torch's (this is what makes the probe cheap).

    ``direct`` (B, T, H): dL/dh_t arriving from outside the recurrence (the read-out, or the
    layer above). Returns the total dL/dh_t and dL/d(layer input)_t.
    """
    weight_ih, weight_hh, _, bias_hh = (_numpy(p) for p in params)
    hidden = _numpy(layer.hidden)
    gates = {name: _numpy(value) for name, value in layer.gates.items()}
    batch, steps, size = hidden.shape
    h_prev = np.concatenate((np.zeros_like(hidden[:, :1]), hidden[:, :-1]), axis=1)
    grad_h = np.empty_like(hidden)
    grad_pre = np.empty((batch, steps, weight_hh.shape[0]), dtype=hidden.dtype)
    carry = np.zeros((batch, size), dtype=hidden.dtype)  # dL/dh_t through step t+1
    if kind == "lstm":
        i, f, cand, o = (gates[n] for n in ("input", "forget", "candidate", "output"))
        cell = _numpy(layer.cell)
        c_prev = np.concatenate((np.zeros_like(cell[:, :1]), cell[:, :-1]), axis=1)
        tanh_c = np.tanh(cell)
        # Everything that does not depend on the gradient, for all steps at once.
        dc_from_h = o * (1 - tanh_c**2)
        f_next = np.concatenate((f[:, 1:], np.zeros_like(f[:, :1])), axis=1)
        to_pre = np.concatenate(  # d(pre-activation)/dc for i, f, g; d(pre)/dh for o
            (cand * i * (1 - i), c_prev * f * (1 - f), i * (1 - cand**2)), axis=-1
        )
        to_pre_o = tanh_c * o * (1 - o)
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
    if kind == "gru":
        r, z, n = gates["reset"], gates["update"], gates["candidate"]
        w_hr, w_hz, w_hn = np.split(weight_hh, 3, axis=0)
        hn = h_prev @ w_hn.T + bias_hh[2 * size :]  # W_hn h_{t-1} + b_hn, inside the reset
        dn_from_h = (1 - z) * (1 - n**2)
        dr_from_dn = hn * r * (1 - r)
        dz_from_h = (h_prev - n) * z * (1 - z)
        w_rz = np.concatenate((w_hr, w_hz), axis=0)
        for t in range(steps - 1, -1, -1):
            dh = direct[:, t] + carry
            grad_h[:, t] = dh
            dn = dh * dn_from_h[:, t]
            grad_pre[:, t, :size] = dn * dr_from_dn[:, t]
            grad_pre[:, t, size : 2 * size] = dh * dz_from_h[:, t]
            grad_pre[:, t, 2 * size :] = dn
            carry = dh * z[:, t] + grad_pre[:, t, : 2 * size] @ w_rz + (dn * r[:, t]) @ w_hn
        return grad_h, grad_pre @ weight_ih
    one_minus_h2 = 1 - hidden**2
    for t in range(steps - 1, -1, -1):
        dh = direct[:, t] + carry
        grad_h[:, t] = dh
        grad_pre[:, t] = dh * one_minus_h2[:, t]
        carry = grad_pre[:, t] @ weight_hh
    return grad_h, grad_pre @ weight_ih
