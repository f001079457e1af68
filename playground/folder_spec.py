"""The run a run folder holds, as a ``RunSpec``: what the window trains when it opens or
continues the folder, and what ``train --resume`` rebuilds for a folder the app saved, so
both train the very same run."""

from __future__ import annotations

from playground.run_folder import RunFolderContents
from playground.run_spec import RunSpec, UserSequence, merged_settings


def run_spec_of(contents: RunFolderContents) -> RunSpec:
    """The run a folder holds, as the window's trainer builds it: the settings the setup panel
    shows and everything else the folder says about the run (the evaluation interval, the
    task's own options, the held-out and probe sizes, the user's sequence with its training
    window), so continuing it trains the very same run. What cannot be read goes into
    ``contents.notes``."""
    config, options = contents.config, contents.options
    training = config.get("training") or {}
    given = config.get("settings") or options
    settings = merged_settings({k: v for k, v in given.items() if v is not None})
    sequences = contents.sequences
    train = UserSequence.from_plain(sequences.get("train"))
    if train is None and options.get("data"):
        train = _sequence_from_file(options, contents.notes)
    return RunSpec(
        settings=settings,
        sequence=train,
        probe_sequence=UserSequence.from_plain(sequences.get("probe")),
        probe_size=_positive(training.get("probe_size"), 1),
        eval_every=_positive(options.get("eval_every") or training.get("eval_every"), 50),
        task_options=_task_options(options.get("task_option"), contents.notes),
        test_size=_positive(training.get("test_size"), 512),
    )


def _positive(value, default: int) -> int:
    """A positive integer from a folder's JSON, or ``default`` (missing or not usable)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        return default
    return int(value) if value >= 1 else default


def _task_options(items, notes: list[str]) -> dict:
    """``options.task_option`` (``["n_symbols=4"]``, as ``train --task-option`` keeps them)."""
    from playground.option_checks import parse_task_options
    from playground.options import UsageError

    if not items:
        return {}
    if isinstance(items, str):
        items = [items]
    try:
        return parse_task_options([str(item) for item in items])
    except UsageError as error:
        notes.append(f"the run's task options cannot be read ({error}); the task's defaults open")
        return {}


def _sequence_from_file(options: dict, notes: list[str]) -> UserSequence | None:
    """A command-line run trained on ``--data FILE``: read that file again if it is there."""
    from playground.files.sequences import load_sequence

    try:
        data = load_sequence(options["data"])
    except (ValueError, OSError) as error:
        notes.append(f"the run's data file cannot be read ({error}); the settings open without it")
        return None
    return UserSequence(
        values=data.values,
        symbols=data.symbols,
        n_symbols=len(data.alphabet) if data.is_symbolic else 0,
        alphabet=tuple(data.alphabet) if data.is_symbolic else (),
        objective=str(options.get("objective") or "next"),
        delay=int(options.get("delay") or 0),
        source=str(options["data"]),
    )
