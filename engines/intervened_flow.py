"""The gradient flow of a run under interventions: the true dL/dh_t of the altered recurrence.

The same explicit backpropagation through time as ``engines.gradient_flow`` (read its module
docstring first), over the states and gates of the altered run (``engines.stepper``), with the
interventions folded into the per-step coefficients before the loop over time:

- a clamped gate is a constant where it is clamped: its derivative to its pre-activation is 0
  (its value still multiplies what flows through it, e.g. a forget gate held at 1 passes dL/dc
  on unchanged);
- an ablated unit's h_t (and c_t) is a constant 0: dL/dh_t still reaches the node (it is what
  autograd would report for h_t) but nothing flows on from it to the step before;
- a replaced bias is just other parameters (the GRU's b_hn inside the reset included).

So the loop itself is the plain one, a few small numpy ops per step. It is checked against
autograd through ``engines.stepper.step_through`` with the same interventions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from engines.gradient_flow import GradientFlow
from engines.interventions import LayerPlan
from engines.probe import LayerStates
from engines.stepper import SteppedStates, stepped_states
from engines.threads import single_threaded_numpy_blas


def intervened_gradient_flow(
    engine,
    x: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    interventions,
    run: SteppedStates | None = None,
) -> GradientFlow:
    """Per-step ||dL/dh_t|| and ||dL/dx_t|| of the run altered by ``interventions``; ``run``
    is ``stepped_states(engine, x, interventions)`` when the caller has it already."""
    single_threaded_numpy_blas()
    run = run if run is not None else stepped_states(engine, x, interventions)
    with torch.inference_mode(False), torch.enable_grad():
        readout = run.outputs.detach().clone().requires_grad_(True)
        loss = loss_fn(readout)
        (grad_out,) = torch.autograd.grad(loss, readout)
    from_above = _numpy(grad_out.detach() @ engine.readout.weight)
    norms = []
    for index in reversed(range(len(run.layers))):
        grad_h, grad_in = _backward(
            engine.config.kind, run.layers[index], run.params[index], run.plans[index], from_above
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


def _free(plan: LayerPlan, gate: str, dtype) -> np.ndarray | float:
    """1 where ``gate`` follows its pre-activation, 0 where it is clamped ((T, H) or 1)."""
    mask = plan.clamp_masks.get(gate)
    return 1.0 if mask is None else (~mask).astype(dtype)


def _backward(kind: str, layer: LayerStates, params, plan: LayerPlan, direct: np.ndarray):
    """One layer's BPTT under ``plan``. ``direct`` (B, T, H): dL/dh_t from outside the
    recurrence. Returns the total dL/dh_t and dL/d(layer input)_t."""
    weight_ih, weight_hh, _, bias_hh = (_numpy(p) for p in params)
    hidden = _numpy(layer.hidden)
    gates = {name: _numpy(value) for name, value in layer.gates.items()}
    batch, steps, size = hidden.shape
    dtype = hidden.dtype
    keep = 1.0 if plan.ablate is None else (~plan.ablate).astype(dtype)  # (T, H)
    h_prev = np.concatenate((np.zeros_like(hidden[:, :1]), hidden[:, :-1]), axis=1)
    grad_h = np.empty_like(hidden)
    grad_pre = np.empty((batch, steps, weight_hh.shape[0]), dtype=dtype)
    carry = np.zeros((batch, size), dtype=dtype)
    if kind == "lstm":
        i, f, cand, o = (gates[n] for n in ("input", "forget", "candidate", "output"))
        cell = _numpy(layer.cell)
        c_prev = np.concatenate((np.zeros_like(cell[:, :1]), cell[:, :-1]), axis=1)
        tanh_c = np.tanh(cell)
        # dh -> dc through the (un-silenced) h, and dc_{t+1} -> dc_t through f_{t+1}, both
        # stopped at a silenced unit (its c_t and h_t are constants).
        dc_from_h = o * (1 - tanh_c**2) * keep
        f_next = np.concatenate((f[:, 1:], np.zeros_like(f[:, :1])), axis=1) * keep
        to_pre = np.concatenate(
            (
                cand * i * (1 - i) * _free(plan, "input", dtype),
                c_prev * f * (1 - f) * _free(plan, "forget", dtype),
                i * (1 - cand**2) * _free(plan, "candidate", dtype),
            ),
            axis=-1,
        )
        to_pre_o = tanh_c * o * (1 - o) * _free(plan, "output", dtype) * keep
        grad_c_next = np.zeros((batch, size), dtype=dtype)
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
        hn = h_prev @ w_hn.T + bias_hh[2 * size :]
        dn_from_h = (1 - z) * (1 - n**2) * _free(plan, "candidate", dtype) * keep
        dr_from_dn = hn * r * (1 - r) * _free(plan, "reset", dtype)
        dz_from_h = (h_prev - n) * z * (1 - z) * _free(plan, "update", dtype) * keep
        z_kept = z * keep
        w_rz = np.concatenate((w_hr, w_hz), axis=0)
        for t in range(steps - 1, -1, -1):
            dh = direct[:, t] + carry
            grad_h[:, t] = dh
            dn = dh * dn_from_h[:, t]
            grad_pre[:, t, :size] = dn * dr_from_dn[:, t]
            grad_pre[:, t, size : 2 * size] = dh * dz_from_h[:, t]
            grad_pre[:, t, 2 * size :] = dn
            carry = dh * z_kept[:, t] + grad_pre[:, t, : 2 * size] @ w_rz + (dn * r[:, t]) @ w_hn
        return grad_h, grad_pre @ weight_ih
    to_pre = (1 - np.tanh(gates["preactivation"]) ** 2) * _free(plan, "preactivation", dtype)
    to_pre = to_pre * keep
    for t in range(steps - 1, -1, -1):
        dh = direct[:, t] + carry
        grad_h[:, t] = dh
        grad_pre[:, t] = dh * to_pre[:, t]
        carry = grad_pre[:, t] @ weight_hh
    return grad_h, grad_pre @ weight_ih
