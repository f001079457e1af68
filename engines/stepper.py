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

import numpy as np
import torch
import torch.nn.functional as F

from engines.config import GATE_NAMES
from engines.interventions import LayerPlan, gate_block, plan_interventions
from engines.probe import LayerStates
from engines.threads import single_threaded_numpy_blas


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


def stepped_states(engine, x: torch.Tensor, interventions, validate: bool = True) -> SteppedStates:
    """The probe under ``interventions``: every layer's states and gates stacked (batch, time,
    hidden) like ``engines.probe.probe_states``, and the read-out of the altered run, as
    tensors on the engine's device.

    No autograd, and not in torch: the loop over time runs in numpy on the CPU, whose per-op
    cost is a fraction of torch's (the probe batch is small; a step is a few tiny ops), in the
    engine's precision (fp32 math, no TF32). ``step_through`` is its torch reference.
    """
    engine.check_input(x, finite=validate)
    single_threaded_numpy_blas()
    config = engine.config
    kind = config.kind
    device = engine.device
    dtype = engine.readout.weight.dtype
    inputs = x.detach().to("cpu", dtype=dtype).numpy()
    plans = plan_interventions(interventions, config, inputs.shape[1])
    layers, params = [], []
    layer_input = inputs
    for k in range(config.num_layers):
        edited = edited_parameters(
            kind, tuple(p.detach().to("cpu") for p in engine.layer_parameters(k)), plans[k]
        )
        hidden, cell, gates = _run_layer_numpy(
            kind, layer_input, [p.numpy() for p in edited], plans[k]
        )
        layers.append(
            LayerStates(
                inputs=_tensor(layer_input, device),
                hidden=_tensor(hidden, device),
                cell=None if cell is None else _tensor(cell, device),
                gates={name: _tensor(value, device) for name, value in gates.items()},
            )
        )
        params.append(tuple(p.to(device) for p in edited))
        layer_input = hidden
    weight = engine.readout.weight.detach().to("cpu").numpy()
    bias = engine.readout.bias.detach().to("cpu").numpy()
    outputs = _tensor(layer_input @ weight.T + bias, device)
    return SteppedStates(layers, outputs, plans, params)


def _tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def _sigmoid(values: np.ndarray) -> None:
    """In place: 1 / (1 + exp(-v))."""
    np.negative(values, out=values)
    np.exp(values, out=values)
    values += 1
    np.reciprocal(values, out=values)


def _numpy_masks(plan: LayerPlan, dtype):
    clamps = {
        gate: (mask, plan.clamp_values[gate].astype(dtype), mask.any(axis=1).tolist())
        for gate, mask in plan.clamp_masks.items()
    }
    ablate = None
    if plan.ablate is not None:
        ablate = (plan.ablate, plan.ablate.any(axis=1).tolist())
    return clamps, ablate


def _run_layer_numpy(kind: str, inputs: np.ndarray, params, plan: LayerPlan):
    """``_run_layer`` in numpy, writing into preallocated (batch, time, ...) arrays."""
    weight_ih, weight_hh, bias_ih, bias_hh = params
    batch, steps, _ = inputs.shape
    size = weight_hh.shape[1]
    dtype = weight_hh.dtype
    from_input = inputs @ weight_ih.T + bias_ih  # every step's input part at once (B, T, G*H)
    recurrent = np.ascontiguousarray(weight_hh.T)
    clamps, ablate = _numpy_masks(plan, dtype)
    names = GATE_NAMES[kind]
    slots = {name: slice(j * size, (j + 1) * size) for j, name in enumerate(names)}
    gates = np.empty((batch, steps, len(names) * size), dtype=dtype)  # activations, stacked
    hidden = np.empty((batch, steps, size), dtype=dtype)
    cell = np.empty((batch, steps, size), dtype=dtype) if kind == "lstm" else None
    h = np.zeros((batch, size), dtype=dtype)
    c = np.zeros((batch, size), dtype=dtype)

    def clamp(name: str, t: int, value: np.ndarray) -> None:
        held = clamps.get(name)
        if held is not None and held[2][t]:
            np.copyto(value, held[1][t], where=held[0][t])

    def silence(t: int, state: np.ndarray) -> None:
        if ablate is not None and ablate[1][t]:
            np.copyto(state, 0, where=ablate[0][t])

    with np.errstate(over="ignore"):  # exp(-v) of a very negative v: inf, sigmoid 0
        for t in range(steps):
            step = gates[:, t]
            if kind == "lstm":
                np.add(from_input[:, t], h @ recurrent, out=step)
                step += bias_hh
                g = step[:, slots["candidate"]]
                candidate = g.copy()
                _sigmoid(step)  # i, f and o in one call; the g slot is overwritten next
                np.tanh(candidate, out=g)
                for name in names:
                    clamp(name, t, step[:, slots[name]])
                i, f, o = (step[:, slots[n]] for n in ("input", "forget", "output"))
                c = f * c + i * g
                silence(t, c)
                h = o * np.tanh(c)
                cell[:, t] = c
            elif kind == "gru":
                from_hidden = h @ recurrent + bias_hh
                r, z, n = (step[:, slots[name]] for name in names)
                both = slice(0, 2 * size)
                np.add(from_input[:, t, both], from_hidden[:, both], out=step[:, both])
                _sigmoid(step[:, both])
                clamp("reset", t, r)  # before n: n sees it
                clamp("update", t, z)
                np.tanh(from_input[:, t, 2 * size :] + r * from_hidden[:, 2 * size :], out=n)
                clamp("candidate", t, n)
                h = (1 - z) * n + z * h  # exact at z = 0 and at z = 1
            else:
                np.add(from_input[:, t], h @ recurrent, out=step)
                step += bias_hh
                clamp("preactivation", t, step)
                h = np.tanh(step)
            silence(t, h)
            hidden[:, t] = h
    return hidden, cell, {name: gates[..., slots[name]] for name in names}
