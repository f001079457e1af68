"""A memory-horizon sweep, planned: every (length, engine, seed) as one ``seq-playground
train`` command with its own run folder ``OUT/runs/<engine>-L<length>-s<seed>``.

``prepare_horizon`` checks every option by building every task, engine config and training
config; ``make_run`` writes a run's ``train`` arguments (every option spelled out, and
``--or-resume`` so the command may run again safely); ``print_plan`` prints them for a job
scheduler. Running them is ``playground.horizon_runs``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from playground import interrupts
from playground import run_folder as rf
from playground.option_checks import (
    build_engine_config,
    build_task,
    build_training_config,
    check_device,
    check_positive,
    parse_list,
    parse_task_options,
)
from playground.options import PROG, UsageError
from playground.run_summary import DONE

SETTINGS_NAME = "horizon.json"
RUNS = "runs"
LOGS = "logs"


@dataclass
class SweepRun:
    """One run of the sweep: its place in the table and the ``train`` command that makes it."""

    engine: str
    length: int
    seed: int
    folder: Path
    argv: list[str]  # train's arguments, without the program name and "train"

    @property
    def name(self) -> str:
        return self.folder.name

    def command(self) -> str:
        return shlex.join([PROG, "train", *self.argv])


@dataclass
class HorizonPlan:
    task: str
    task_options: dict
    lengths: list[int]
    engines: list[str]
    seeds: list[int]
    steps: int
    options: dict  # the model and training options every run shares
    out: Path
    threads: int | None = None
    jobs: int = 1
    overwrite: bool = False
    argv: list[str] = field(default_factory=list)
    runs: list[SweepRun] = field(default_factory=list)

    def settings(self) -> dict:
        return {
            "format": "sequence-memory-playground/horizon",
            "task": self.task,
            "task_options": self.task_options,
            "lengths": self.lengths,
            "engines": self.engines,
            "seeds": self.seeds,
            "steps": self.steps,
            "options": self.options,
            "threads": self.threads,
            "jobs": self.jobs,
            "argv": self.argv,
            "runs": [str(run.folder.relative_to(self.out)) for run in self.runs],
        }


def prepare_horizon(args, argv: list[str]) -> HorizonPlan:
    """Check every option by building every task, engine config and training config."""
    check_positive("--steps", args.steps)
    check_positive("--threads", args.threads)
    check_positive("--jobs", args.jobs)
    task_options = parse_task_options(args.task_option)
    lengths = parse_list("--lengths", args.lengths, int)
    engines = [e.lower() for e in parse_list("--engines", args.engines)]
    seeds = parse_list("--seeds", args.seeds, int)
    tasks = []
    for length in lengths:
        try:
            tasks.append(build_task(args.task, length, task_options))
        except UsageError as error:
            raise UsageError(str(error).replace("--length", "--lengths", 1)) from None
    for engine in engines:
        try:
            build_engine_config(
                tasks[0], engine, args.hidden, args.layers, args.init, args.forget_bias
            )
        except UsageError as error:
            raise UsageError(str(error).replace("--engine", "--engines", 1)) from None
    for seed in seeds:
        try:
            build_training_config(
                args.optimizer, args.lr, args.batch, args.clip, seed, args.eval_every
            )
        except UsageError as error:
            raise UsageError(str(error).replace("--seed", "--seeds", 1)) from None
    check_device(args.device)
    if args.out is None:
        raise UsageError(
            f"the following arguments are required: --out (or --collect DIR) "
            f"(see '{PROG} horizon --help')"
        )
    out = Path(args.out).expanduser().absolute()  # the commands may run in another folder
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    options = {
        "hidden": args.hidden,
        "layers": args.layers,
        "device": str(args.device).strip().lower(),
        "optimizer": str(args.optimizer).strip().lower(),
        "lr": args.lr,
        "batch": args.batch,
        "clip": args.clip,
        "init": str(args.init).strip().lower(),
        "forget_bias": args.forget_bias,
        "eval_every": args.eval_every,
    }
    plan = HorizonPlan(
        task=args.task,
        task_options=task_options,
        lengths=lengths,
        engines=engines,
        seeds=seeds,
        steps=args.steps,
        options=options,
        out=out,
        threads=args.threads,
        jobs=args.jobs,
        overwrite=args.overwrite,
        argv=argv,
    )
    _join_the_sweep_in_folder(plan)
    plan.runs = [
        make_run(plan, engine, length, seed, args.task_option or [])
        for length in plan.lengths
        for engine in plan.engines
        for seed in plan.seeds
    ]
    return plan


def _join_the_sweep_in_folder(plan: HorizonPlan) -> None:
    """A folder that already holds a sweep of the same task and options: this one joins it
    (its engines, lengths and seeds become the union; the new ``--steps`` hold for all), so
    its table and plot keep every run and finished ones are not trained again. A sweep with
    other settings and no run in common is refused: its description would be overwritten
    and its table lost (``--overwrite`` replaces it; runs in common are refused by
    ``run_state`` with the options that differ)."""
    path = plan.out / SETTINGS_NAME
    if plan.overwrite or not path.is_file():
        return
    try:
        saved = rf.read_json(path)
    except rf.RunFolderError:
        return  # unreadable: each run folder is still checked on its own (run_state)
    if saved.get("format") != plan.settings()["format"]:
        return

    def comparable(options) -> dict:  # another device trains the same run
        return {k: v for k, v in (options or {}).items() if k != "device"}

    ours, theirs = comparable(plan.options), comparable(saved.get("options"))
    differing = [
        name
        for name, mine, other in (
            ("task", plan.task, saved.get("task")),
            ("task options", plan.task_options, saved.get("task_options") or {}),
        )
        if mine != other
    ]
    differing += [
        f"--{key.replace('_', '-')}" for key in sorted(ours) if ours[key] != theirs.get(key)
    ]
    if differing:
        mine = {f"{e}-L{n}-s{s}" for e in plan.engines for n in plan.lengths for s in plan.seeds}
        theirs_runs = {Path(str(r)).name for r in saved.get("runs") or ()}
        if mine & theirs_runs:
            return  # run_state names the options that differ, run by run
        raise UsageError(
            f"--out {plan.out}: holds another sweep (other {', '.join(differing[:4])}); "
            "choose another folder, or add --overwrite to replace it"
        )

    def joined(old, new, key=None) -> list:
        old = [item for item in old or () if isinstance(item, type(new[0]))]
        union = list(dict.fromkeys([*old, *new]))
        return sorted(union, key=key) if key else union

    plan.lengths = joined(saved.get("lengths"), plan.lengths, key=int)
    plan.engines = joined(saved.get("engines"), plan.engines)
    plan.seeds = joined(saved.get("seeds"), plan.seeds, key=int)


def make_run(plan: HorizonPlan, engine: str, length: int, seed: int, task_items) -> SweepRun:
    folder = plan.out / RUNS / f"{engine}-L{length}-s{seed}"
    o = plan.options
    argv = ["--task", plan.task, "--length", str(length)]
    for item in task_items:
        argv += ["--task-option", item]
    argv += ["--engine", engine, "--seed", str(seed), "--steps", str(plan.steps)]
    argv += ["--eval-every", str(o["eval_every"]), "--hidden", str(o["hidden"])]
    argv += ["--layers", str(o["layers"]), "--device", o["device"], "--optimizer", o["optimizer"]]
    argv += ["--lr", repr(float(o["lr"])), "--batch", str(o["batch"]), "--clip", repr(o["clip"])]
    argv += ["--init", o["init"], "--forget-bias", repr(float(o["forget_bias"]))]
    argv += ["--out", str(folder), "--overwrite" if plan.overwrite else "--or-resume"]
    return SweepRun(engine, length, seed, folder, argv)


def with_threads(run: SweepRun, threads: int | None) -> list[str]:
    """The run's ``train`` arguments with ``--threads`` when there is a number to give."""
    return [*run.argv, "--threads", str(threads)] if threads is not None else list(run.argv)


# --- which runs are left -------------------------------------------------------------------
def run_state(sweep_run: SweepRun, steps: int) -> str:
    """ "new" (no folder yet), "finished" (its summary says it is done at ``steps``, or it
    diverged) or "partial" (to continue). UsageError when the folder holds another run."""
    from playground.options import train_parser
    from playground.train_plan import build_plan, identity_differences

    folder = sweep_run.folder
    if not (folder / rf.CONFIG).is_file():
        return "new"
    try:
        stored = rf.read_config(folder)["options"]
    except rf.RunFolderError:
        return "partial"
    args = train_parser({}).parse_args(sweep_run.argv)
    planned = build_plan(args, {}, set()).options
    differing = identity_differences(stored, planned)
    if differing:
        raise UsageError(
            f"--out {folder.parent.parent}: {RUNS}/{folder.name} holds a run with other "
            f"options ({', '.join(differing[:4])}); choose another folder or add --overwrite"
        )
    try:
        summary = rf.read_json(folder / rf.SUMMARY)
    except rf.RunFolderError:
        return "partial"
    status = summary.get("status")
    if status == "diverged" or (status in DONE and summary.get("steps") == steps):
        return "finished"
    return "partial"


def write_settings(plan: HorizonPlan) -> None:
    from playground.run_writer import writing

    path = plan.out / SETTINGS_NAME
    try:
        (plan.out / RUNS).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"--out {plan.out}: cannot be created: {error.strerror or error}"
        ) from None
    from playground.run_summary import versions

    with writing(path):
        rf.write_json(path, {**plan.settings(), **versions()})


def print_plan(plan: HorizonPlan, stream) -> int:
    """One ``train`` command per run on stdout (nothing else there), a hint on stderr. A
    folder holding a run with other options is refused before anything is printed."""
    for sweep_run in plan.runs:
        run_state(sweep_run, plan.steps)
    write_settings(plan)
    for sweep_run in plan.runs:
        print(shlex.join([PROG, "train", *with_threads(sweep_run, plan.threads)]), flush=True)
    print(
        f"{len(plan.runs)} runs planned in {plan.out / RUNS}; each command may run again "
        f"safely. When they are done: {PROG} horizon --collect {shlex.quote(str(plan.out))}",
        file=stream,
        flush=True,
    )
    return 0 if not interrupts.requested() else interrupts.exit_code()
