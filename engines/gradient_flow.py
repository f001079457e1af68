"""How much of the loss's gradient reaches each time step: the vanishing gradient, measured.

For a probe batch: per time step t, the norm of the total derivative dL/dh_t (through the
recurrence, not only the direct read-out path), per layer, and of dL/dx_t. Gradients are taken
with ``torch.autograd.grad`` so the training gradients in ``.grad`` are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engines.stepper import step_through


@dataclass(frozen=True)
class GradientFlow:
    """``hidden`` (layers, time): ||dL/dh_t|| over batch and units; ``inputs`` (time,):
    ||dL/dx_t|| over batch and features; ``loss`` the probe batch's loss."""

    hidden: np.ndarray
    inputs: np.ndarray
    loss: float


def gradient_flow(
    engine, x: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor]
) -> GradientFlow:
    """``loss_fn`` maps the read-out (batch, time, output_size) to a scalar loss."""
    engine.check_input(x)
    # Works from inside no_grad and inference_mode too: the probe needs its own graph.
    with torch.inference_mode(False), torch.enable_grad():
        x = x.detach().to(engine.device, dtype=engine.readout.weight.dtype).clone()
        x.requires_grad_(True)
        run = step_through(engine, x)
        loss = loss_fn(run.outputs)
        states = [h for layer in run.hidden for h in layer]
        grads = torch.autograd.grad(loss, [x, *states], allow_unused=True)
    grad_x, grad_states = grads[0], grads[1:]
    steps = x.shape[1]
    layers = engine.config.num_layers
    norms = torch.stack(
        [g.norm() if g is not None else x.new_zeros(()) for g in grad_states]
    ).reshape(layers, steps)
    grad_x = grad_x if grad_x is not None else torch.zeros_like(x)
    return GradientFlow(
        hidden=norms.detach().float().cpu().numpy(),
        inputs=grad_x.detach().norm(dim=(0, 2)).float().cpu().numpy(),
        loss=float(loss.detach()),
    )
