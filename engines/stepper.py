"""The reference stepper: the recurrence written out step by step with the engine's weights.

It is slow (a Python loop of cells) and is the reference the fast paths are checked against:
with autograd each h_t is a graph node whose ``.grad`` is the total dL/dh_t that
``engines.gradient_flow`` computes by its explicit recursion, and with ``dtype=float64`` it
recomputes every state.

It is also where interventions live (``engines.interventions``: clamp a gate, ablate a unit,
replace a bias): they change the recurrence itself, so the fused kernel's h_t cannot be reused.
Each intervention is applied between computing a gate and updating the state, so the next gate
sees the altered state. The probe runs it without autograd (``stepped_states``) on the probe
batch only.

Layers run one after another over the whole sequence (layer k's input is layer k-1's output
sequence), which is the same recurrence as stepping all layers at each t and lets each layer's
input projection be one batched matmul.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engines.config import GATE_NAMES
from engines.interventions import LayerPlan, gate_block, plan_interventions
from engines.probe import LayerStates, full_precision


@dataclass
class SteppedRun:
    """Per layer, per step tensors (lists indexed [layer][t]) and the read-out (B, T, O)."""

    hidden: list[list[torch.Tensor]]
    cell: list[list[torch.Tensor]] | None
    gates: list[dict[str, list[torch.Tensor]]]
    outputs: torch.Tensor


@dataclass
class SteppedStates:
    """A run under interventions, stacked like the probe's (``engines.probe.LayerStates``),
    with what the gradient flow's recursion needs besides: each layer's plan (its masks) and
    its parameters with the bias edits applied."""

    layers: list[LayerStates]
    outputs: torch.Tensor
    plans: list[LayerPlan]
    params: list[tuple[torch.Tensor, ...]]


def edited_parameters(kind: str, params, plan: LayerPlan | None) -> tuple[torch.Tensor, ...]:
    """(weight_ih, weight_hh, bias_ih, bias_hh) with ``plan``'s bias edits: b_ih = value and
    b_hh = 0 for the edited units of the gate's block (``engines.interventions.SetBias``)."""
    if plan is None or not plan.bias:
        return tuple(params)
    weight_ih, weight_hh, bias_ih, bias_hh = params
    size = weight_hh.shape[1]
    bias_ih, bias_hh = bias_ih.clone(), bias_hh.clone()
    for gate, units, value in plan.bias:
        rows = torch.as_tensor(units, device=bias_ih.device) + gate_block(kind, gate) * size
        bias_ih[rows] = value
        bias_hh[rows] = 0.0
    return weight_ih, weight_hh, bias_ih, bias_hh


class _Masks:
    """A plan's masks on the run's device and dtype, with the steps each one touches."""

    def __init__(self, plan: LayerPlan | None, like: torch.Tensor) -> None:
        self.clamps: dict[str, tuple[torch.Tensor, torch.Tensor, list[bool]]] = {}
        self.ablate: tuple[torch.Tensor, list[bool]] | None = None
        if plan is None:
            return
        for gate, mask in plan.clamp_masks.items():
            self.clamps[gate] = (
                torch.as_tensor(mask, device=like.device),
                torch.as_tensor(plan.clamp_values[gate], device=like.device, dtype=like.dtype),
                mask.any(axis=1).tolist(),
            )
        if plan.ablate is not None:
            self.ablate = (
                torch.as_tensor(plan.ablate, device=like.device),
                plan.ablate.any(axis=1).tolist(),
            )

    def clamp(self, gate: str, t: int, value: torch.Tensor) -> torch.Tensor:
        held = self.clamps.get(gate)
        if held is None or not held[2][t]:
            return value
        # torch.where: the clamped entries are constants, so no gradient reaches the gate's
        # pre-activation there.
        return torch.where(held[0][t], held[1][t], value)

    def silence(self, t: int, state: torch.Tensor) -> torch.Tensor:
        if self.ablate is None or not self.ablate[1][t]:
            return state
        return state.masked_fill(self.ablate[0][t], 0.0)


def _run_layer(kind: str, inputs: torch.Tensor, params, masks: _Masks):
    """One layer over the whole sequence: lists of h_t, c_t (LSTM) and per-gate values."""
    weight_ih, weight_hh, bias_ih, bias_hh = params
    batch, steps, _ = inputs.shape
    size = weight_hh.shape[1]
    from_input = F.linear(inputs, weight_ih, bias_ih)  # every step's input part at once
    h = inputs.new_zeros(batch, size)
    c = inputs.new_zeros(batch, size) if kind == "lstm" else None
    hidden, cell = [], []
    gates: dict[str, list[torch.Tensor]] = {name: [] for name in GATE_NAMES[kind]}
    clamp, silence = masks.clamp, masks.silence
    for t in range(steps):
        from_hidden = F.linear(h, weight_hh, bias_hh)
        if kind == "lstm":
            pre = from_input[:, t] + from_hidden
            squashed = torch.sigmoid(pre)
            i = clamp("input", t, squashed[:, :size])
            f = clamp("forget", t, squashed[:, size : 2 * size])
            g = clamp("candidate", t, torch.tanh(pre[:, 2 * size : 3 * size]))
            o = clamp("output", t, squashed[:, 3 * size :])
            c = silence(t, torch.addcmul(f * c, i, g))
            h = silence(t, o * torch.tanh(c))
            cell.append(c)
            step_gates = (i, f, g, o)
        elif kind == "gru":
            in_r, in_z, in_n = from_input[:, t].chunk(3, dim=-1)
            hid_r, hid_z, hid_n = from_hidden.chunk(3, dim=-1)
            r = clamp("reset", t, torch.sigmoid(in_r + hid_r))  # before n: n sees it
            z = clamp("update", t, torch.sigmoid(in_z + hid_z))
            n = clamp("candidate", t, torch.tanh(torch.addcmul(in_n, r, hid_n)))
            h = silence(t, torch.lerp(n, h, z))  # (1 - z) * n + z * h_{t-1}
            step_gates = (r, z, n)
        else:
            a = clamp("preactivation", t, from_input[:, t] + from_hidden)
            h = silence(t, torch.tanh(a))
            step_gates = (a,)
        for values, value in zip(gates.values(), step_gates, strict=True):
            values.append(value)
        hidden.append(h)
    return hidden, (cell if kind == "lstm" else None), gates


def _layer_inputs(engine, x: torch.Tensor, dtype: torch.dtype | None, interventions):
    config = engine.config
    dtype = dtype or engine.readout.weight.dtype
    x = x.to(engine.device, dtype=dtype)
    plans = plan_interventions(interventions, config, x.shape[1])
    params = [
        edited_parameters(
            config.kind, tuple(p.to(dtype) for p in engine.layer_parameters(k)), plans[k]
        )
        for k in range(config.num_layers)
    ]
    return x, plans, params


def step_through(
    engine, x: torch.Tensor, dtype: torch.dtype | None = None, interventions=()
) -> SteppedRun:
    """Run the recurrence one step at a time; ``dtype`` (e.g. float64) recomputes in that
    precision from copies of the same weights. Keeps the autograd graph unless disabled: the
    autograd reference for the gradient flow, with or without ``interventions``."""
    kind = engine.config.kind
    x, plans, params = _layer_inputs(engine, x, dtype, interventions)
    hidden, cells, gates = [], [], []
    layer_input = x
    for k, layer_params in enumerate(params):
        h, c, g = _run_layer(kind, layer_input, layer_params, _Masks(plans[k], x))
        hidden.append(h)
        cells.append(c)
        gates.append(g)
        layer_input = torch.stack(h, dim=1)
    readout_w = engine.readout.weight.to(x.dtype)
    readout_b = engine.readout.bias.to(x.dtype)
    outputs = layer_input @ readout_w.T + readout_b
    return SteppedRun(
        hidden=hidden, cell=cells if kind == "lstm" else None, gates=gates, outputs=outputs
    )


@torch.no_grad()
def stepped_states(engine, x: torch.Tensor, interventions, validate: bool = True) -> SteppedStates:
    """The probe under ``interventions``: every layer's states and gates stacked (batch, time,
    hidden) like ``engines.probe.probe_states``, and the read-out of the altered run. No
    autograd; full fp32 on CUDA (TF32 off), as the probe."""
    engine.check_input(x, finite=validate)
    kind = engine.config.kind
    with full_precision(engine.device):
        x, plans, params = _layer_inputs(engine, x, None, interventions)
        layers = []
        layer_input = x
        for k, layer_params in enumerate(params):
            h, c, g = _run_layer(kind, layer_input, layer_params, _Masks(plans[k], x))
            hidden = torch.stack(h, dim=1)
            layers.append(
                LayerStates(
                    inputs=layer_input,
                    hidden=hidden,
                    cell=None if c is None else torch.stack(c, dim=1),
                    gates={name: torch.stack(v, dim=1) for name, v in g.items()},
                )
            )
            layer_input = hidden
        outputs = engine.readout(layer_input)
    return SteppedStates(layers, outputs, plans, params)
