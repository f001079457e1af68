"""The memory horizon: train every engine at every length of a task and see where each one's
memory gives out (the ``horizon`` command).

Every (length, engine, seed) is one ``seq-playground train`` run with its own run folder,
``OUT/runs/<engine>-L<length>-s<seed>``, so a sweep needs no scheduler of its own:

- ``horizon ... --out DIR`` runs them, ``--jobs N`` at a time (each a ``train`` process, the
  torch threads split among them); the same command again skips the finished runs and
  continues the others from their last checkpoint (Ctrl+C, SIGTERM, a crash);
- ``horizon ... --plan --out DIR`` prints the one ``train`` command per run instead (each may
  run again safely: ``--or-resume``), for a SLURM job array or GNU parallel;
- ``horizon --collect DIR`` gathers the finished runs into ``horizon.csv`` and
  ``horizon.png`` (the final test metric against the length, the memoryless baseline dashed).

The rows are the runs' ``summary.json``; the plot needs Qt, and without it the CSV is still
written. The plan is ``playground.horizon_plan``, running and collecting
``playground.horizon_runs``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playground import horizon_runs
from playground.horizon_plan import prepare_horizon, print_plan
from playground.options import PROG, horizon_parser


def run(argv: list[str], stream=None) -> int:
    """``seq-playground horizon ARGV``; the exit status."""
    stream = stream if stream is not None else sys.stderr
    args = horizon_parser().parse_args(argv)
    if args.collect is not None:
        return horizon_runs.collect_command(Path(args.collect).expanduser(), stream)
    plan = prepare_horizon(args, [PROG, "horizon", *argv])
    if args.plan:
        return print_plan(plan, stream)
    return horizon_runs.run_sweep(plan, stream)
