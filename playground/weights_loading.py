"""Weights from a file into the current setup: our own files (with their JSON sidecar) and
plain ``torch.nn.RNN/LSTM/GRU`` state dicts alike (``engines.checkpoint.read_weights_file``).

When the file's engine does not fit the setup, the difference is explained in a sentence a
user can answer ("this file has 64 hidden units, the setup 32: use 64?") together with the
settings change that fixes it; sizes that come from the task (inputs, outputs) cannot be
fixed by a setting and say so.
"""

from __future__ import annotations

from playground.experiment import Checkpoint


class WeightsMismatch(ValueError):
    """The file's engine and the setup differ; ``fix`` is the settings change, if any."""

    def __init__(self, message: str, fix: dict | None) -> None:
        super().__init__(message)
        self.fix = fix or {}


def read_for_setup(path, spec) -> Checkpoint:
    """A checkpoint (step 0, no optimizer state) of ``path``'s weights, for ``spec``.

    WeightsMismatch when the file's engine does not fit the setup (with the fix when a
    setting can make it fit); WeightsFileError (a ValueError) when the file is unusable.
    """
    from engines.checkpoint import read_weights_file
    from engines.weights_fit import config_differences

    task = spec.validate()
    wanted = spec.engine_config(task)
    loaded = read_weights_file(path, output_size=wanted.output_size)
    differences = config_differences(loaded.config, wanted, task=task.name)
    if differences:
        fix = {}
        for difference in differences:
            if difference.fix is None:
                raise WeightsMismatch(difference.sentence, None)
            fix.update(difference.fix)
        sentences = [d.sentence for d in differences]
        raise WeightsMismatch(" ".join(s[0].upper() + s[1:] for s in sentences), fix)
    engine = loaded.build()
    notes = " ".join(f"{note[0].upper()}{note[1:]}." for note in loaded.notes if note)
    return Checkpoint(
        step=0,
        weights={k: v.detach().clone() for k, v in engine.state_dict().items()},
        training_state=None,
        # The setup's init and forget bias do not matter once weights are loaded.
        engine_config=wanted.to_dict(),
        note=notes,
    )
