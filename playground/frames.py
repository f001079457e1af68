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
    difference: bool = False,
) -> dict:
    """One sample and one layer of ``frame`` as the dashboard's dict (arrays units x time).

    Classification read-outs are shown as the predicted class index (and the target's),
    so the sequence plot stays one readable curve whatever the number of classes.
    ``gradients`` stands in when the frame carries none (they are probed less often).
    A frame probed under gate-lab interventions carries the unaltered run too: its
    prediction comes as ``reference_prediction`` (drawn dashed), and ``difference`` shows
    the states and gates as altered minus unaltered.
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
    reference = getattr(frame, "reference", None)
    reference_prediction = None
    if reference is not None:
        ref_out = reference.outputs[sample]
        reference_prediction = (
            ref_out.argmax(axis=-1)[:, None].astype(np.float32) if targets.ndim == 1 else ref_out
        )
    minus = reference if difference else None
    return {
        **_layer_arrays(trace, layer, sample, minus),
        **_common(frame, layer, sample, input_names, targets_shown, prediction, grads),
        "reference_prediction": reference_prediction,
        "difference": minus is not None,
    }


def _layer_arrays(trace, layer: int, sample: int, minus=None) -> dict:
    """States and gates of one layer and sample (units x time), minus ``minus``'s if given."""

    def shown(values, other):
        own = values[layer, sample]
        return (own if other is None else own - other[layer, sample]).T

    other = {} if minus is None else {"hidden": minus.hidden, "cell": minus.cell, **minus.gates}
    return {
        "hidden": shown(trace.hidden, other.get("hidden")),
        "cell": None if trace.cell is None else shown(trace.cell, other.get("cell")),
        "gates": {name: shown(values, other.get(name)) for name, values in trace.gates.items()},
    }


def _common(frame, layer, sample, input_names, targets_shown, prediction, grads) -> dict:
    return {
        "step": frame.step,
        "layer": layer,
        "inputs": frame.inputs[sample],
        "input_names": list(input_names or []),
        "targets": targets_shown,
        "prediction": prediction,
        "target_mask": frame.mask[sample],
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
    """The probe frames of a run, in bounded memory, spread evenly over the run's steps.

    When full, every other frame is dropped (the first and the newest are kept), and the
    spacing that leaves becomes the history's stride: from then on a frame that comes
    sooner than a stride after the last kept one only holds the newest place (it is what
    the views show live) until the next frame takes it. Without the stride the frames probed
    at display rate after each thinning would crowd the end while the start of training,
    where most happens, thinned again and again.
    """

    def __init__(self, capacity: int = 240, max_bytes: int = 96 * 2**20) -> None:
        if capacity < 4:
            raise ValueError(f"capacity must be at least 4, got {capacity}")
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._frames: list[ProbeFrame] = []
        self._gradients: list[GradientFlow | None] = []
        self.stride = 0.0  # training steps between kept frames (0: every frame is kept)

    def __len__(self) -> int:
        return len(self._frames)

    def clear(self) -> None:
        self._frames.clear()
        self._gradients.clear()
        self.stride = 0.0

    def append(self, frame: ProbeFrame, gradients: GradientFlow | None) -> None:
        frames = self._frames
        if len(frames) >= 2 and frames[-1].step - frames[-2].step < self.stride:
            frames[-1], self._gradients[-1] = frame, gradients  # the newest place only
            return
        by_size = self.max_bytes // max(1, frame_bytes(frame))
        if len(frames) >= max(2, min(self.capacity, by_size)):
            keep = list(range(0, len(frames) - 1, 2)) + [len(frames) - 1]
            self._frames = frames = [frames[i] for i in keep]
            self._gradients = [self._gradients[i] for i in keep]
            if len(frames) >= 3:  # the kept frames' mean spacing, the newest left out
                self.stride = max(0.0, (frames[-2].step - frames[0].step) / (len(frames) - 2))
        frames.append(frame)
        self._gradients.append(gradients)

    def settle(self) -> None:
        """Take up the stride of frames read back from a run folder (appended one by one,
        they arrive with none): a continued run goes on spacing its frames as they were."""
        frames = self._frames
        if len(frames) >= 3 and len(frames) > self.capacity // 2:
            self.stride = max(0.0, (frames[-2].step - frames[0].step) / (len(frames) - 2))

    def __getitem__(self, index: int) -> tuple[ProbeFrame, GradientFlow | None]:
        return self._frames[index], self._gradients[index]

    def steps(self) -> list[int]:
        return [frame.step for frame in self._frames]
