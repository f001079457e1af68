"""Atomic writes of what the app exports: a temporary file in the same folder, then a
rename, so a crash or a full disk never leaves half a file where a good one was."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.atomic_files import atomic_path


def save_qimage(image, path: str) -> None:
    suffix = Path(path).suffix.lstrip(".").upper() or "PNG"
    with atomic_path(path) as temp:
        if not image.save(temp, suffix):
            raise OSError(f"Qt could not write a {suffix} image")


def save_trace_npz(frame, gradients, path: str) -> None:
    """The probe batch, every state and gate of every layer, and the gradient flow."""
    trace = frame.trace
    arrays = {
        "step": np.asarray(frame.step),
        "inputs": frame.inputs,
        "targets": frame.targets,
        "mask": frame.mask,
        "hidden": trace.hidden,
        "outputs": trace.outputs,
        **{f"gate_{name}": values for name, values in trace.gates.items()},
    }
    if trace.cell is not None:
        arrays["cell"] = trace.cell
    if gradients is not None:
        arrays["grad_hidden_norm"] = gradients.hidden
        arrays["grad_input_norm"] = gradients.inputs
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.savez_compressed(handle, kind=np.asarray(trace.kind), **arrays)
