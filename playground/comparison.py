"""The record of a comparison: one ``Experiment`` per engine, one cursor, one history.

The engines train in lockstep on the same data (``playground.compare_spec``), so their
records grow side by side; what the user looks at — the time cursor, the layer, the history
position — is one ``ViewState`` for all of them, and the history position is the engines'
frame at the same training step (the reference engine's frames set the steps, each other
engine shows its frame at that step or the last one before it). Qt-free, like
``Experiment``: the compare window listens to ``comparison.events``.

On disk a comparison is one experiment folder: a run folder per engine (each written by
``Experiment.save``, so each opens on its own in the main window too) and
``comparison.json`` (versioned, validated on load) that ties them together with the data
seed, each engine's weights seed and parameter count, and the shared view::

    COMPARISON/
      comparison.json
      1-lstm/   config.json metrics.csv weights.safetensors frames.npz ...
      2-gru/
      3-rnn/

Saving writes the new folder beside the old one and swaps it in, so a failed save leaves the
previous one as it was.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from playground.compare_spec import (
    MAX_ENGINES,
    MIN_ENGINES,
    CompareSpec,
    engine_parameters,
)
from playground.events import EventGroup
from playground.experiment import Experiment, ViewState
from playground.run_folder import RunFolderError, check_format, read_json, write_json

FORMAT = "sequence-memory-playground/comparison"
VERSION = 1
READABLE_VERSIONS = (1,)
COMPARISON_FILE = "comparison.json"


def is_comparison_folder(path: os.PathLike | str) -> bool:
    """Whether ``path`` is a folder written by Save Comparison (it holds comparison.json):
    ``seq-playground PATH`` should then open the compare window rather than the main one."""
    path = Path(path)
    return path.is_dir() and (path / COMPARISON_FILE).is_file()


class Comparison:
    """The records of the engines of one comparison. Events (plain callbacks):

    - ``cleared()`` — a new comparison starts, or one was opened: redraw from scratch;
    - ``metrics_added(engine, steps, losses, eval_steps, eval_losses)`` — one engine's news;
    - ``frames_added()`` — the engines' probe frames of one update are recorded;
    - ``view_changed(name)`` — cursor, layer, unit or history index changed;
    - ``status_changed()`` — state, step, rate or message changed.
    """

    def __init__(self, spec: CompareSpec | None = None, history_capacity: int = 240) -> None:
        self.events = EventGroup(
            "cleared", "metrics_added", "frames_added", "view_changed", "status_changed"
        )
        self._capacity = history_capacity
        self.spec: CompareSpec | None = None
        self.experiments: list[Experiment] = []
        self.view = ViewState()
        self.path: Path | None = None
        self.notes: list[str] = []
        self._reset(spec)

    def _reset(self, spec: CompareSpec | None) -> None:
        self.spec = spec
        specs = spec.specs if spec is not None else ()
        self.experiments = [Experiment(s, history_capacity=self._capacity) for s in specs]
        self.view = ViewState()
        self.state, self.step, self.steps_per_second, self.message = "idle", 0, 0.0, ""
        self.path, self.dirty, self.notes = None, False, []

    # --- the run's lifecycle --------------------------------------------------------------
    def new_run(self, spec: CompareSpec) -> None:
        """Forget the old comparison; ``spec`` is what the new one trains."""
        self._reset(spec)
        self.events.cleared.emit()

    @property
    def labels(self) -> list[str]:
        return [] if self.spec is None else self.spec.engine_labels()

    @property
    def weights_seeds(self) -> list[int]:
        return [] if self.spec is None else list(self.spec.weights_seeds)

    def parameters(self) -> list[int]:
        """Each engine's parameter count, once the trainer said what it built (else None)."""
        counts = []
        for exp in self.experiments:
            task, engine = exp.info.get("task") or {}, exp.info.get("engine") or {}
            known = None
            if "input_size" in task and "kind" in engine:
                own = {"engine": engine["kind"], "hidden": engine["hidden_size"]}
                own["layers"] = engine.get("num_layers", 1)
                known = engine_parameters(own, task["input_size"], task["output_size"])
            counts.append(known)
        return counts

    def apply_update(self, update) -> None:
        """Take a ``playground.compare_process.CompareUpdate``: every engine's TrainerUpdate."""
        if len(update.updates) != len(self.experiments):
            raise ValueError(
                f"the update holds {len(update.updates)} engines, the comparison "
                f"{len(self.experiments)}"
            )
        framed = False
        for index, (exp, each) in enumerate(zip(self.experiments, update.updates, strict=True)):
            exp.apply_update(each)
            if len(each.steps) or len(each.eval_steps):
                self.dirty = self.dirty or bool(len(each.steps))
                self.events.metrics_added.emit(
                    index, each.steps, each.losses, each.eval_steps, each.eval_losses
                )
            framed = framed or each.frame is not None
        if framed:
            self.events.frames_added.emit()
        if update.checkpoints:  # the update that ends a run: every engine's weights
            self.set_checkpoints(update.checkpoints)
        self.state, self.step, self.message = update.state, int(update.step), update.message
        self.steps_per_second = update.steps_per_second
        self.events.status_changed.emit()

    def add_preview(self, update) -> None:
        """The untrained engines on the probe sequence (step 0) before the first step: their
        frames only -- no metrics, so the comparison still counts as not started."""
        if len(update.updates) != len(self.experiments):
            return
        for exp, each in zip(self.experiments, update.updates, strict=True):
            if each.info:
                exp.info = each.info
            if each.frame is not None:
                exp.add_frame(each.frame)
        self.events.frames_added.emit()

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            for exp in self.experiments:
                exp.set_state(state)
            self.events.status_changed.emit()

    def set_checkpoints(self, checkpoints) -> None:
        """The engines' weights and training states now (one Checkpoint each, in order)."""
        for exp, checkpoint in zip(self.experiments, checkpoints, strict=True):
            exp.set_checkpoint(checkpoint)

    def checkpoints(self) -> list | None:
        """Every engine's checkpoint when all have one at the same step (to continue from),
        else None."""
        found = [exp.checkpoint for exp in self.experiments]
        if not found or any(c is None for c in found) or len({c.step for c in found}) > 1:
            return None
        return found

    # --- what the user looks at -----------------------------------------------------------
    #: ``set_view(cursor=12)``, ``set_view(history_index=3)``: one run's, on the shared view.
    set_view = Experiment.set_view

    def history_length(self) -> int:
        return len(self.experiments[0].frames) if self.experiments else 0

    def history_steps(self) -> list[int]:
        """The training steps the history slider walks: the reference engine's frames."""
        return self.experiments[0].frames.steps() if self.experiments else []

    def frames_at(self, index: int) -> list:
        """Each engine's (frame, gradients) at the reference's frame ``index`` (-1: newest),
        matched by training step; None for an engine with no frame yet."""
        steps = self.history_steps()
        if not steps:
            return [None] * len(self.experiments)
        index = len(steps) - 1 if index < 0 else min(index, len(steps) - 1)
        step = steps[index]
        shown = []
        for exp in self.experiments:
            own = exp.frames.steps()
            if not own:
                shown.append(None)
                continue
            at = max(0, bisect.bisect_right(own, step) - 1)
            shown.append(exp.frames[at])
        return shown

    def shown_frames(self) -> list:
        return self.frames_at(self.view.history_index)

    @property
    def layers(self) -> int:
        return max((exp.layers for exp in self.experiments), default=1)

    # --- saving and opening ---------------------------------------------------------------
    def folder_data(self) -> tuple[list, dict]:
        """Everything to save as plain values — each engine's RunFolderData and
        comparison.json — taken at once (on the GUI thread; a worker may then write it)."""
        if not self.experiments:
            raise ValueError("there is no comparison to save: train or open one first")
        for exp in self.experiments:
            exp.view = replace(self.view)
        runs = [exp.folder_data() for exp in self.experiments]
        return runs, self._description(self._folders())

    def save(self, path: os.PathLike | str, data: tuple[list, dict] | None = None) -> Path:
        """Write the comparison folder ``path`` (a run folder per engine and
        comparison.json; ``data`` from ``folder_data``, else taken now), swapped in only once
        complete. RunFolderError for a path that holds something else; OSError when the
        disk refuses."""
        runs, description = data or self.folder_data()
        target = Path(path)
        if target.exists() and not target.is_dir():
            raise RunFolderError(target, "exists and is not a folder")
        if target.is_dir() and any(target.iterdir()) and not is_comparison_folder(target):
            raise RunFolderError(
                target, "holds other files and no comparison: choose an empty or new folder"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.saving-"))
        folders = [entry["folder"] for entry in description["engines"]]
        try:
            for exp, folder, run in zip(self.experiments, folders, runs, strict=True):
                exp.save(staging / folder, run)
            write_json(staging / COMPARISON_FILE, description)
            _swap_in(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        for exp, folder in zip(self.experiments, folders, strict=True):
            exp.path = target / folder
        self.path, self.dirty = target, False
        return target

    def _folders(self) -> list[str]:
        return [f"{i + 1}-{exp.settings['engine']}" for i, exp in enumerate(self.experiments)]

    def _description(self, folders: list[str]) -> dict:
        parameters = self.parameters()
        return {
            "format": FORMAT,
            "version": VERSION,
            "data_seed": self.spec.data_seed,
            "step": min(exp.step for exp in self.experiments),
            "engines": [
                {
                    "folder": folder,
                    "label": label,
                    "settings": engine,
                    "weights_seed": seed,
                    "parameters": count,
                }
                for folder, label, engine, seed, count in zip(
                    folders,
                    self.labels,
                    self.spec.engines(),
                    self.weights_seeds,
                    parameters,
                    strict=True,
                )
            ],
            "view": self.view.to_dict(),
        }

    @classmethod
    def open(cls, path: os.PathLike | str) -> Comparison:
        """Read a comparison folder; RunFolderError naming the file and the problem when
        comparison.json or one of the run folders cannot be used."""
        folder = Path(path)
        if not folder.is_dir():
            raise RunFolderError(
                folder, "no such folder" if not folder.exists() else "is not a folder"
            )
        description = folder / COMPARISON_FILE
        data = read_json(description)
        engines = _check_description(description, data)
        experiments = [Experiment.open(folder / entry["folder"]) for entry in engines]
        try:
            spec = CompareSpec(
                specs=tuple(exp.spec for exp in experiments),
                weights_seeds=tuple(entry["weights_seed"] for entry in engines),
            )
            spec.validate()
        except ValueError as error:
            raise RunFolderError(
                description, f"does not describe one comparison: {error}"
            ) from None
        comparison = cls(spec)
        comparison.experiments = experiments
        comparison.view = ViewState.from_dict(data.get("view") or {})
        comparison.step = min(exp.step for exp in experiments)
        comparison.state = "error" if any(e.state == "error" for e in experiments) else "idle"
        comparison.path = folder
        comparison.notes = [
            f"{label}: {note}"
            for label, exp in zip(comparison.labels, experiments, strict=True)
            for note in exp.notes
        ]
        return comparison


def _check_description(path: Path, data: dict) -> list[dict]:
    """comparison.json's engine entries, checked; RunFolderError saying what is wrong."""
    check_format(path, data, "a comparison", "comparison", (FORMAT, VERSION, READABLE_VERSIONS))
    engines = data.get("engines")
    if not isinstance(engines, list) or not MIN_ENGINES <= len(engines) <= MAX_ENGINES:
        raise RunFolderError(
            path, f"must list {MIN_ENGINES} or {MAX_ENGINES} engines under 'engines'"
        )
    for number, entry in enumerate(engines, start=1):
        if not isinstance(entry, dict):
            raise RunFolderError(path, f"engine {number} is not a JSON object")
        folder = entry.get("folder")
        if (
            not isinstance(folder, str)
            or not folder
            or Path(folder).name != folder
            or folder
            in (
                ".",
                "..",
            )
        ):
            raise RunFolderError(
                path, f"engine {number} names no run folder inside the comparison ({folder!r})"
            )
        seed = entry.get("weights_seed")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise RunFolderError(path, f"engine {number} has a bad weights_seed {seed!r}")
    return engines


def _swap_in(staging: Path, target: Path) -> None:
    """Rename the complete ``staging`` folder to ``target``, putting the old one back if
    that fails, and remove the old one after."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
        os.replace(target, old / "comparison")
    try:
        os.replace(staging, target)
    except BaseException:
        if old is not None:
            os.replace(old / "comparison", target)
        raise
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)
