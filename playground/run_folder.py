"""The run folder: the one file format of an experiment, written by ``seq-playground train``
and by the app's File ▸ Save Experiment alike, and read by both.

Layout (version 2)::

    config.json            what the run is: options, task, engine and training configs, seed
    metrics.csv            a row per step: step, train_loss, test_loss, test_metric, grad_norm
    summary.json           how it ended (or "interrupted", or "saved" from the app)
    weights.safetensors    the latest weights, and weights.json, their engine-config sidecar
    training_state.pt      optimizer state, batch-generator state, step, lr, clip: to continue
                           exactly (read with ``torch.load(weights_only=True)`` only)
    frames.npz             the recorded probe frames (bounded and thinned as in the app)
    sequence.npz           the user's own sequence, when the run trains or probes on one
    view.json              what the user was looking at (cursor, unit, layer, history index)

Version 1 folders (config, metrics, summary, weights) are read too; they open with a note that
continuing them starts a fresh optimizer. Every file is written atomically, and the weights'
sidecar is written before the weights are renamed into place, so a folder never holds weights
without their sidecar. Reading collects a problem per damaged or missing file (naming the file)
and returns whatever is intact; only a folder without a readable ``config.json`` is refused.

No Qt here, and torch is imported only where tensors are read or written.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.atomic_files import atomic_path, atomic_write_bytes, atomic_write_text

FORMAT = "sequence-memory-playground/run"
VERSION = 2
READABLE_VERSIONS = (1, 2)

CONFIG = "config.json"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
WEIGHTS = "weights.safetensors"
WEIGHTS_SIDECAR = "weights.json"
TRAINING_STATE = "training_state.pt"
FRAMES = "frames.npz"
SEQUENCE = "sequence.npz"
VIEW = "view.json"
METRIC_COLUMNS = ("step", "train_loss", "test_loss", "test_metric", "grad_norm")
#: Every name a run may leave in its folder (``prepare`` removes them before a new run).
RUN_FILES = (
    CONFIG,
    METRICS,
    SUMMARY,
    WEIGHTS,
    "weights.pt",
    WEIGHTS_SIDECAR,
    TRAINING_STATE,
    FRAMES,
    SEQUENCE,
    VIEW,
)


class RunFolderError(ValueError):
    """A run folder (or one of its files) that cannot be used; names the file and problem."""

    def __init__(self, path: os.PathLike | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# --- small helpers -------------------------------------------------------------------------
def regular(path: Path, what: str = "run file") -> Path:
    """``path`` if it is a regular file; a FIFO, a device or a folder in its place is refused
    at once (reading one would block or fail), as is a missing file."""
    from engines.regular_files import NotRegularFileError, check_regular_file

    try:
        check_regular_file(path, what)
    except NotRegularFileError as error:
        raise RunFolderError(path, "is missing" if error.missing else error.problem) from None
    return path


def format_number(value) -> str:
    """A CSV cell: "" for None/NaN-as-missing, ``repr`` for floats (shortest text that reads
    back the same float, so equal runs give byte-identical files), ``str`` otherwise."""
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        value = float(value)
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def csv_text(columns, rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_number(v) for v in row])
    return buffer.getvalue()


def json_number(value):
    """JSON has no NaN or infinity: write those as strings ("nan", "inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_json(path: os.PathLike | str, data: dict) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_text(path: Path) -> str:
    """The text of the run file ``path``, or RunFolderError saying it is missing or why it
    cannot be read (it is not a regular file, not UTF-8, …)."""
    regular(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFolderError(path, "is missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RunFolderError(path, f"cannot be read: {error}") from None


def read_json(path: Path) -> dict:
    """A JSON object from ``path``, or RunFolderError naming the file and the problem."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise RunFolderError(
            path, f"is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    if not isinstance(data, dict):
        raise RunFolderError(path, f"must hold a JSON object, got {type(data).__name__}")
    return data


# --- metrics ---------------------------------------------------------------------------------
@dataclass
class MetricsTable:
    """Every step's training loss and gradient norm, and every evaluation (NaN = none)."""

    step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    train_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    test_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    test_metric: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grad_norm: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.step)

    @classmethod
    def from_rows(cls, rows) -> MetricsTable:
        rows = list(rows)
        if not rows:
            return cls()

        def column(i):
            return np.array([np.nan if r[i] is None else float(r[i]) for r in rows])

        return cls(
            np.array([int(r[0]) for r in rows], np.int64),
            *(column(i) for i in range(1, 5)),
        )

    def rows(self) -> list[tuple]:
        def cell(values, i):
            v = float(values[i])
            return None if math.isnan(v) else v

        return [
            (
                int(self.step[i]),
                cell(self.train_loss, i),
                cell(self.test_loss, i),
                cell(self.test_metric, i),
                cell(self.grad_norm, i),
            )
            for i in range(len(self.step))
        ]


def write_metrics(folder: Path, rows) -> Path:
    """``rows``: tuples (step, train_loss, test_loss, test_metric, grad_norm), None = empty."""
    return atomic_write_text(folder / METRICS, csv_text(METRIC_COLUMNS, rows))


def read_metrics(folder: Path) -> MetricsTable:
    path = folder / METRICS
    text = read_text(path)
    lines = list(csv.reader(io.StringIO(text)))
    if not lines or tuple(lines[0]) != METRIC_COLUMNS:
        raise RunFolderError(path, f"must start with the header {','.join(METRIC_COLUMNS)}")
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if not cells:
            continue
        if len(cells) != len(METRIC_COLUMNS):
            raise RunFolderError(
                path, f"line {number} has {len(cells)} cells, expected {len(METRIC_COLUMNS)}"
            )
        try:
            rows.append((int(cells[0]), *(float(c) if c else None for c in cells[1:])))
        except ValueError:
            raise RunFolderError(
                path, f"line {number} holds a value that is not a number"
            ) from None
    return MetricsTable.from_rows(rows)


# --- config ----------------------------------------------------------------------------------
def check_format(path: Path, data: dict, what: str, name: str, spec: tuple) -> None:
    """RunFolderError unless ``data`` (read from ``path``) says it is ``what`` ("a run
    config") in a version this program reads; ``spec``: (format string, version written,
    versions read) of the ``name`` format ("run")."""
    fmt, version_written, readable = spec
    if data.get("format") != fmt:
        raise RunFolderError(path, f"is not {what} written by seq-playground")
    version = data.get("version")
    if version not in readable:
        newer = isinstance(version, int) and version > version_written
        raise RunFolderError(
            path,
            f"is version {version!r} of the {name} format; this program reads versions "
            f"{', '.join(map(str, readable))}"
            + (" (it was written by a newer seq-playground: update to open it)" if newer else ""),
        )


def write_config(folder: Path, config: dict) -> Path:
    return write_json(folder / CONFIG, {"format": FORMAT, "version": VERSION, **config})


def read_config(folder: Path) -> dict:
    """config.json, checked to be a run config of a version this program reads."""
    path = folder / CONFIG
    data = read_json(path)
    check_format(path, data, "a run config", "run", (FORMAT, VERSION, READABLE_VERSIONS))
    if not isinstance(data.get("options"), dict):
        raise RunFolderError(path, "has no 'options' mapping")
    return data


# --- weights and training state --------------------------------------------------------------
def write_weights(folder: Path, engine) -> Path:
    """weights.safetensors + weights.json (each atomically). The app's saves stage the whole
    folder (``save_run_folder``) and the command line stages its checkpoints, so neither
    leaves weights without their sidecar."""
    from engines.checkpoint import save_weights

    return save_weights(engine, folder / WEIGHTS)


def training_state_bytes(state: dict) -> bytes:
    """``training_state.pt`` as written, in memory (for writes that stage it with others)."""
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def write_training_state(folder: Path, state: dict) -> Path:
    return atomic_write_bytes(folder / TRAINING_STATE, training_state_bytes(state))


def read_training_state(folder: Path) -> dict:
    """The training state, loaded with ``weights_only=True``: a pickle that would build
    anything but tensors and plain containers is refused before anything runs."""
    import pickle
    import zipfile

    import torch

    path = regular(folder / TRAINING_STATE)
    if not zipfile.is_zipfile(path):  # torch.save writes a zip: anything else is damaged
        raise RunFolderError(path, "is damaged: it is not a saved training state")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        from engines.checkpoint import refused_global

        raise RunFolderError(
            path,
            "refused: it holds something other than tensors and could run code"
            f"{refused_global(error)}",
        ) from None
    except Exception as error:  # noqa: BLE001 - torch raises many types for a corrupt file
        raise RunFolderError(path, f"is not a readable training state ({error})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise RunFolderError(path, "is not a training state (no step)")
    return state


# --- probe frames ----------------------------------------------------------------------------
def write_frames(folder: Path, frames) -> Path | None:
    """``frames``: a sequence of (ProbeFrame, GradientFlow | None) of one run, oldest first
    (all of one probe batch, so they stack). Nothing is written for no frames."""
    frames = list(frames)
    path = folder / FRAMES
    if not frames:
        path.unlink(missing_ok=True)
        return None
    first = frames[0][0]
    trace = first.trace
    arrays = {
        "kind": np.asarray(trace.kind),
        "steps": np.array([f.step for f, _ in frames], np.int64),
        "inputs": first.inputs,
        "targets": first.targets,
        "mask": first.mask,
        "hidden": np.stack([f.trace.hidden for f, _ in frames]),
        "outputs": np.stack([f.trace.outputs for f, _ in frames]),
    }
    if trace.cell is not None:
        arrays["cell"] = np.stack([f.trace.cell for f, _ in frames])
    for name in trace.gates:
        arrays[f"gate_{name}"] = np.stack([f.trace.gates[name] for f, _ in frames])
    has = np.array([g is not None for _, g in frames])
    arrays["has_gradients"] = has
    if has.any():
        sample = next(g for _, g in frames if g is not None)
        arrays["grad_hidden"] = np.stack(
            [g.hidden if g is not None else np.full_like(sample.hidden, np.nan) for _, g in frames]
        )
        arrays["grad_inputs"] = np.stack(
            [g.inputs if g is not None else np.full_like(sample.inputs, np.nan) for _, g in frames]
        )
        arrays["grad_loss"] = np.array([g.loss if g is not None else np.nan for _, g in frames])
        own = [f.gradients is g for f, g in frames]
        arrays["own_gradients"] = np.array(own)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)  # uncompressed: a 10,000-step history saves in well under 1 s
        handle.flush()
        os.fsync(handle.fileno())
    return path


def read_frames(folder: Path) -> list:
    """The recorded frames as (ProbeFrame, GradientFlow | None), oldest first."""
    from engines.config import GATE_NAMES
    from engines.gradient_flow import GradientFlow
    from engines.probe import Trace
    from engines.training import ProbeFrame

    path = regular(folder / FRAMES)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as error:  # noqa: BLE001 - zipfile/numpy raise many types
        raise RunFolderError(path, f"is not a readable frames archive ({error})") from None
    try:
        kind = str(arrays["kind"])
        steps = arrays["steps"]
        n = len(steps)
        gates = {name: arrays[f"gate_{name}"] for name in GATE_NAMES[kind]}
        cell = arrays.get("cell")
        has = arrays["has_gradients"]
        for name, value in (("hidden", arrays["hidden"]), ("outputs", arrays["outputs"])):
            if len(value) != n:
                raise ValueError(f"{name} holds {len(value)} frames, steps {n}")
    except (KeyError, ValueError) as error:
        raise RunFolderError(path, f"is incomplete or inconsistent ({error})") from None
    frames = []
    inputs, targets, mask = (_read_only(arrays[k]) for k in ("inputs", "targets", "mask"))
    for i in range(n):
        trace = Trace(
            kind=kind,
            hidden=arrays["hidden"][i],
            cell=None if cell is None else cell[i],
            gates={name: values[i] for name, values in gates.items()},
            outputs=arrays["outputs"][i],
        )
        gradients = None
        if has[i]:
            gradients = GradientFlow(
                hidden=arrays["grad_hidden"][i],
                inputs=arrays["grad_inputs"][i],
                loss=float(arrays["grad_loss"][i]),
            )
        own = bool(arrays["own_gradients"][i]) if "own_gradients" in arrays else has[i]
        frame = ProbeFrame(
            step=int(steps[i]),
            inputs=inputs,
            targets=targets,
            mask=mask,
            trace=trace,
            gradients=gradients if own else None,
        )
        frames.append((frame, gradients))
    return frames


def _read_only(array: np.ndarray) -> np.ndarray:
    array = array.view()
    array.flags.writeable = False
    return array


# --- the user's sequence ---------------------------------------------------------------------
def write_sequence(folder: Path, sequences: dict) -> Path | None:
    """``sequences``: role ("train", "probe") -> a plain dict with ``values`` or ``symbols``
    (numpy) and plain fields (n_symbols, alphabet, objective, delay, source)."""
    path = folder / SEQUENCE
    if not sequences:
        path.unlink(missing_ok=True)
        return None
    arrays, meta = {}, {}
    for role, seq in sequences.items():
        plain = {}
        for key, value in seq.items():
            if isinstance(value, np.ndarray):
                arrays[f"{role}_{key}"] = value
            else:
                plain[key] = list(value) if isinstance(value, tuple) else value
        meta[role] = plain
    arrays["meta"] = np.asarray(json.dumps(meta))
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def read_sequence(folder: Path) -> dict:
    path = regular(folder / SEQUENCE)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            result = {}
            for role, plain in meta.items():
                seq = dict(plain)
                for key in ("values", "symbols"):
                    name = f"{role}_{key}"
                    seq[key] = data[name] if name in data.files else None
                if "alphabet" in seq:
                    seq["alphabet"] = tuple(seq["alphabet"])
                result[role] = seq
            return result
    except Exception as error:  # noqa: BLE001
        raise RunFolderError(path, f"is not a readable sequence archive ({error})") from None


# --- the whole folder ------------------------------------------------------------------------
@dataclass
class RunFolderContents:
    """What could be read of a run folder; ``problems`` names each file that could not."""

    path: Path
    config: dict
    version: int
    metrics: MetricsTable = field(default_factory=MetricsTable)
    summary: dict | None = None
    weights: Path | None = None  # the weights file, when it and its sidecar are there
    training_state: dict | None = None
    frames: list = field(default_factory=list)
    sequences: dict = field(default_factory=dict)
    view: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def options(self) -> dict:
        return self.config.get("options", {})

    @property
    def step(self) -> int:
        """The step the weights are at: the training state's, else the summary's."""
        if self.training_state is not None:
            return int(self.training_state["step"])
        if self.summary and isinstance(self.summary.get("steps"), int):
            return int(self.summary["steps"])
        return int(self.metrics.step[-1]) if len(self.metrics) else 0


def is_run_folder(path: os.PathLike | str) -> bool:
    path = Path(path)
    return path.is_dir() and (path / CONFIG).is_file()


def open_run_folder(path: os.PathLike | str, frames: bool = True) -> RunFolderContents:
    """Read everything intact in ``path``; RunFolderError only when it is no run folder."""
    folder = Path(path)
    if not folder.exists():
        raise RunFolderError(folder, "no such folder")
    if not folder.is_dir():
        raise RunFolderError(folder, "is not a folder (a run folder holds config.json)")
    config = read_config(folder)
    contents = RunFolderContents(path=folder, config=config, version=int(config["version"]))

    def attempt(reader, name, *, required=True):
        if not required and not (folder / name).exists():
            return None
        try:
            return reader(folder)
        except RunFolderError as error:
            contents.problems.append(str(error))
            return None

    metrics = attempt(read_metrics, METRICS)
    if metrics is not None:
        contents.metrics = metrics
    contents.summary = attempt(lambda f: read_json(f / SUMMARY), SUMMARY)
    contents.weights = attempt(_check_weights, WEIGHTS)
    if contents.weights is None:
        contents.notes.append("no usable weights: the settings and curves open, Train starts anew")
    if contents.version >= 2:
        contents.training_state = attempt(read_training_state, TRAINING_STATE)
    if contents.training_state is None and contents.weights is not None:
        contents.notes.append(
            "no training state: continuing starts a fresh optimizer from the saved weights"
        )
    if frames:
        contents.frames = attempt(read_frames, FRAMES, required=False) or []
    if config.get("sequence") or (folder / SEQUENCE).exists():
        contents.sequences = attempt(read_sequence, SEQUENCE) or {}
    contents.view = attempt(lambda f: read_json(f / VIEW), VIEW, required=False) or {}
    return contents


def _check_weights(folder: Path) -> Path:
    from engines.checkpoint import WeightsFileError, read_sidecar

    path = folder / WEIGHTS
    if not path.exists() and (folder / "weights.pt").exists():
        path = folder / "weights.pt"
    regular(path, "weights file")
    try:
        read_sidecar(path)
    except WeightsFileError as error:
        raise RunFolderError(error.path, error.problem) from None
    return path


def load_engine(contents: RunFolderContents, device: str = "cpu"):
    """The engine with the folder's weights (RunFolderError naming the file if they fail)."""
    from engines.checkpoint import WeightsFileError, load_weights

    if contents.weights is None:
        raise RunFolderError(contents.path / WEIGHTS, "is missing or unusable")
    try:
        return load_weights(contents.weights, device=device)
    except WeightsFileError as error:
        raise RunFolderError(error.path, error.problem) from None


def previous_run_files(folder: Path) -> list[str]:
    return [name for name in RUN_FILES if (folder / name).exists()]


# --- writing a whole folder (the app's Save Experiment) --------------------------------------
@dataclass
class RunFolderData:
    """Everything a saved experiment holds, as plain values (see ``save_run_folder``)."""

    config: dict  # config.json without format/version
    metrics_rows: list  # (step, train_loss, test_loss, test_metric, grad_norm)
    summary: dict
    engine_config: dict | None = None  # with ``weights``: the engine they belong to
    weights: dict | None = None  # state_dict (CPU tensors)
    training_state: dict | None = None
    frames: list = field(default_factory=list)  # (ProbeFrame, GradientFlow | None)
    sequences: dict = field(default_factory=dict)
    view: dict = field(default_factory=dict)


def write_run_files(folder: Path, data: RunFolderData) -> None:
    """Write every file of ``data`` into ``folder`` (each atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, data.config)
    write_metrics(folder, data.metrics_rows)
    if data.weights is not None and data.engine_config is not None:
        from engines.config import EngineConfig
        from engines.engine import build_engine

        engine = build_engine(EngineConfig.from_dict(data.engine_config), seed=0)
        engine.load_state_dict(data.weights, strict=True)
        write_weights(folder, engine)
    if data.training_state is not None:
        write_training_state(folder, data.training_state)
    write_frames(folder, data.frames)
    write_sequence(folder, data.sequences)
    write_json(folder / VIEW, data.view)
    write_json(folder / SUMMARY, data.summary)


def save_run_folder(path: os.PathLike | str, data: RunFolderData) -> Path:
    """Save ``data`` as the run folder ``path``, replacing what was there only once the new
    folder is complete: it is written beside it first, then swapped in by two renames. A
    failure (no permission, disk full) raises OSError/RunFolderError naming the file, and the
    previous save stays as it was."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise RunFolderError(target, "exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not is_run_folder(target):
        raise RunFolderError(target, "holds other files and no run: choose an empty or new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.saving-"))
    try:
        write_run_files(staging, data)
        old = swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        # Files a user put beside the run (notes, exported figures) stay with the new save.
        for item in (old / "run").iterdir():
            if item.name not in RUN_FILES and not (target / item.name).exists():
                with contextlib.suppress(OSError):
                    os.replace(item, target / item.name)
        shutil.rmtree(old, ignore_errors=True)
    return target


def swap_in(staging: Path, target: Path) -> Path | None:
    """Put the complete folder ``staging`` in ``target``'s place by two renames: the previous
    folder is renamed aside, to ``.NAME.old-*/run``, and that holder is returned (None where
    there was none) for the caller to take what it wants from and remove. A rename that fails
    puts the previous folder back; a kill between the two leaves it aside, whole."""
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
        try:
            os.replace(target, old / "run")
        except BaseException:
            old.rmdir()
            raise
    try:
        os.replace(staging, target)
    except BaseException:
        if old is not None:  # the previous folder back where it was
            os.replace(old / "run", target)
            old.rmdir()
        raise
    return old
