"""Weights from a file into the current setup: our own files (with their JSON sidecar) and
plain ``torch.nn.RNN/LSTM/GRU`` state dicts alike (``engines.checkpoint.read_weights_file``).

When the file's engine does not fit the setup, the difference is explained in a sentence a
user can answer ("this file has 64 hidden units, the setup 32: use 64?") together with the
settings change that fixes it; sizes that come from the task (inputs, outputs) cannot be
fixed by a setting and say so.
"""

from __future__ import annotations

from pathlib import Path

from playground.experiment import Checkpoint

#: EngineConfig field -> (setup panel key, how to name it in a sentence)
_SETTING_OF = {
    "kind": ("engine", "engine"),
    "hidden_size": ("hidden", "hidden units"),
    "num_layers": ("layers", "layers"),
}


class WeightsMismatch(ValueError):
    """The file's engine and the setup differ; ``fix`` is the settings change, if any."""

    def __init__(self, message: str, fix: dict | None) -> None:
        super().__init__(message)
        self.fix = fix or {}


def _read(path):
    """(EngineConfig, state_dict, notes) of ``path``; WeightsFileError when unreadable."""
    from engines import checkpoint

    reader = getattr(checkpoint, "read_weights_file", None)
    if reader is not None:
        loaded = reader(path)
        return loaded.config, loaded.state_dict, list(getattr(loaded, "notes", []) or [])
    engine = checkpoint.load_weights(path)
    return engine.config, engine.state_dict(), []


def read_for_setup(path, spec) -> Checkpoint:
    """A checkpoint (step 0, no optimizer state) of ``path``'s weights, for ``spec``."""
    from engines.checkpoint import WeightsFileError

    config, state, _notes = _read(path)
    task = spec.validate()
    wanted = spec.engine_config(task)
    name = Path(path).name
    if (config.input_size, config.output_size) != (wanted.input_size, wanted.output_size):
        raise WeightsMismatch(
            f"{name} was trained for {config.input_size} inputs and {config.output_size} "
            f"outputs; the task {task.name!r} has {wanted.input_size} and "
            f"{wanted.output_size}. Choose a task (or a sequence) with those sizes.",
            None,
        )
    phrases, fix = [], {}
    for field, (key, label) in _SETTING_OF.items():
        have, want = getattr(config, field), getattr(wanted, field)
        if have != want:
            shown = (str(have).upper(), str(want).upper()) if field == "kind" else (have, want)
            phrases.append(f"{shown[0]} {label}, the setup {shown[1]}")
            fix[key] = have
    if phrases:
        uses = ", ".join(
            f"{str(v).upper() if k == 'engine' else v} {dict(_SETTING_OF.values())[k]}"
            for k, v in ((key, fix[key]) for key in fix)
        )
        raise WeightsMismatch(f"This file has {'; '.join(phrases)}: use {uses}?", fix)
    try:
        from engines.engine import build_engine

        engine = build_engine(config, seed=0)
        engine.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise WeightsFileError(path, f"does not fit its engine: {error}") from None
    return Checkpoint(
        step=0,
        weights={k: v.detach().clone() for k, v in engine.state_dict().items()},
        training_state=None,
        engine_config=wanted.to_dict() if _same_core(config, wanted) else config.to_dict(),
    )


def _same_core(a, b) -> bool:
    return all(
        getattr(a, f) == getattr(b, f)
        for f in ("kind", "input_size", "hidden_size", "output_size", "num_layers")
    )
