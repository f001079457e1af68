"""The ``train`` command: from the command line to a checked ``TrainPlan``, then the run.

Four ways in, one plan:

- options (``--task ... --out RUN``), checked by building the real objects;
- ``--config RUN`` (a previous run's options as defaults; given options win): reruns bit
  for bit, from the folder's own copy of the sequence when it has one;
- ``--weights FILE``: a new run that starts from saved weights (ours, or a plain
  ``torch.nn`` state_dict); engine options not given are read from the file, and options that
  contradict the file are one line naming the difference;
- ``--resume RUN`` (``playground.train_resume``): the folder continues in place.

``--or-resume`` makes a command a scheduler may run twice: when ``--out`` already holds the
same run it is continued (or left alone when finished) instead of refused. Nothing here
writes a file before every option has been checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playground import run_folder as rf
from playground.options import PROG, UsageError, note, train_parser
from playground.train_plan import TrainPlan, build_plan, cli_config, config_options
from playground.train_resume import or_resume, plan_resume


def run(argv: list[str], stream=None) -> int:
    """``seq-playground train ARGV``; the exit status (UsageError for a bad option)."""
    stream = stream if stream is not None else sys.stderr
    explicit = vars(train_parser(None).parse_args(argv))
    plan = plan_resume(argv, explicit) if "resume" in explicit else plan_new(argv, explicit)
    if plan is None:
        return 0
    for line in plan.notes:
        note(line, stream)
    from playground.train_run import run_train

    return run_train(plan, stream)


# --- a new run -------------------------------------------------------------------------------
def plan_new(argv: list[str], explicit: dict) -> TrainPlan | None:
    """Check every option; prepare ``--out``. None when ``--or-resume`` finds it finished."""
    options, stored = {}, None
    if "config" in explicit:
        options, stored = config_options(explicit["config"])
        dests = {action.dest for action in train_parser({})._actions}
        unknown = sorted(set(options) - dests)
        if unknown:
            raise UsageError(
                f"argument --config: {explicit['config']}: unknown options {', '.join(unknown)}"
            )
    args = train_parser(options).parse_args(argv)
    if args.out is None:
        raise UsageError(f"the following arguments are required: --out (see '{PROG} train --help')")
    given = set(explicit) | {key for key, value in options.items() if value is not None}
    plan = build_plan(args, explicit, given, stored)
    plan.argv = [PROG, "train", *argv]
    out = Path(args.out).expanduser()
    found = existing_run(out)
    if found and not args.overwrite:
        if not args.or_resume:
            raise UsageError(
                f"--out {out}: holds a previous run ({', '.join(found)}); "
                "choose another folder or add --overwrite"
            )
        outcome = or_resume(out, plan, argv)
        if outcome != "restart":
            return outcome
    plan.out = prepare_run_folder(out, remove=found)
    plan.config = cli_config(plan)
    return plan


# --- the output folder -----------------------------------------------------------------------
def existing_run(folder: Path) -> list[str]:
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: exists and is not a folder")
    return rf.previous_run_files(folder) if folder.is_dir() else []


def prepare_run_folder(folder: Path, remove: list[str]) -> Path:
    """Create ``folder`` and remove a previous run's files (others stay)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in remove:
            (folder / name).unlink()
    except OSError as error:
        raise UsageError(f"--out {folder}: cannot be prepared: {error.strerror or error}") from None
    return folder
