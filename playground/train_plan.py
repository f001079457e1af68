"""A checked ``train`` run: the plan every way into ``train`` ends in, and the checks that make
it (shared by ``playground.train_command`` and ``playground.train_resume``).

``build_plan`` turns parsed options into the real objects (task, engine config, training
config, device) or a UsageError naming the option; ``--config`` options, a run folder's own
copy of its sequence, and ``--weights`` files (ours or a plain ``torch.nn`` state_dict) are
read here. Nothing here writes a file.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from playground import run_folder as rf
from playground.option_checks import (
    build_engine_config,
    build_task,
    build_training_config,
    check_device,
    check_positive,
    load_data,
    parse_task_options,
    sequence_task,
)
from playground.options import PROG, UsageError

#: Options that may differ between two runs of "the same run" (``--or-resume``).
NOT_IDENTITY = ("steps", "threads", "device")
WRITTEN_BY = "seq-playground train"


@dataclass
class Start:
    """Where a continued run starts: the checkpoint and the history before it."""

    step: int
    weights: dict | None  # state_dict; None: the seed's own initial weights
    training_state: dict | None  # None: a fresh optimizer
    metrics_rows: list = field(default_factory=list)
    frames: list = field(default_factory=list)
    seconds: float = 0.0
    train_seconds: float = 0.0


@dataclass
class TrainPlan:
    """A checked ``train`` command: the objects to build the run from and where it goes."""

    task: object  # engines.tasks.base.Task
    engine: object  # engines.config.EngineConfig
    training: object  # engines.training.TrainingConfig
    device: str
    steps: int
    out: Path | None
    options: dict  # resolved options: ``train --config`` reads them back
    argv: list[str] = field(default_factory=list)
    threads: int | None = None
    config: dict = field(default_factory=dict)  # config.json, without format and version
    sequences: dict = field(default_factory=dict)  # sequence.npz (the run's own data)
    probe_batch: object = None
    initial_weights: dict | None = None  # --weights: the state_dict to start from
    start: Start | None = None  # continuing a run
    notes: list[str] = field(default_factory=list)


def config_options(path: str) -> tuple[dict, dict | None]:
    """The options of ``--config`` (a config.json or its run folder), and the folder's own
    copy of the training sequence when it has one."""
    path = Path(path).expanduser()
    folder = path if path.is_dir() else path.parent
    try:
        if path.is_dir() or path.name == rf.CONFIG:
            config = rf.read_config(folder)
        else:  # a config.json kept under another name
            config = _check_config(path, rf.read_json(path))
    except rf.RunFolderError as error:
        raise UsageError(f"argument --config: {error}") from None
    options = dict(config["options"])
    if config.get("written_by") == "app":
        options.pop("steps", None)  # the step the app was at, not a target: 2000 unless given
    stored = None
    in_folder = path.is_dir() or path.name == rf.CONFIG
    if in_folder and (folder / rf.SEQUENCE).is_file():
        try:
            stored = rf.read_sequence(folder).get("train")
        except rf.RunFolderError as error:
            raise UsageError(f"argument --config: {error}") from None
    if stored is None and options.get("task") is None and not options.get("data"):
        raise UsageError(
            f"argument --config: {path} trained on a sequence that its folder does not hold "
            f"({rf.SEQUENCE} is missing); give --data FILE or --task"
        )
    return options, stored


def _check_config(path: Path, data: dict) -> dict:
    if data.get("format") != rf.FORMAT:
        raise rf.RunFolderError(path, "is not a run config written by seq-playground")
    if data.get("version") not in rf.READABLE_VERSIONS:
        raise rf.RunFolderError(
            path,
            f"is version {data.get('version')!r} of the run format; this program reads "
            f"versions {', '.join(map(str, rf.READABLE_VERSIONS))}",
        )
    if not isinstance(data.get("options"), dict):
        raise rf.RunFolderError(path, "has no 'options' mapping")
    return data


def build_plan(args, explicit: dict, given: set, stored: dict | None = None) -> TrainPlan:
    """Check every option by building the objects; a TrainPlan (no folder yet)."""
    check_positive("--steps", args.steps, low=0)
    check_positive("--threads", args.threads)
    task, data_path, sequence = _task(args, explicit, stored)
    initial_weights, notes = None, []
    loaded = None
    if args.weights:
        loaded = read_weights(args.weights, task)
        for key, value in (
            ("engine", loaded.config.kind),
            ("hidden", loaded.config.hidden_size),
            ("layers", loaded.config.num_layers),
        ):
            if key not in given:
                setattr(args, key, value)
        notes += [f"{Path(args.weights).name}: {line}" for line in loaded.notes]
    engine = build_engine_config(
        task, args.engine, args.hidden, args.layers, args.init, args.forget_bias
    )
    if loaded is not None:
        check_weights_fit(args.weights, loaded.config, engine, task)
        initial_weights = loaded.state
    training = build_training_config(
        args.optimizer, args.lr, args.batch, args.clip, args.seed, args.eval_every
    )
    device = check_device(args.device)
    skip = ("config", "out", "overwrite", "resume", "or_resume")
    options = {key: value for key, value in vars(args).items() if key not in skip}
    options.update(
        task=None if sequence else task.name,
        length=task.window if sequence else task.length,
        data=data_path,
        weights=str(Path(args.weights).expanduser().resolve()) if args.weights else None,
        engine=engine.kind,
        init=engine.init,
        optimizer=training.optimizer,
        device=str(args.device).strip().lower(),
    )
    return TrainPlan(
        task=task,
        engine=engine,
        training=training,
        device=device,
        steps=args.steps,
        threads=args.threads,
        out=None,
        options=options,
        sequences={"train": sequence} if sequence else {},
        initial_weights=initial_weights,
        notes=notes,
    )


def _task(args, explicit: dict, stored: dict | None):
    """(task, data path or None, the sequence to keep in sequence.npz or None)."""
    task_options = parse_task_options(args.task_option)
    wants_task = "task" in explicit or "task_option" in explicit
    if "data" in explicit and wants_task:
        raise UsageError("argument --data: give either --task or --data, not both")
    if "data" in explicit:
        stored = None
    data = None if wants_task else args.data
    if wants_task or (data is None and stored is None):
        if "objective" in explicit or "delay" in explicit:
            raise UsageError("arguments --objective and --delay need --data FILE")
        args.objective = args.delay = None  # a --config of a --data run, now on a task
        return build_task(args.task or "adding", args.length, task_options), None, None
    if stored is not None:  # the run folder's own copy: the same data bit for bit
        sequence = {k: v for k, v in stored.items() if k not in ("objective", "delay", "window")}
        source = Path(str(stored.get("source") or rf.SEQUENCE)).name
        objective = args.objective if "objective" in explicit else stored.get("objective")
        delay = args.delay if "delay" in explicit else stored.get("delay")
        window = args.length if "length" in explicit else stored.get("window")
        path = args.data
    else:
        path = str(Path(data).expanduser().resolve())
        sequence = load_data(path)
        source, objective, delay, window = Path(path).name, args.objective, args.delay, args.length
    task = sequence_task(sequence, objective, delay, window, source)
    sequence.update(objective=task.objective, delay=task.delay, window=task.window)
    sequence.setdefault("n_symbols", 0)
    sequence.setdefault("alphabet", [])
    return task, path, sequence


# --- weights from a file ---------------------------------------------------------------------
def read_weights(path: str, task):
    """The weights file (ours with its sidecar, or a plain torch.nn state_dict)."""
    from engines.checkpoint import WeightsFileError

    try:
        from engines.checkpoint import read_weights_file
    except ImportError:  # an older engines without plain-torch support
        read_weights_file = None
    try:
        if read_weights_file is not None:
            return read_weights_file(Path(path).expanduser(), output_size=task.output_size)
        from engines.checkpoint import load_weights

        engine = load_weights(Path(path).expanduser())
        return _Loaded(engine.config, engine.state_dict(), ())
    except WeightsFileError as error:
        raise UsageError(f"argument --weights: {error}") from None


@dataclass
class _Loaded:
    config: object
    state: dict
    notes: tuple


def check_weights_fit(path: str, file_config, engine, task) -> None:
    """One line naming what differs between the file's engine and the options'."""
    from engines.weights_fit import config_differences

    differences = config_differences(file_config, engine, task=getattr(task, "title", None))
    if not differences:
        return
    flags = {"engine": "--engine", "hidden": "--hidden", "layers": "--layers"}
    parts = []
    for difference in differences:
        if difference.fix is None:
            parts.append(difference.sentence)
        else:
            option = flags[difference.setting]
            parts.append(
                f"the file has {option} {difference.file_value}, the options "
                f"{difference.setup_value} (give {option} {difference.file_value})"
            )
    raise UsageError(f"argument --weights: {Path(path).name} does not fit: {'; '.join(parts)}")


def identity_differences(stored: dict, planned: dict) -> list[str]:
    """The options that make two runs different runs (not steps, threads or device)."""
    keys = (set(stored) | set(planned)) - set(NOT_IDENTITY)
    return sorted(k for k in keys if stored.get(k) != planned.get(k))


def cli_config(plan: TrainPlan) -> dict:
    """config.json of a new run: everything to run it again, and the commands that do."""
    from playground.run_summary import versions

    out = plan.out.resolve()
    options = plan.options
    digest = None
    if options.get("data") and Path(options["data"]).is_file():
        import hashlib

        digest = hashlib.sha256(Path(options["data"]).read_bytes()).hexdigest()
    weights = None
    if options.get("weights"):
        from playground.run_writer import weights_digest

        weights = {"path": options["weights"], "sha256": weights_digest(Path(options["weights"]))}
    sequence = plan.sequences.get("train")
    return {
        "written_by": WRITTEN_BY,
        "command": shlex.join(plan.argv),
        "argv": plan.argv,
        "rerun": f"{PROG} train --config {shlex.quote(str(out / rf.CONFIG))} --out NEW_FOLDER",
        "resume": f"{PROG} train --resume {shlex.quote(str(out))} --steps MORE_STEPS",
        "options": options,
        "task": plan.task.describe(),
        "engine": plan.engine.to_dict(),
        "training": plan.training.to_dict(),
        "steps": plan.steps,
        "seed": plan.training.seed,
        "device": plan.device,
        "data": {"path": options["data"], "sha256": digest} if options.get("data") else None,
        "weights": weights,
        "sequence": {"train": {k: sequence[k] for k in ("objective", "delay", "window")}}
        if sequence
        else None,
        "threads": plan.threads,
        **versions(),
    }
