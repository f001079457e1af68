"""The record of a run: one Qt-free model that the trainer's updates go into, that every view
draws from, and that saving writes and opening reads (napari's split of a Qt-free model and
its Qt views, design notes section 3).

It holds the settings (the run spec), the whole metrics history (every step's training loss
and gradient norm, every evaluation), the recorded probe frames (bounded and thinned evenly),
the latest weights and training state when known, and what the user is looking at (cursor,
selected unit, layer, history frame). Views connect to ``experiment.events`` and never own any
of it; nothing here imports Qt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from playground.events import EventGroup
from playground.folder_spec import run_spec_of
from playground.frames import FrameHistory
from playground.metrics_history import MetricsHistory
from playground.run_folder import (
    RunFolderContents,
    RunFolderData,
    json_number,
    open_run_folder,
    save_run_folder,
)
from playground.run_spec import RunSpec, merged_settings
from resources.default_settings import DEFAULT_SETTINGS

ENDED_STATES = ("finished", "stopped", "error")


@dataclass
class ViewState:
    """What the user is looking at; saved with the experiment."""

    cursor: int = 0
    unit: int | None = None
    layer: int = 0
    history_index: int = -1  # -1: follow the newest frame
    interventions: tuple = ()  # the gate lab's, as the engines' plain dicts

    def to_dict(self) -> dict:
        data = asdict(self)
        data["interventions"] = [dict(item) for item in self.interventions]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ViewState:
        def integer(key, default, low=None):
            value = data.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int):
                return default
            return value if low is None or value >= low else default

        unit = data.get("unit")
        return cls(
            cursor=integer("cursor", 0, 0),
            unit=unit
            if isinstance(unit, int) and not isinstance(unit, bool) and unit >= 0
            else None,
            layer=integer("layer", 0, 0),
            history_index=integer("history_index", -1, -1),
            interventions=tuple(
                item for item in data.get("interventions") or () if isinstance(item, dict)
            ),
        )


@dataclass
class Checkpoint:
    """Weights (a CPU state_dict) and the training state at one step, from the trainer."""

    step: int
    weights: dict
    training_state: dict | None
    engine_config: dict
    note: str = ""  # what the user should know about where the weights came from


@dataclass
class RunInfo:
    """What the trainer says about the run it built (task description, engine, sizes)."""

    data: dict = field(default_factory=dict)

    @property
    def layers(self) -> int:
        return int(self.data.get("engine", {}).get("num_layers", 1))


class Experiment:
    """The record of one run. Events (plain callbacks, see ``playground.events``):

    - ``cleared()`` — a new run starts, or an experiment was opened: redraw from scratch;
    - ``metrics_added(steps, losses, eval_steps, eval_losses)`` — new losses (numpy);
    - ``frame_added(index)`` — a probe frame was recorded (the history may have thinned);
    - ``view_changed(name)`` — cursor, unit, layer or history index changed;
    - ``status_changed()`` — state, step, rate or message changed;
    - ``checkpoint_changed()`` — new weights are known.
    """

    def __init__(self, spec: RunSpec | None = None, history_capacity: int = 240) -> None:
        self.events = EventGroup(
            "cleared",
            "metrics_added",
            "frame_added",
            "view_changed",
            "status_changed",
            "checkpoint_changed",
        )
        self.spec = spec or RunSpec(settings=merged_settings(None))
        self.metrics = MetricsHistory()
        self.frames = FrameHistory(capacity=history_capacity)
        self.view = ViewState()
        self.info: dict = {}
        self.checkpoint: Checkpoint | None = None
        self.state = "idle"
        self.step = 0
        self.steps_per_second = 0.0
        self.device = str(self.spec.settings.get("device", "cpu"))
        self.lr = float(self.spec.settings.get("lr", 0.0))
        self.clip = float(self.spec.settings.get("clip", 0.0))
        self.message = ""
        self.path: Path | None = None  # where it was last saved or opened from
        self.dirty = False  # trained since the last save
        self.notes: list[str] = []  # what could not be opened, said once in the window
        self._last_gradients = None
        self._unscheduled_eval: int | None = None  # a continued run's start, off schedule

    # --- the run's lifecycle --------------------------------------------------------------
    @property
    def settings(self) -> dict:
        return self.spec.settings

    def new_run(self, spec: RunSpec) -> None:
        """Forget the old run's history; ``spec`` is what the new one trains."""
        self.spec = spec
        self.metrics.clear()
        self.frames.clear()
        self.info = {}
        self.checkpoint = None
        self.state, self.step, self.steps_per_second, self.message = "idle", 0, 0.0, ""
        self.device = str(spec.settings.get("device", "cpu"))
        self.lr = float(spec.settings.get("lr", 0.0))
        self.clip = float(spec.settings.get("clip", 0.0))
        self.path, self.dirty, self.notes = None, False, []
        self._last_gradients = None
        self._unscheduled_eval = None
        self.view = ViewState()
        self.events.cleared.emit()

    def continue_run(self, spec: RunSpec) -> None:
        """The record's run continues from its checkpoint, as ``spec`` (the record's own run
        with what may change, see ``MainWindow.continued_spec``). The history becomes that of
        a run that never stopped: what was recorded after the checkpoint's step goes, and so
        does an evaluation at that step off the evaluation schedule (made because the run
        stopped there), as does the continuing trainer's re-evaluation of that step."""
        self.spec = spec
        step = self.checkpoint.step if self.checkpoint is not None else self.step
        self._unscheduled_eval = step if step % max(1, spec.eval_every) else None
        metrics = self.metrics
        kept_train = metrics.train_steps <= step
        kept_eval = (metrics.eval_steps <= step) & (metrics.eval_steps != self._unscheduled_eval)
        if kept_train.all() and kept_eval.all():
            return
        history = MetricsHistory()
        history.add_train(
            metrics.train_steps[kept_train],
            metrics.train_losses[kept_train],
            metrics.grad_norms[kept_train],
        )
        history.add_eval(
            metrics.eval_steps[kept_eval],
            metrics.eval_losses[kept_eval],
            metrics.eval_metrics[kept_eval],
        )
        self.metrics = history
        self.events.cleared.emit()

    def apply_update(self, update) -> None:
        """Take a ``TrainerUpdate``: losses, evaluations, a frame, state."""
        if update.info:
            self.info = update.info
        if len(update.steps) or len(update.eval_steps):
            self.metrics.add_train(update.steps, update.losses, update.grad_norms)
            # Not recorded: a continued run's re-evaluation of the step it starts from.
            eval_steps = np.asarray(update.eval_steps, dtype=np.int64).ravel()
            new = (eval_steps != self._unscheduled_eval) & ~np.isin(
                eval_steps, self.metrics.eval_steps
            )
            eval_losses = np.asarray(update.eval_losses).ravel()[new]
            eval_metrics = np.asarray(update.eval_metrics).ravel()[new]
            self.metrics.add_eval(eval_steps[new], eval_losses, eval_metrics)
            self.dirty = self.dirty or bool(len(update.steps))
            self.events.metrics_added.emit(
                update.steps, update.losses, eval_steps[new], eval_losses
            )
        if update.frame is not None:
            self.add_frame(update.frame)
        checkpoint = getattr(update, "checkpoint", None)
        if checkpoint is not None:
            self.set_checkpoint(checkpoint)
        self.state, self.step = update.state, int(update.step)
        self.steps_per_second, self.device = update.steps_per_second, update.device
        self.lr, self.clip, self.message = update.lr, update.clip, update.message
        self.events.status_changed.emit()

    def add_frame(self, frame) -> None:
        if frame.gradients is not None:
            self._last_gradients = frame.gradients
        self.frames.append(frame, self._last_gradients)
        self.events.frame_added.emit(len(self.frames) - 1)

    def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.events.checkpoint_changed.emit()

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.events.status_changed.emit()

    # --- what the user looks at -----------------------------------------------------------
    def set_view(self, **changes) -> None:
        """``set_view(cursor=12)``, ``set_view(layer=1, unit=None)``; emits per change."""
        for name, value in changes.items():
            if not hasattr(self.view, name):
                raise ValueError(f"unknown view setting {name!r}")
            if getattr(self.view, name) != value:
                setattr(self.view, name, value)
                self.events.view_changed.emit(name)

    def shown_frame(self):
        """The (frame, gradients) the history index points at, or None."""
        if not len(self.frames):
            return None
        index = self.view.history_index
        index = len(self.frames) - 1 if index < 0 else min(index, len(self.frames) - 1)
        return self.frames[index]

    @property
    def layers(self) -> int:
        engine = self.info.get("engine") or {}
        return int(engine.get("num_layers", self.settings.get("layers", 1)))

    # --- saving and opening ---------------------------------------------------------------
    def folder_data(self) -> RunFolderData:
        """Everything to save, as plain values (the weights are the latest checkpoint)."""
        spec, settings = self.spec, self.settings
        options = {key: settings.get(key) for key in DEFAULT_SETTINGS}
        options.update(eval_every=spec.eval_every, steps=self.step, data=None)
        options.update(task_option=spec.task_option_items() or None)
        if spec.sequence is not None:
            options.update(task=None, objective=spec.sequence.objective, delay=spec.sequence.delay)
        checkpoint = self.checkpoint
        config = {
            "written_by": "app",
            "options": options,
            "settings": dict(settings),
            "task": self.info.get("task"),
            "engine": (checkpoint.engine_config if checkpoint else self.info.get("engine")),
            "training": {
                "optimizer": settings.get("optimizer"),
                "lr": settings.get("lr"),
                "batch_size": settings.get("batch"),
                "clip": settings.get("clip"),
                "seed": settings.get("seed"),
                "eval_every": spec.eval_every,
                "test_size": spec.test_size,
                "probe_size": spec.probe_size,
            },
            "seed": settings.get("seed"),
            "device": settings.get("device"),
            "sequence": _sequence_roles(spec),
        }
        last_eval = len(self.metrics.eval_steps) - 1
        summary = {
            "status": "saved" if self.state not in ENDED_STATES else self.state,
            "message": self.message,
            "steps": self.step if checkpoint is None else checkpoint.step,
            "final_test_step": int(self.metrics.eval_steps[last_eval]) if last_eval >= 0 else None,
            "final_test_loss": json_number(float(self.metrics.eval_losses[last_eval]))
            if last_eval >= 0
            else None,
            "final_test_metric": json_number(float(self.metrics.eval_metrics[last_eval]))
            if last_eval >= 0
            else None,
            "weights": "weights.safetensors" if checkpoint else None,
        }
        return RunFolderData(
            config=config,
            metrics_rows=self.metrics.rows(),
            summary=summary,
            engine_config=checkpoint.engine_config if checkpoint else None,
            weights=checkpoint.weights if checkpoint else None,
            training_state=checkpoint.training_state if checkpoint else None,
            frames=[self.frames[i] for i in range(len(self.frames))],
            sequences=_sequence_arrays(spec),
            view=self.view.to_dict(),
        )

    def save(self, path, data: RunFolderData | None = None) -> Path:
        """Write the run folder (atomically swapped in; see ``save_run_folder``)."""
        saved = save_run_folder(path, data or self.folder_data())
        self.path, self.dirty = saved, False
        return saved

    @classmethod
    def open(cls, path) -> Experiment:
        """Read a run folder written by the app or the command line (RunFolderError when it
        is no run folder at all; what is damaged is listed in ``notes``)."""
        return cls.from_contents(open_run_folder(path))

    @classmethod
    def from_contents(cls, contents: RunFolderContents) -> Experiment:
        config = contents.config
        experiment = cls(run_spec_of(contents))
        experiment.metrics = MetricsHistory.from_table(contents.metrics)
        for frame, gradients in contents.frames:
            experiment.frames.append(frame, gradients)
        experiment.frames.settle()
        experiment.info = {
            "task": config.get("task") or {},
            "engine": config.get("engine") or {},
            "input_names": list((config.get("task") or {}).get("input_names", []) or []),
        }
        experiment.step = contents.step
        if contents.weights is not None:
            experiment.checkpoint = _read_checkpoint(contents)
        experiment.view = ViewState.from_dict(contents.view)
        status = (contents.summary or {}).get("status")
        experiment.state = "error" if status == "diverged" else "idle"
        experiment.message = (contents.summary or {}).get("message", "") or ""
        experiment.path = contents.path
        experiment.notes = contents.problems + contents.notes
        return experiment


def _read_checkpoint(contents: RunFolderContents) -> Checkpoint | None:
    from playground.run_folder import RunFolderError, load_engine

    try:
        engine = load_engine(contents)
    except RunFolderError as error:
        contents.problems.append(str(error))
        return None
    weights = {k: v.detach().clone() for k, v in engine.state_dict().items()}
    return Checkpoint(
        step=contents.step,
        weights=weights,
        training_state=contents.training_state,
        engine_config=engine.config.to_dict(),
    )


def _sequence_roles(spec: RunSpec) -> dict | None:
    roles = {}
    if spec.sequence is not None:
        roles["train"] = {"objective": spec.sequence.objective, "delay": spec.sequence.delay}
    if spec.probe_sequence is not None:
        roles["probe"] = {"source": spec.probe_sequence.source}
    return roles or None


def _sequence_arrays(spec: RunSpec) -> dict:
    result = {}
    for role, seq in (("train", spec.sequence), ("probe", spec.probe_sequence)):
        if seq is None:
            continue
        plain = {
            "n_symbols": seq.n_symbols,
            "alphabet": list(seq.alphabet),
            "objective": seq.objective,
            "delay": seq.delay,
            "source": seq.source,
        }
        if seq.window is not None:
            plain["window"] = seq.window
        if seq.values is not None:
            plain["values"] = np.asarray(seq.values, dtype=np.float32)
        if seq.symbols is not None:
            plain["symbols"] = np.asarray(seq.symbols, dtype=np.int64)
        result[role] = plain
    return result
