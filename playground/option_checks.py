"""The checks behind the options: build the real objects (a task, an engine config, a
training config, a device, a sequence file) from option values and turn their ValueErrors
into a ``UsageError`` naming the option, so a bad value is one line, never a traceback.

torch is imported inside the functions only: the entry point imports this module before it.
"""

from __future__ import annotations

import json
from pathlib import Path

from playground.options import DEFAULTS, UsageError

# --- checks: build the real objects, turn their ValueErrors into one line -------------------
_ENGINE_FIELDS = {
    "kind": "--engine",
    "hidden_size": "--hidden",
    "num_layers": "--layers",
    "init": "--init",
    "forget_bias": "--forget-bias",
}
_TRAINING_FIELDS = {
    "optimizer": "--optimizer",
    "learning rate": "--lr",
    "clip": "--clip",
    "batch_size": "--batch",
    "eval_every": "--eval-every",
    "seed": "--seed",
}


def _labelled(error: ValueError, labels: dict[str, str]) -> UsageError:
    message = str(error)
    for prefix, option in labels.items():
        if message.startswith(prefix):
            return UsageError(f"argument {option}: {message}")
    return UsageError(message)


def parse_task_options(items: list[str] | None) -> dict:
    options = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"argument --task-option: expected KEY=VALUE, got {item!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        options[key.strip()] = value
    return options


def build_task(name: str, length: int | None, options: dict | None = None):
    from engines.tasks.registry import create_task, default_length, length_range

    try:
        low, high = length_range(name)
    except ValueError as error:
        raise UsageError(f"argument --task: {error}") from None
    if length is None:
        length = default_length(name)
    try:
        return create_task(name, length, **(options or {}))
    except ValueError as error:
        message = str(error)
        if message.split(" ", 1)[0] in ("length", "delay"):
            raise UsageError(
                f"argument --length: {message} (task {name!r} accepts {low} to {high})"
            ) from None
        raise UsageError(f"argument --task-option: {message}") from None
    except TypeError as error:  # a task option of the wrong type
        raise UsageError(f"argument --task-option: {error}") from None


def sequence_task(sequence: dict, objective, delay, window, source: str):
    """A SequenceTask from a loaded or stored sequence (``values`` or ``symbols``, and for
    symbols ``n_symbols``; ``names`` for channels), each bad value naming its option."""
    from engines.tasks.user_sequence import SequenceTask

    kwargs = {"objective": objective or "next", "delay": delay or 0, "window": window}
    try:
        if sequence.get("symbols") is not None:
            return SequenceTask(
                symbols=sequence["symbols"], n_symbols=int(sequence["n_symbols"]), **kwargs
            )
        names = sequence.get("names")
        return SequenceTask(
            values=sequence["values"], names=tuple(names) if names else None, **kwargs
        )
    except ValueError as error:
        option = {"objective": "--objective", "delay": "--delay", "window": "--length"}
        label = option.get(str(error).split(" ", 1)[0], "--data")
        raise UsageError(f"argument {label}: {error} (file {source})") from None


def load_data(path: str) -> dict:
    """A sequence file as the plain dict ``sequence_task`` and ``sequence.npz`` take."""
    from playground.files.sequences import load_sequence

    try:
        data = load_sequence(path)
    except ValueError as error:  # SequenceLoadError names the file, line and column
        raise UsageError(f"argument --data: {error}") from None
    if data.is_symbolic:
        return {
            "symbols": data.symbols,
            "n_symbols": len(data.alphabet),
            "alphabet": list(data.alphabet),
            "source": str(path),
        }
    return {"values": data.values, "names": list(data.channel_names), "source": str(path)}


def build_data_task(path: str, objective: str | None, delay: int | None, window: int | None):
    return sequence_task(load_data(path), objective, delay, window, Path(path).name)


def build_engine_config(task, engine: str, hidden, layers, init, forget_bias):
    from engines.config import EngineConfig

    try:
        return EngineConfig(
            kind=str(engine).strip().lower(),
            input_size=task.input_size,
            hidden_size=hidden,
            output_size=task.output_size,
            num_layers=layers,
            init=str(init).strip().lower(),
            forget_bias=forget_bias,
            # Chrono initialisation (Tallec & Ollivier 2018) spreads the timescales up to
            # the task's length, as in the app.
            chrono_t_max=max(2, int(task.sequence_length))
            if str(init).strip().lower() == "chrono"
            else 0,
        )
    except ValueError as error:
        raise _labelled(error, _ENGINE_FIELDS) from None


def build_training_config(optimizer, lr, batch, clip, seed, eval_every=50, probe_size=1):
    """The training config. ``probe_size`` 1, as in the app: the views show one sequence,
    and a frame of one sample keeps ``frames.npz`` small (the probe never changes training)."""
    from engines.training import TrainingConfig

    try:
        return TrainingConfig(
            optimizer=str(optimizer).strip().lower(),
            lr=lr,
            batch_size=batch,
            clip=clip,
            seed=seed,
            eval_every=eval_every,
            probe_size=probe_size,
        )
    except ValueError as error:
        raise _labelled(error, _TRAINING_FIELDS) from None


def check_device(device: str) -> str:
    from engines.devices import resolve_device

    try:
        return str(resolve_device(str(device).strip()))
    except ValueError as error:
        raise UsageError(f"argument --device: {error}") from None


def check_positive(option: str, value: int | None, low: int = 1) -> None:
    if value is not None and value < low:
        raise UsageError(f"argument {option}: must be an integer >= {low}, got {value}")


def parse_list(option: str, text: str, kind=str) -> list:
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise UsageError(f"argument {option}: give a comma-separated list, got {text!r}")
    values = []
    for item in items:
        try:
            values.append(kind(item))
        except ValueError:
            raise UsageError(
                f"argument {option}: {item!r} is not {'an integer' if kind is int else 'valid'}"
            ) from None
    return list(dict.fromkeys(values))  # drop repeats, keep the order


def set_threads(threads: int | None) -> None:
    if threads is not None:
        check_positive("--threads", threads)
        import torch

        torch.set_num_threads(threads)


# --- the window's settings -------------------------------------------------------------------
def app_defaults() -> dict:
    try:
        from resources.default_settings import DEFAULT_SETTINGS

        return {**DEFAULTS, **DEFAULT_SETTINGS}
    except ImportError:
        return dict(DEFAULTS)


def validate_app_settings(settings: dict) -> None:
    """Check the given settings, filled with the app's defaults, by building the objects."""
    values = {**app_defaults(), **settings}
    task = build_task(str(values["task"]), settings.get("length"))
    v = [values[key] for key in ("engine", "hidden", "layers", "init", "forget_bias")]
    build_engine_config(task, *v)
    build_training_config(*[values[k] for k in ("optimizer", "lr", "batch", "clip", "seed")])
    check_device(values["device"])
