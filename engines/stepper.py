"""The reference stepper: the recurrence written out step by step with the engine's weights.

It is slow (a Python loop of cells, with an autograd graph) and is the reference the fast paths
are checked against: each h_t is a graph node whose ``.grad`` is the total dL/dh_t that
``engines.gradient_flow`` computes by its explicit recursion, and with ``dtype=float64`` it
recomputes every state. It is also where interventions that change the recurrence itself
(clamping a gate, ablating a unit) belong.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engines.probe import layer_gates


@dataclass
class SteppedRun:
    """Per layer, per step tensors (lists indexed [layer][t]) and the read-out (B, T, O)."""

    hidden: list[list[torch.Tensor]]
    cell: list[list[torch.Tensor]] | None
    gates: list[dict[str, list[torch.Tensor]]]
    outputs: torch.Tensor


def step_through(engine, x: torch.Tensor, dtype: torch.dtype | None = None) -> SteppedRun:
    """Run the recurrence one step at a time; ``dtype`` (e.g. float64) recomputes in that
    precision from copies of the same weights. Keeps the autograd graph unless disabled."""
    kind = engine.config.kind
    dtype = dtype or engine.readout.weight.dtype
    x = x.to(engine.device, dtype=dtype)
    batch, steps, _ = x.shape
    hidden_size = engine.config.hidden_size
    layers = [
        tuple(p.to(dtype) for p in engine.layer_parameters(k))
        for k in range(engine.config.num_layers)
    ]
    readout_w = engine.readout.weight.to(dtype)
    readout_b = engine.readout.bias.to(dtype)

    h = [x.new_zeros(batch, hidden_size) for _ in layers]
    c = [x.new_zeros(batch, hidden_size) for _ in layers]
    hidden = [[] for _ in layers]
    cell = [[] for _ in layers] if kind == "lstm" else None
    gates: list[dict[str, list[torch.Tensor]]] = [{} for _ in layers]
    top = []
    for t in range(steps):
        layer_input = x[:, t]
        for k, params in enumerate(layers):
            step_gates = layer_gates(kind, layer_input, h[k], params)
            if kind == "lstm":
                c[k] = step_gates["forget"] * c[k] + step_gates["input"] * step_gates["candidate"]
                h[k] = step_gates["output"] * torch.tanh(c[k])
                cell[k].append(c[k])
            elif kind == "gru":
                update = step_gates["update"]
                h[k] = (1 - update) * step_gates["candidate"] + update * h[k]
            else:
                h[k] = torch.tanh(step_gates["preactivation"])
            for name, value in step_gates.items():
                gates[k].setdefault(name, []).append(value)
            hidden[k].append(h[k])
            layer_input = h[k]
        top.append(layer_input)
    outputs = torch.stack(top, dim=1) @ readout_w.T + readout_b
    return SteppedRun(hidden=hidden, cell=cell, gates=gates, outputs=outputs)
