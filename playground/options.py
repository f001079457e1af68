"""The options of ``seq-playground`` and its commands.

One place for what every command accepts: the parsers of the app launch, ``train``,
``horizon`` and ``export``, and the one-line failure every bad option becomes (a
``UsageError``: ``seq-playground: error: ...`` on stderr, exit status 2, never a traceback).
The checks that build the real objects from the values are in ``playground.option_checks``.
Commands import these modules; they import no command, no torch and no Qt.
"""

from __future__ import annotations

import argparse
import sys

PROG = "seq-playground"
EXIT_USAGE = 2
#: The settings the window takes (``playground.app.launch``); only those given are passed.
APP_SETTINGS = (
    "task length engine layers hidden device optimizer lr batch clip init forget_bias seed"
)
DEFAULTS = dict(
    task="adding", engine="lstm", layers=1, hidden=32, device="cpu", optimizer="adam", lr=5e-3
)
DEFAULTS.update(batch=64, clip=1.0, init="default", forget_bias=1.0, seed=0)
#: The engine options a ``--weights`` file may supply when they are not given.
ENGINE_SHAPE_OPTIONS = ("engine", "hidden", "layers")


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


class Parser(argparse.ArgumentParser):
    """argparse whose errors become a UsageError: main() prints one line and returns 2."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def fail(message: str, stream=None) -> None:
    """The one line every failure prints."""
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=stream or sys.stderr, flush=True)


def note(message: str, stream=None) -> None:
    """A one-line remark that is not an error (a fresh optimizer, a read-out made anew)."""
    text = " ".join(str(message).split())
    print(f"{PROG}: note: {text}", file=stream or sys.stderr, flush=True)


# --- parsers ---------------------------------------------------------------------------------
def _add_model_options(parser, engine: bool = True) -> None:
    """The model and optimizer options, without defaults: each parser sets its own."""
    if engine:
        parser.add_argument("--engine", help="rnn, lstm or gru")
    parser.add_argument("--hidden", type=int, help="hidden units per layer")
    parser.add_argument("--layers", type=int, help="stacked layers (1-4)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N")
    parser.add_argument("--optimizer", help="adam, sgd or rmsprop")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--batch", type=int, help="batch size")
    parser.add_argument("--clip", type=float, help="max gradient norm (0: no clipping)")
    parser.add_argument(
        "--init",
        help="weight init: default, orthogonal, identity or chrono (LSTM/GRU, T_max = the task length)",
    )
    parser.add_argument("--forget-bias", type=float, help="LSTM forget-gate bias")


def _set_defaults(parser, defaults: dict) -> None:
    """Set the defaults of the options ``parser`` has (others in ``defaults`` are skipped)."""
    dests = {action.dest for action in parser._actions}
    parser.set_defaults(**{k: v for k, v in defaults.items() if k in dests})


def _add_task_option(parser) -> None:
    parser.add_argument(
        "--task-option",
        action="append",
        metavar="KEY=VALUE",
        help="a task's own option, e.g. n_symbols=4 for copy (repeatable)",
    )


def _add_run_options(parser) -> None:
    parser.add_argument("--steps", type=int, help="training steps per run (default 2000)")
    parser.add_argument(
        "--eval-every",
        type=int,
        help="evaluate the held-out set (and record a probe frame) every N steps (default 50)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--out", help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")


#: What ``train`` and ``horizon`` run with when an option is not given.
RUN_DEFAULTS = {**{k: v for k, v in DEFAULTS.items() if k != "task"}, "steps": 2000}
RUN_DEFAULTS.update(eval_every=50, threads=None)


def train_parser(defaults: dict | None = None) -> Parser:
    """``train``'s options, with ``RUN_DEFAULTS`` updated by ``defaults`` (a previous run's
    options). ``defaults=None`` leaves every option out unless given: parsing then tells
    which options the command line gave."""
    suppress = defaults is None
    parser = Parser(
        prog=f"{PROG} train",
        description="Train one engine on one task headless and write a run folder: "
        "config.json, metrics.csv, summary.json, weights.safetensors with its sidecar, "
        "training_state.pt (to continue exactly) and frames.npz (the probe frames).",
        argument_default=argparse.SUPPRESS if suppress else None,
    )
    parser.add_argument("--config", help="a previous run's config.json (or its folder) to rerun")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue RUN_DIR in place to --steps, with its own options (weights, optimizer "
        "and random state restored: the same as never stopping)",
    )
    parser.add_argument(
        "--weights", metavar="FILE", help="start from these weights (.safetensors or .pt)"
    )
    parser.add_argument(
        "--or-resume",
        action="store_true",
        help="when --out already holds this run, continue it (or do nothing when it is "
        "finished) instead of refusing: a command a job scheduler may run again",
    )
    parser.add_argument("--task", help="task name (default adding)")
    parser.add_argument("--length", type=int, help="the task's length or delay")
    _add_task_option(parser)
    parser.add_argument("--data", help="train on your own sequence file instead")
    parser.add_argument("--objective", help="with --data: next (predict) or recall (reproduce)")
    parser.add_argument("--delay", type=int, help="with --data: recall delay")
    parser.add_argument("--seed", type=int, help="seeds weights and batches (default 0)")
    _add_model_options(parser)
    _add_run_options(parser)
    if not suppress:
        _set_defaults(parser, {**RUN_DEFAULTS, **defaults})
    return parser


def resume_parser() -> Parser:
    """``train --resume RUN_DIR``: the run keeps its own options; only these may be given."""
    parser = Parser(
        prog=f"{PROG} train --resume",
        description="Continue a run folder in place: same options, weights, optimizer and "
        "random state restored, metrics and frames continued.",
    )
    parser.add_argument("--resume", metavar="RUN_DIR", required=True)
    parser.add_argument(
        "--steps", type=int, default=None, help="train to this step (default: the run's own)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="continue on another device")
    return parser


def horizon_parser() -> Parser:
    parser = Parser(
        prog=f"{PROG} horizon",
        description="Train every engine at every length and plot the final test metric "
        "against the length: where each engine's memory gives out. Every run is its own run "
        "folder in OUT/runs; the same command again resumes an interrupted sweep.",
    )
    parser.add_argument("--task", default="adding", help="task name")
    parser.add_argument("--engines", default="rnn,lstm,gru", help="comma list of engines")
    parser.add_argument("--lengths", default="10,25,50,100,200", help="comma list of lengths")
    parser.add_argument("--seeds", default="0", help="comma list of seeds")
    _add_task_option(parser)
    _add_model_options(parser, engine=False)
    _add_run_options(parser)
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs at a time (each a 'train' process)"
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print one 'seq-playground train' command per run (for a SLURM job array or "
        "GNU parallel) instead of running them",
    )
    parser.add_argument(
        "--collect",
        metavar="DIR",
        help="gather the finished runs in DIR/runs into DIR/horizon.csv and the plot",
    )
    _set_defaults(parser, RUN_DEFAULTS)
    return parser


def export_parser() -> Parser:
    parser = Parser(
        prog=f"{PROG} export",
        description="Draw a run folder's views as images (or its training history as an "
        "animation), without opening the window.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder")
    parser.add_argument("--out", required=True, help="folder for the images")
    parser.add_argument("--format", default="png", choices=("png", "svg"), help="image format")
    parser.add_argument(
        "--views", default=None, help="comma list of views (default: all; '' for none)"
    )
    parser.add_argument("--step", type=int, default=None, help="the recorded step to draw")
    parser.add_argument(
        "--animate", default=None, choices=("gif", "mp4"), help="the history as an animation"
    )
    parser.add_argument("--size", default=None, metavar="WxH", help="pixels of every figure")
    parser.add_argument("--dpi", type=float, default=None, help="scales text and lines")
    parser.add_argument("--fps", type=float, default=None, help="frames per second of --animate")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="animate the time cursor across the frame at --step instead of the history",
    )
    parser.add_argument("--from-step", type=int, default=None, help="first step of --animate")
    parser.add_argument("--to-step", type=int, default=None, help="last step of --animate")
    parser.add_argument("--max-frames", type=int, default=None, help="thin --animate to this")
    return parser


def parse_size(text: str) -> tuple[int, int]:
    width, sep, height = str(text).lower().partition("x")
    try:
        size = (int(width), int(height))
    except ValueError:
        size = None
    if not sep or size is None or min(size) < 1:
        raise UsageError(
            f"argument --size: give WIDTHxHEIGHT in pixels, e.g. 1280x800, got {text!r}"
        )
    return size


def app_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Sequence Memory Playground: watch RNN, LSTM and GRU states, gates and "
        f"gradients while they train. Without a command it opens the window; '{PROG} train', "
        f"'{PROG} horizon' and '{PROG} export' run headless (see '{PROG} train --help').",
        epilog="commands: train, horizon, export",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="sequence/weights files or run folders to open"
    )
    parser.add_argument("--task", default=None, help="task name")
    parser.add_argument("--length", type=int, default=None, help="the task's length or delay")
    parser.add_argument("--seed", type=int, default=None)
    _add_model_options(parser)
    parser.add_argument(
        "--autostart", action="store_true", help="start training as soon as the window opens"
    )
    return parser
