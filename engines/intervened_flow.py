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

from engines.gradient_flow import (
    GradientFlow,
    flow_through_layers,
    gru_bptt,
    layer_arrays,
    lstm_bptt,
    lstm_inputs,
    tanh_bptt,
)
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
    kind = engine.config.kind
    return flow_through_layers(
        engine,
        run.outputs,
        loss_fn,
        len(run.layers),
        lambda index, from_above: _backward(
            kind, run.layers[index], run.params[index], run.plans[index], from_above
        ),
    )


def _free(plan: LayerPlan, gate: str, dtype) -> np.ndarray | float:
    """1 where ``gate`` follows its pre-activation, 0 where it is clamped ((T, H) or 1)."""
    mask = plan.clamp_masks.get(gate)
    return 1.0 if mask is None else (~mask).astype(dtype)


def _backward(kind: str, layer: LayerStates, params, plan: LayerPlan, direct: np.ndarray):
    """One layer's BPTT under ``plan``: the plain loops of ``engines.gradient_flow`` over
    coefficients with the interventions folded in. ``direct`` (B, T, H): dL/dh_t from
    outside the recurrence. Returns the total dL/dh_t and dL/d(layer input)_t."""
    weight_ih, weight_hh, bias_hh, hidden, gates, h_prev = layer_arrays(layer, params)
    size = hidden.shape[2]
    dtype = hidden.dtype
    keep = 1.0 if plan.ablate is None else (~plan.ablate).astype(dtype)  # (T, H)
    if kind == "lstm":
        i, f, cand, o, tanh_c, c_prev, f_next = lstm_inputs(layer, gates)
        # dh -> dc through the (un-silenced) h, and dc_{t+1} -> dc_t through f_{t+1}, both
        # stopped at a silenced unit (its c_t and h_t are constants).
        dc_from_h = o * (1 - tanh_c**2) * keep
        f_next = f_next * keep
        to_pre = np.concatenate(
            (
                cand * i * (1 - i) * _free(plan, "input", dtype),
                c_prev * f * (1 - f) * _free(plan, "forget", dtype),
                i * (1 - cand**2) * _free(plan, "candidate", dtype),
            ),
            axis=-1,
        )
        to_pre_o = tanh_c * o * (1 - o) * _free(plan, "output", dtype) * keep
        return lstm_bptt(hidden, direct, weight_ih, weight_hh, dc_from_h, f_next, to_pre, to_pre_o)
    if kind == "gru":
        r, z, n = gates["reset"], gates["update"], gates["candidate"]
        w_hn = np.split(weight_hh, 3, axis=0)[2]
        hn = h_prev @ w_hn.T + bias_hh[2 * size :]
        dn_from_h = (1 - z) * (1 - n**2) * _free(plan, "candidate", dtype) * keep
        dr_from_dn = hn * r * (1 - r) * _free(plan, "reset", dtype)
        dz_from_h = (h_prev - n) * z * (1 - z) * _free(plan, "update", dtype) * keep
        z_kept = z * keep
        return gru_bptt(
            hidden, direct, weight_ih, weight_hh, r, z_kept, dn_from_h, dr_from_dn, dz_from_h
        )
    to_pre = (1 - np.tanh(gates["preactivation"]) ** 2) * _free(plan, "preactivation", dtype)
    return tanh_bptt(hidden, direct, weight_ih, weight_hh, to_pre * keep)
