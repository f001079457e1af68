"""``train --resume RUN_DIR --steps M``: continue a run folder in place, exactly.

The run keeps its own options (from ``config.json``); only ``--steps``, ``--threads`` and
``--device`` may be given. The weights and the training state (optimizer, batch generator,
step, learning rate, clipping) are restored, so on the CPU the result equals a run trained
straight to M bit for bit: ``metrics.csv`` is continued from the checkpoint (rows past it,
written after the last checkpoint of a killed run, are dropped, and an evaluation made only
because the run stopped there is dropped too: a straight run has none there), and so is the
frame history. Folders the app saved (``"written_by": "app"``) are rebuilt the app's way
(``playground.run_spec``), their own sequence included.

A version-1 folder has no training state: it continues from its weights with a fresh
optimizer, and says so in one line. A folder that is no run, has no weights, a damaged
training state, or a version this program does not read is refused with one line (exit 2).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from playground import run_folder as rf
from playground.option_checks import check_device
from playground.options import PROG, UsageError, resume_parser, train_parser
from playground.train_plan import WRITTEN_BY, Start, TrainPlan, build_plan, identity_differences

ALLOWED = ("resume", "steps", "threads", "device")


def plan_resume(argv: list[str], explicit: dict, command: list[str] | None = None):
    """A TrainPlan that continues the folder, or None when it is finished at that step."""
    others = [key for key in explicit if key not in ALLOWED]
    if others:
        flags = ", ".join("--" + key.replace("_", "-") for key in others)
        raise UsageError(
            f"argument --resume: the run keeps its own options; only --steps, --threads and "
            f"--device may be given with it (got {flags}). To change options, start a new "
            f"run: {PROG} train --config RUN_DIR ... --out NEW_DIR"
        )
    args = resume_parser().parse_args(argv)
    folder = Path(args.resume).expanduser()
    contents = _open(folder)
    app = contents.config.get("written_by") == "app"
    summary = contents.summary or {}
    if summary.get("status") == "diverged":
        raise UsageError(
            f"argument --resume: {folder}: the run diverged at step {summary.get('steps')} "
            f"({summary.get('message') or 'no message'}); continuing it would diverge again. "
            f"Start a new run with a lower --lr: {PROG} train --config {folder} --lr ... "
            "--out NEW_DIR"
        )
    plan = _app_plan(contents, args) if app else _cli_plan(contents, args)
    start = _start(contents, plan)
    if plan.steps < start.step:
        raise UsageError(
            f"argument --steps: {folder} is at step {start.step} already; give --steps "
            f"{start.step} or more"
        )
    if plan.steps == start.step and summary.get("status") == "finished":
        print(f"{folder}: already finished at step {start.step}", file=sys.stderr, flush=True)
        return None
    plan.out = folder
    plan.start = start
    plan.argv = list(command or [PROG, "train", *argv])
    plan.config = _continued_config(contents, plan, start, app, args.device)
    return plan


def _open(folder: Path) -> rf.RunFolderContents:
    if not folder.exists():
        raise UsageError(f"argument --resume: {folder}: no such folder")
    if not folder.is_dir():
        raise UsageError(f"argument --resume: {folder}: is not a folder")
    if not (folder / rf.CONFIG).exists():
        raise UsageError(f"argument --resume: {folder} is not a run folder (it has no {rf.CONFIG})")
    try:
        return rf.open_run_folder(folder)
    except rf.RunFolderError as error:
        raise UsageError(f"argument --resume: {error}") from None


def _problem(contents: rf.RunFolderContents, name: str) -> str | None:
    prefix = str(contents.path / name)
    return next((p for p in contents.problems if p.startswith(prefix)), None)


# --- the run's objects -----------------------------------------------------------------------
def _cli_plan(contents: rf.RunFolderContents, args) -> TrainPlan:
    """A folder of ``seq-playground train``: its options through the same checks as new."""
    options = dict(contents.options)
    steps = args.steps if args.steps is not None else options.get("steps")
    if steps is None:
        raise UsageError("argument --steps: give the step to train to")
    dests = {action.dest for action in train_parser({})._actions}
    cli = train_parser({k: v for k, v in options.items() if k in dests}).parse_args([])
    cli.steps = steps
    cli.weights = None  # the folder's own weights are the start, not the file it began from
    if args.threads is not None:
        cli.threads = args.threads
    if args.device is not None:
        cli.device = args.device
    stored = contents.sequences.get("train")
    problem = _problem(contents, rf.SEQUENCE)
    if problem and options.get("data") is None:
        raise UsageError(f"argument --resume: {problem}")
    if stored is None and options.get("data"):
        _check_data_file(contents, options["data"])
    given = {key for key, value in options.items() if value is not None}
    plan = build_plan(cli, {}, given, stored)
    if stored is not None:
        plan.sequences = {}  # already in the folder: left as it is
    return plan


def _check_data_file(contents: rf.RunFolderContents, path: str) -> None:
    """A version-1 ``--data`` run keeps no copy of its sequence: the file must be unchanged."""
    import hashlib

    if not Path(path).is_file():
        raise UsageError(
            f"argument --resume: {contents.path} trained on {path}, which is no longer there "
            "(the folder keeps no copy of it)"
        )
    expected = (contents.config.get("data") or {}).get("sha256")
    if expected and hashlib.sha256(Path(path).read_bytes()).hexdigest() != expected:
        raise UsageError(
            f"argument --resume: {path} changed since {contents.path} began training on it"
        )


def _app_plan(contents: rf.RunFolderContents, args) -> TrainPlan:
    """A folder the app saved: rebuilt the way the app's trainer builds it."""
    from dataclasses import replace

    from playground.folder_spec import run_spec_of

    options = contents.options
    for name in (rf.SEQUENCE,):
        problem = _problem(contents, name)
        if problem:
            raise UsageError(f"argument --resume: {problem}")
    known = len(contents.notes)
    spec = run_spec_of(contents)  # the same run the window continues: task options included
    if len(contents.notes) > known:
        raise UsageError(f"argument --resume: {contents.notes[known]}")
    settings = spec.settings
    if args.device is not None:
        settings = {**settings, "device": args.device}
        spec = replace(spec, settings=settings)
    device = check_device(settings["device"])
    try:
        task = spec.validate()
        engine, training_config = spec.engine_config(task), spec.training_config()
        probe = spec.build_probe(task)
    except ValueError as error:
        raise UsageError(f"argument --resume: {contents.path / rf.CONFIG}: {error}") from None
    if args.steps is None:
        raise UsageError(
            f"argument --steps: give the step to train {contents.path} to (a run saved by the "
            "app has no step target)"
        )
    return TrainPlan(
        task=task,
        engine=engine,
        training=training_config,
        device=device,
        steps=args.steps,
        out=None,
        options=dict(options),
        threads=args.threads,
        probe_batch=probe,
    )


# --- where it starts -------------------------------------------------------------------------
def _start(contents: rf.RunFolderContents, plan: TrainPlan) -> Start:
    folder = contents.path
    problem = _problem(contents, rf.METRICS)
    if problem:
        raise UsageError(f"argument --resume: {problem}")
    state = contents.training_state
    problem = _problem(contents, rf.TRAINING_STATE)
    if problem and (folder / rf.TRAINING_STATE).exists():
        raise UsageError(
            f"argument --resume: {problem} (delete it to continue from the weights with a "
            "fresh optimizer)"
        )
    weights = None
    if contents.weights is None:
        if contents.step > 0:
            why = _problem(contents, rf.WEIGHTS) or f"{folder / rf.WEIGHTS}: is missing"
            raise UsageError(
                f"argument --resume: {folder} has no usable weights ({why}), so it cannot be "
                f"continued; start it again: {PROG} train --config {folder} --out NEW_DIR"
            )
        state = None  # stopped (or its first save failed) before any checkpoint
        plan.notes.append(f"{folder} holds no checkpoint yet: training starts at step 0")
    else:
        weights = _weights(contents, plan)
        if state is not None:
            _check_digest(contents, state)
        else:
            plan.notes.append(
                f"{folder} has no training state (a version-{contents.version} run folder): it "
                f"continues from its weights at step {contents.step} with a fresh optimizer and "
                "batches, so it will not equal a run trained straight on"
            )
    step = int(state["step"]) if state is not None else contents.step if weights else 0
    every = plan.training.eval_every
    rows = []
    for row in contents.metrics.rows():
        if row[0] > step:
            break
        if row[0] == step and step % every:  # evaluated only because the run stopped there
            row = (row[0], row[1], None, None, row[4])
        rows.append(row)
    frames = []
    problem = _problem(contents, rf.FRAMES)
    if problem:
        plan.notes.append(f"{problem}: the frame history starts again")
    app = contents.config.get("written_by") == "app"
    for frame, gradients in contents.frames:
        if frame.step <= step and (app or frame.step % every == 0):
            frames.append((frame, gradients))
    summary = contents.summary or {}
    from playground.run_summary import number

    seconds, train_seconds = number(summary.get("seconds")), number(summary.get("train_seconds"))
    return Start(
        step=step,
        weights=weights,
        training_state=state,
        metrics_rows=rows,
        frames=frames,
        seconds=seconds if seconds == seconds else 0.0,
        train_seconds=train_seconds if train_seconds == train_seconds else 0.0,
    )


def _weights(contents: rf.RunFolderContents, plan: TrainPlan) -> dict:
    from engines.checkpoint import WeightsFileError, read_weights_file

    try:
        loaded = read_weights_file(contents.weights)
    except WeightsFileError as error:
        raise UsageError(f"argument --resume: {error}") from None
    shape = ("kind", "input_size", "hidden_size", "output_size", "num_layers")
    have = {k: getattr(loaded.config, k) for k in shape}
    want = {k: getattr(plan.engine, k) for k in shape}
    if have != want:
        differing = ", ".join(
            f"{k} {have[k]} (config: {want[k]})" for k in shape if have[k] != want[k]
        )
        raise UsageError(
            f"argument --resume: {contents.weights} does not fit {rf.CONFIG}: {differing}"
        )
    return loaded.state


def _check_digest(contents: rf.RunFolderContents, state: dict) -> None:
    from playground.run_writer import weights_digest

    expected = state.get("weights_sha256")
    if expected and weights_digest(contents.weights) != expected:
        raise UsageError(
            f"argument --resume: {contents.weights} and {rf.TRAINING_STATE} are from different "
            "checkpoints (the run was killed while saving); delete "
            f"{contents.path / rf.TRAINING_STATE} to continue from the weights with a fresh "
            "optimizer"
        )


def _continued_config(contents, plan: TrainPlan, start: Start, app: bool, device) -> dict:
    """config.json of the continued run: as it was, with the new step target (``--config``
    of it then trains straight there) and a line in ``resumed`` for this continuation."""
    config = {k: v for k, v in contents.config.items() if k not in ("format", "version")}
    options = dict(config["options"])
    options["steps"] = plan.steps
    if plan.threads is not None:
        options["threads"] = plan.threads
    if device is not None:
        options["device"] = str(device).strip().lower()
        if app and isinstance(config.get("settings"), dict):
            config["settings"] = {**config["settings"], "device": options["device"]}
    config["options"] = options
    if app:
        config["continued_by"] = WRITTEN_BY
    else:
        config.setdefault("written_by", WRITTEN_BY)
        config["steps"] = plan.steps
    config["resumed"] = [
        *(config.get("resumed") or []),
        {
            "from_step": start.step,
            "to_step": plan.steps,
            "command": shlex.join(plan.argv),
            "fresh_optimizer": start.training_state is None,
        },
    ]
    return config


def or_resume(out: Path, plan: TrainPlan, argv: list[str]):
    """``--or-resume`` on a folder holding a run: None when it is this run and finished (do
    nothing), a resume plan when it can continue, "restart" when it is this run but holds
    nothing to continue from; UsageError when it holds another run."""
    from playground.run_summary import DONE

    try:
        config = rf.read_config(out)
    except rf.RunFolderError:
        return "restart"  # a start that never wrote its config: nothing to keep
    differing = identity_differences(config["options"], plan.options)
    if differing:
        shown = ", ".join(
            f"{k} {config['options'].get(k)!r} there, {plan.options.get(k)!r} here"
            for k in differing[:3]
        )
        raise UsageError(
            f"--out {out}: holds a different run ({shown}); choose another folder or add "
            "--overwrite"
        )
    try:
        summary = rf.read_json(out / rf.SUMMARY)
    except rf.RunFolderError:
        summary = {}
    steps, status = summary.get("steps"), summary.get("status")
    if status == "diverged" or (status in DONE and steps == plan.steps):
        print(f"{out}: already {summary['status']} at step {steps}", file=sys.stderr, flush=True)
        return None
    if not (out / rf.WEIGHTS).is_file() or not (out / rf.WEIGHTS_SIDECAR).is_file():
        return "restart"
    resume_argv = ["--resume", str(out), "--steps", str(plan.steps)]
    if plan.threads is not None:
        resume_argv += ["--threads", str(plan.threads)]
    return plan_resume(resume_argv, {"resume": str(out)}, command=[PROG, "train", *argv])
