"""Turn a trainer's ProbeFrame into the plain dict the dashboard draws, and keep a bounded
history of them for scrubbing back through training."""

from __future__ import annotations

import numpy as np

from engines.gradient_flow import GradientFlow
from engines.training import ProbeFrame


def dashboard_frame(
    frame: ProbeFrame,
    layer: int = 0,
    sample: int = 0,
    input_names: list[str] | None = None,
    gradients: GradientFlow | None = None,
) -> dict:
    """One sample and one layer of ``frame`` as the dashboard's dict (arrays units x time).

    Classification read-outs are shown as the predicted class index (and the target's),
    so the sequence plot stays one readable curve whatever the number of classes.
    ``gradients`` stands in when the frame carries none (they are probed less often).
    """
    trace = frame.trace
    layer = min(max(layer, 0), trace.num_layers - 1)
    outputs = trace.outputs[sample]
    targets = frame.targets[sample]
    if targets.ndim == 1:  # class indices: cross-entropy task
        targets_shown = targets[:, None].astype(np.float32)
        prediction = outputs.argmax(axis=-1)[:, None].astype(np.float32)
    else:
        targets_shown, prediction = targets, outputs
    grads = frame.gradients or gradients
    return {
        "step": frame.step,
        "layer": layer,
        "inputs": frame.inputs[sample],
        "input_names": list(input_names or []),
        "targets": targets_shown,
        "prediction": prediction,
        "target_mask": frame.mask[sample],
        "hidden": trace.hidden[layer, sample].T,
        "cell": None if trace.cell is None else trace.cell[layer, sample].T,
        "gates": {name: values[layer, sample].T for name, values in trace.gates.items()},
        "grad_h": None if grads is None else grads.hidden[layer],
        "grad_x": None if grads is None else grads.inputs,
    }


def frame_bytes(frame: ProbeFrame) -> int:
    trace = frame.trace
    arrays = [trace.hidden, trace.outputs, frame.inputs, *trace.gates.values()]
    if trace.cell is not None:
        arrays.append(trace.cell)
    return sum(a.nbytes for a in arrays)


class FrameHistory:
    """The probe frames of a run, in bounded memory, covering the whole run.

    When full, every other frame is dropped (the first and the newest are kept), so the
    history thins out evenly instead of forgetting the start of training.
    """

    def __init__(self, capacity: int = 240, max_bytes: int = 96 * 2**20) -> None:
        if capacity < 4:
            raise ValueError(f"capacity must be at least 4, got {capacity}")
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._frames: list[ProbeFrame] = []
        self._gradients: list[GradientFlow | None] = []

    def __len__(self) -> int:
        return len(self._frames)

    def clear(self) -> None:
        self._frames.clear()
        self._gradients.clear()

    def append(self, frame: ProbeFrame, gradients: GradientFlow | None) -> None:
        by_size = self.max_bytes // max(1, frame_bytes(frame))
        if len(self._frames) >= max(2, min(self.capacity, by_size)):
            keep = list(range(0, len(self._frames) - 1, 2)) + [len(self._frames) - 1]
            self._frames = [self._frames[i] for i in keep]
            self._gradients = [self._gradients[i] for i in keep]
        self._frames.append(frame)
        self._gradients.append(gradients)

    def __getitem__(self, index: int) -> tuple[ProbeFrame, GradientFlow | None]:
        return self._frames[index], self._gradients[index]

    def steps(self) -> list[int]:
        return [frame.step for frame in self._frames]
