"""What a training run is made of, as plain values that cross a process boundary.

The GUI validates a spec here (instant, clear messages) before it spends a second starting
the trainer process; the process builds the same objects from the same spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engines.config import EngineConfig
from engines.devices import resolve_device
from engines.tasks.base import Batch, Task
from engines.training import TrainingConfig
from resources.default_settings import DEFAULT_SETTINGS


@dataclass(frozen=True)
class UserSequence:
    """A drawn or loaded sequence to train on instead of a built-in task."""

    values: np.ndarray | None = None  # (T, channels) float32
    symbols: np.ndarray | None = None  # (T,) int64
    n_symbols: int = 0
    alphabet: tuple[str, ...] = ()
    objective: str = "next"
    delay: int = 0
    source: str = "drawing"
    window: int | None = None  # the training window (None: the task's default)

    @classmethod
    def from_plain(cls, plain: dict | None) -> UserSequence | None:
        """From a run folder's ``sequence.npz`` entry (``run_folder.read_sequence``)."""
        if not plain:
            return None
        return cls(
            values=plain.get("values"),
            symbols=plain.get("symbols"),
            n_symbols=int(plain.get("n_symbols") or 0),
            alphabet=tuple(plain.get("alphabet") or ()),
            objective=str(plain.get("objective") or "next"),
            delay=int(plain.get("delay") or 0),
            source=str(plain.get("source") or "run folder"),
            window=int(plain["window"]) if plain.get("window") else None,
        )


@dataclass(frozen=True)
class RunSpec:
    """A run: the setup panel's ``settings`` plus what the panel does not show, which a run
    folder may hold (a command-line run's ``--eval-every``, ``--task-option``s, test size)."""

    settings: dict
    sequence: UserSequence | None = None
    probe_sequence: UserSequence | None = None  # shown by the views while a task trains
    probe_size: int = 1  # the views show one sequence; its own gradients are shown too
    eval_every: int = 50
    task_options: dict = field(default_factory=dict)  # the task's own keywords (n_symbols=4)
    test_size: int = 512  # sequences in the held-out set

    def build_task(self) -> Task:
        if self.sequence is not None:
            from engines.tasks.user_sequence import SequenceTask

            seq = self.sequence
            common = {"objective": seq.objective, "delay": seq.delay, "window": seq.window}
            if seq.symbols is not None:
                return SequenceTask(symbols=seq.symbols, n_symbols=seq.n_symbols, **common)
            return SequenceTask(values=seq.values, **common)
        from engines.tasks.registry import create_task

        return create_task(
            self.settings["task"], int(self.settings["length"]), **dict(self.task_options)
        )

    def build_probe(self, task: Task):
        """The user's sequence as the probe batch, when it fits the task's inputs; else None.

        Targets are the next values where the task predicts its own next input; otherwise the
        probe has no targets (its mask is empty) and no gradient flow is shown for it.
        """
        seq = self.probe_sequence
        if seq is None or self.sequence is not None or seq.values is None:
            return None
        values = torch.as_tensor(np.asarray(seq.values, dtype=np.float32))
        if values.ndim != 2 or values.shape[1] != task.input_size or len(values) < 2:
            return None
        inputs = values[None, :-1]
        steps = inputs.shape[1]
        if task.loss_kind == "mse" and task.output_size == task.input_size:
            targets, mask = values[None, 1:], torch.ones(1, steps, dtype=torch.bool)
        else:
            shape = (1, steps, task.output_size) if task.loss_kind == "mse" else (1, steps)
            dtype = torch.float32 if task.loss_kind == "mse" else torch.int64
            targets, mask = torch.zeros(shape, dtype=dtype), torch.zeros(1, steps, dtype=torch.bool)
        return Batch(inputs=inputs, targets=targets, mask=mask, metric_mask=mask.clone())

    def engine_config(self, task: Task) -> EngineConfig:
        s = self.settings
        return EngineConfig(
            kind=str(s["engine"]).lower(),
            input_size=task.input_size,
            hidden_size=int(s["hidden"]),
            output_size=task.output_size,
            num_layers=int(s["layers"]),
            init=str(s["init"]),
            forget_bias=float(s["forget_bias"]),
            # Chrono initialisation spreads the memory timescales up to the task's length.
            chrono_t_max=max(2, int(task.sequence_length)) if s["init"] == "chrono" else 0,
        )

    def training_config(self) -> TrainingConfig:
        s = self.settings
        return TrainingConfig(
            optimizer=str(s["optimizer"]).lower(),
            lr=float(s["lr"]),
            batch_size=int(s["batch"]),
            clip=float(s["clip"]),
            seed=int(s["seed"]),
            eval_every=self.eval_every,
            test_size=self.test_size,
            probe_size=self.probe_size,
        )

    def task_option_items(self) -> list[str]:
        """The task options as ``train --task-option`` gives them (``KEY=VALUE``, JSON
        values), the form a run folder's ``options.task_option`` keeps."""
        import json

        return [f"{key}={json.dumps(value)}" for key, value in self.task_options.items()]

    def validate(self) -> Task:
        """Build everything cheap once, raising ValueError with a clear message if any part
        is impossible (unknown task, hidden size 0, no CUDA, ...). Returns the task."""
        task = self.build_task()
        self.engine_config(task)
        self.training_config()
        resolve_device(self.settings["device"])
        return task


def merged_settings(settings: dict | None) -> dict:
    merged = dict(DEFAULT_SETTINGS)
    merged.update({k: v for k, v in (settings or {}).items() if k in DEFAULT_SETTINGS})
    return merged


def same_sequence(a: UserSequence | None, b: UserSequence | None) -> bool:
    """The same user sequence (values, symbols, objective and delay), or both none."""
    if a is None or b is None:
        return a is b

    def same(x, y):
        return (x is None and y is None) or (
            x is not None and y is not None and np.array_equal(x, y)
        )

    return (
        same(a.values, b.values)
        and same(a.symbols, b.symbols)
        and (a.objective, a.delay) == (b.objective, b.delay)
    )
