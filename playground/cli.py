"""The ``seq-playground`` command: open the app, or train and measure memory horizons headless.

    seq-playground [FILE ...] [--task adding --length 100 --engine lstm ... --autostart]
    seq-playground train --task adding --length 100 --engine lstm --steps 2000 --out RUN_DIR
    seq-playground train --config RUN_DIR/config.json --out RUN_DIR2      (run it again)
    seq-playground horizon --task adding --engines rnn,lstm,gru --lengths 10,25,50 --out DIR

No Qt is imported here or by ``train``/``horizon`` (the GPU machine has none): the window is
imported only when it is launched, the horizon plot only when it is drawn. Every bad option is
one line on stderr, ``seq-playground: error: ...``, and exit status 2, never a traceback; the
values are checked by building the real objects (task, engine config, training config, device,
sequence file) and passing on their messages.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROG = "seq-playground"
EXIT_USAGE = 2
#: The settings the window takes (``playground.app.launch``); only those given are passed.
APP_SETTINGS = (
    "task length engine layers hidden device optimizer lr batch clip init forget_bias seed"
)
_DEFAULTS = dict(
    task="adding", engine="lstm", layers=1, hidden=32, device="cpu", optimizer="adam", lr=5e-3
)
_DEFAULTS.update(batch=64, clip=1.0, init="default", forget_bias=1.0, seed=0)


def version() -> str:
    """The package version (``playground.__version__``, or the installed metadata when a
    ``tests/playground`` folder shadows the package, as under pytest's default import mode)."""
    try:
        from playground import __version__

        return __version__
    except ImportError:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            return installed("sequence-memory-playground")
        except PackageNotFoundError:
            return "unknown"


class UsageError(Exception):
    """A bad option: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors become a UsageError: main() prints one line and returns 2."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def fail(message: str, stream=None) -> None:
    """The one line every failure prints."""
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=stream or sys.stderr, flush=True)


# --- options ---------------------------------------------------------------------------------
def _add_model_options(parser: argparse.ArgumentParser, defaults: dict, engine: bool = True):
    d = defaults.get
    if engine:
        parser.add_argument("--engine", default=d("engine"), help="rnn, lstm or gru")
    parser.add_argument("--hidden", type=int, default=d("hidden"), help="hidden units per layer")
    parser.add_argument("--layers", type=int, default=d("layers"), help="stacked layers (1-4)")
    parser.add_argument("--device", default=d("device"), help="cpu, cuda or cuda:N")
    parser.add_argument("--optimizer", default=d("optimizer"), help="adam, sgd or rmsprop")
    parser.add_argument("--lr", type=float, default=d("lr"), help="learning rate")
    parser.add_argument("--batch", type=int, default=d("batch"), help="batch size")
    parser.add_argument(
        "--clip", type=float, default=d("clip"), help="max gradient norm (0: no clipping)"
    )
    parser.add_argument(
        "--init", default=d("init"), help="weight init: default, orthogonal or identity"
    )
    parser.add_argument(
        "--forget-bias", type=float, default=d("forget_bias"), help="LSTM forget-gate bias"
    )


def _add_task_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task-option",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="a task's own option, e.g. n_symbols=4 for copy (repeatable)",
    )


def _add_headless_options(parser: argparse.ArgumentParser, steps: int) -> None:
    parser.add_argument("--steps", type=int, default=steps, help="training steps per run")
    parser.add_argument(
        "--eval-every", type=int, default=50, help="evaluate the held-out set every N steps"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")


def _train_parser(defaults: dict) -> _Parser:
    parser = _Parser(
        prog=f"{PROG} train",
        description="Train one engine on one task headless and write a run folder: "
        "config.json, metrics.csv, summary.json and weights.safetensors.",
    )
    parser.add_argument("--config", help="a previous run's config.json (or its folder) to rerun")
    parser.add_argument("--task", default=None, help="task name (default adding)")
    parser.add_argument("--length", type=int, default=None, help="the task's length or delay")
    _add_task_options(parser)
    parser.add_argument("--data", default=None, help="train on your own sequence file instead")
    parser.add_argument(
        "--objective", default=None, help="with --data: next (predict) or recall (reproduce)"
    )
    parser.add_argument("--delay", type=int, default=None, help="with --data: recall delay")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights and batches")
    _add_model_options(parser, defaults)
    _add_headless_options(parser, steps=2000)
    return parser


def _horizon_parser(defaults: dict) -> _Parser:
    parser = _Parser(
        prog=f"{PROG} horizon",
        description="Train every engine at every length and plot the final test metric "
        "against the length: where each engine's memory gives out.",
    )
    parser.add_argument("--task", default="adding", help="task name")
    parser.add_argument("--engines", default="rnn,lstm,gru", help="comma list of engines")
    parser.add_argument("--lengths", default="10,25,50,100,200", help="comma list of lengths")
    parser.add_argument("--seeds", default="0", help="comma list of seeds")
    _add_task_options(parser)
    _add_model_options(parser, defaults, engine=False)
    _add_headless_options(parser, steps=2000)
    return parser


def _app_parser(defaults: dict) -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Sequence Memory Playground: watch RNN, LSTM and GRU states, gates and "
        f"gradients while they train. Without a command it opens the window; '{PROG} train' "
        f"and '{PROG} horizon' run headless (see '{PROG} train --help').",
        epilog="commands: train, horizon",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    parser.add_argument("files", nargs="*", metavar="FILE", help="sequence/weights files to open")
    parser.add_argument("--task", default=None, help="task name")
    parser.add_argument("--length", type=int, default=None, help="the task's length or delay")
    parser.add_argument("--seed", type=int, default=None)
    _add_model_options(parser, {})
    parser.add_argument(
        "--autostart", action="store_true", help="start training as soon as the window opens"
    )
    return parser


# --- validation: build the real objects, turn their ValueErrors into one line --------------
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


def build_data_task(path: str, objective: str | None, delay: int | None, window: int | None):
    from engines.tasks.user_sequence import SequenceTask
    from playground.files.sequences import load_sequence

    try:
        data = load_sequence(path)
    except ValueError as error:  # SequenceLoadError names the file, line and column
        raise UsageError(f"argument --data: {error}") from None
    kwargs = {"objective": objective or "next", "delay": delay or 0, "window": window}
    try:
        if data.is_symbolic:
            return SequenceTask(symbols=data.symbols, n_symbols=len(data.alphabet), **kwargs)
        return SequenceTask(values=data.values, names=data.channel_names, **kwargs)
    except ValueError as error:
        option = {"objective": "--objective", "delay": "--delay", "window": "--length"}
        first = str(error).split(" ", 1)[0]
        label = option.get(first, "--data")
        raise UsageError(f"argument {label}: {error} (file {Path(path).name})") from None


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
        )
    except ValueError as error:
        raise _labelled(error, _ENGINE_FIELDS) from None


def build_training_config(optimizer, lr, batch, clip, seed, eval_every=50):
    from engines.training import TrainingConfig

    try:
        return TrainingConfig(
            optimizer=str(optimizer).strip().lower(),
            lr=lr,
            batch_size=batch,
            clip=clip,
            seed=seed,
            eval_every=eval_every,
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


# --- commands --------------------------------------------------------------------------------
def _train(argv: list[str]) -> int:
    from playground.run_files import read_run_config

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    parser = _train_parser({**_DEFAULTS})
    if known.config:
        try:
            options = read_run_config(known.config)
        except ValueError as error:
            raise UsageError(str(error)) from None
        dests = {action.dest for action in parser._actions}
        unknown = sorted(set(options) - dests)
        if unknown:
            raise UsageError(f"--config {known.config}: unknown options {', '.join(unknown)}")
        parser.set_defaults(**options)
    args = parser.parse_args(argv)

    from playground.run_files import prepare_train, run_train

    return run_train(prepare_train(args, [PROG, "train", *argv]))


def _horizon(argv: list[str]) -> int:
    args = _horizon_parser({**_DEFAULTS}).parse_args(argv)
    from playground.horizon import prepare_horizon, run_horizon

    return run_horizon(prepare_horizon(args, [PROG, "horizon", *argv]))


def _app_defaults() -> dict:
    try:
        from playground.run_spec import DEFAULT_SETTINGS

        return {**_DEFAULTS, **DEFAULT_SETTINGS}
    except ImportError:
        return dict(_DEFAULTS)


def validate_app_settings(settings: dict) -> None:
    """Check the given settings, filled with the app's defaults, by building the objects."""
    values = {**_app_defaults(), **settings}
    task = build_task(str(values["task"]), settings.get("length"))
    v = [values[key] for key in ("engine", "hidden", "layers", "init", "forget_bias")]
    build_engine_config(task, *v)
    build_training_config(*[values[k] for k in ("optimizer", "lr", "batch", "clip", "seed")])
    check_device(values["device"])


def _app(argv: list[str]) -> int:
    args = _app_parser({}).parse_args(argv)
    settings = {
        key: getattr(args, key) for key in APP_SETTINGS.split() if getattr(args, key) is not None
    }
    for key in ("engine", "optimizer", "init", "device"):
        if key in settings:
            settings[key] = str(settings[key]).strip().lower()
    validate_app_settings(settings)
    files = []
    for name in args.files:
        if not Path(name).exists():
            raise UsageError(f"argument FILE: {name}: no such file or folder")
        files.append(str(Path(name).resolve()))
    try:
        from playground.app import launch
    except ImportError as error:
        fail(
            f"the window cannot open ({error}); it needs PySide6 and pyqtgraph. "
            f"'{PROG} train' and '{PROG} horizon' work without them."
        )
        return 1
    return int(launch(settings, args.autostart, files) or 0)


COMMANDS = {"train": _train, "horizon": _horizon}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``seq-playground`` and ``python -m playground``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            return COMMANDS[argv[0]](argv[1:])
        return _app(argv)
    except UsageError as error:
        fail(str(error))
        return EXIT_USAGE
    except OSError as error:  # a full disk, a folder that went away: one line, not a traceback
        fail(f"{error.filename or ''} {error.strerror or error}".strip())
        return 1
    except SystemExit as exit_:  # --help and --version
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
