"""Running a memory-horizon sweep and gathering its table.

``run_sweep`` runs the sweep's ``train`` commands: one at a time in this process
(``--jobs 1``: no second torch import per run), or N at a time as ``python -m playground
train`` processes with the torch threads split among them; each run's output goes to
``OUT/logs/<run>.log``. Finished runs are skipped (their summary says so), others continue
(``train --or-resume``). Ctrl+C or SIGTERM stops the sweep: running jobs are sent SIGTERM,
write their folders and end; the same command continues later. The processes are
``TrainJobs``, which never blocks: the app's horizon dialog drives the same pool from a timer.

``collect`` turns the finished run folders into the rows of ``horizon.csv`` (in the plan's
order: length, engine, seed) and draws ``horizon.png``; the same code serves a sweep run here
and one whose commands a job scheduler ran (``horizon --collect DIR``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from playground import interrupts
from playground import run_folder as rf
from playground.horizon_plan import (
    LOGS,
    RUNS,
    SETTINGS_NAME,
    HorizonPlan,
    SweepRun,
    run_state,
    with_threads,
    write_settings,
)
from playground.options import PROG, UsageError
from playground.run_summary import DONE, is_solved, number

CSV_NAME = "horizon.csv"
PNG_NAME = "horizon.png"
COLUMNS = (
    "task",
    "engine",
    "length",
    "seed",
    "steps",
    "final_test_loss",
    "final_test_metric",
    "baseline_metric",
    "solved",
    "seconds",
    "status",
)
POLL_S = 0.1


# --- running -------------------------------------------------------------------------------
def run_sweep(plan: HorizonPlan, stream) -> int:
    """Run what is left of the sweep; write the table and the plot. 0 done, 1 a run failed,
    130/143 interrupted (the same command continues)."""
    pending = prepare_sweep(plan, stream)
    counter = _Counter(plan, stream, done=len(plan.runs) - len(pending))
    if plan.jobs == 1:
        failed = _run_here(plan, pending, counter, stream)
    else:
        failed = _run_in_processes(plan, pending, counter, stream)
    rows, missing = collect(plan.out, plan)
    write_results(plan.out, rows, stream)
    if interrupts.requested():
        print(
            f"{PROG}: interrupted after {len(rows)} of {len(plan.runs)} runs; run the same "
            "command again to continue",
            file=stream,
            flush=True,
        )
        return interrupts.exit_code()
    for name, line in failed:
        print(f"{PROG}: error: run {name} failed: {line}", file=stream, flush=True)
    return 1 if failed or missing else 0


def prepare_sweep(plan: HorizonPlan, stream) -> list[SweepRun]:
    """Write ``horizon.json`` and the logs folder; the runs left to train, in the plan's
    order (finished ones are skipped, and said so). UsageError when ``plan.out`` holds a run
    with other options. Shared by ``run_sweep`` and the app's horizon dialog."""
    states = {r.name: ("new" if plan.overwrite else run_state(r, plan.steps)) for r in plan.runs}
    write_settings(plan)
    for name in (CSV_NAME, PNG_NAME) if plan.overwrite else ():
        (plan.out / name).unlink(missing_ok=True)
    (plan.out / LOGS).mkdir(exist_ok=True)
    pending = [r for r in plan.runs if states[r.name] != "finished"]
    skipped = len(plan.runs) - len(pending)
    if skipped:
        print(
            f"{skipped} of {len(plan.runs)} runs already finished; {len(pending)} to go",
            file=stream,
            flush=True,
        )
    return pending


class _Counter:
    """``[k/total] <the run's result>`` lines as runs end."""

    def __init__(self, plan: HorizonPlan, stream, done: int) -> None:
        self.plan, self.stream, self.done = plan, stream, done

    def finished(self, sweep_run: SweepRun) -> None:
        row = read_row(sweep_run.folder)
        if row is None:
            return
        self.done += 1
        print(f"[{self.done}/{len(self.plan.runs)}] {row_line(row)}", file=self.stream, flush=True)


def train_once(sweep_run: SweepRun, threads: int | None, log) -> int:
    """One run in this process (``--jobs 1``): the same ``train`` command, output to ``log``."""
    from playground.train_command import run

    try:
        return run(with_threads(sweep_run, threads), stream=log)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=log, flush=True)
        return 2


def _run_here(plan: HorizonPlan, pending: list[SweepRun], counter, stream) -> list:
    failed = []
    for sweep_run in pending:
        if interrupts.requested():
            break
        log = log_path(plan, sweep_run)
        try:
            with open(log, "a", encoding="utf-8") as handle:
                code = train_once(sweep_run, plan.threads, handle)
        except KeyboardInterrupt:  # without the handlers (a script): stop like Ctrl+C
            interrupts.request(signal.SIGINT)
            break
        if code in (0, 1) and read_row(sweep_run.folder) is not None:
            counter.finished(sweep_run)
        elif not interrupts.requested():
            failed.append((sweep_run.name, _last_line(log, code)))
    return failed


def _run_in_processes(plan: HorizonPlan, pending: list[SweepRun], counter, stream) -> list:
    total = plan.threads or os.cpu_count() or 1
    jobs = TrainJobs(plan, pending, plan.jobs, threads=max(1, total // plan.jobs))
    try:
        while not jobs.done:
            if interrupts.requested():
                jobs.stop()  # each writes its folder and ends (143)
            for sweep_run, finished in jobs.poll():
                if finished:
                    counter.finished(sweep_run)
            time.sleep(POLL_S)
    finally:
        jobs.close()  # only on an error here: never leave a job behind
    return jobs.failed


def log_path(plan: HorizonPlan, sweep_run: SweepRun) -> Path:
    return plan.out / LOGS / f"{sweep_run.name}.log"


class TrainJobs:
    """The pending runs as ``python -m playground train`` processes, ``jobs`` at a time, each
    writing to its log. ``poll()`` never blocks, so the command line drives it in a loop and
    the app's horizon dialog from a timer; ``stop()`` sends SIGTERM (each run then writes a
    resumable folder and ends with 143) and, with ``kill_after`` seconds given, ``poll()``
    kills what has not ended by then (a frozen process never answers SIGTERM)."""

    def __init__(
        self,
        plan: HorizonPlan,
        pending: list[SweepRun],
        jobs: int,
        threads: int | None,
        kill_after: float | None = None,
    ) -> None:
        self.plan, self.jobs, self.threads, self.kill_after = plan, jobs, threads, kill_after
        self.queue = list(pending)
        self.running: dict[subprocess.Popen, SweepRun] = {}
        self.started: dict[str, float] = {}  # run name -> time.monotonic() at its start
        self.failed: list[tuple[str, str]] = []
        self.stopped_at: float | None = None
        self.env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])  # where ``playground`` can be imported
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, self.env.get("PYTHONPATH")]))

    @property
    def done(self) -> bool:
        return not self.queue and not self.running

    def pids(self) -> list[int]:
        return [process.pid for process in self.running]

    def poll(self) -> list[tuple[SweepRun, bool]]:
        """Start runs while there is room; the runs that ended since, each with whether it
        finished (its row is readable)."""
        while self.queue and len(self.running) < self.jobs and self.stopped_at is None:
            sweep_run = self.queue.pop(0)
            with open(log_path(self.plan, sweep_run), "a", encoding="utf-8") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "playground", "train"]
                    + with_threads(sweep_run, self.threads),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=self.env,
                )
            self.running[process] = sweep_run
            self.started[sweep_run.name] = time.monotonic()
        ended = []
        for process in [p for p in self.running if p.poll() is not None]:
            sweep_run = self.running.pop(process)
            code = process.returncode
            finished = code in (0, 1) and read_row(sweep_run.folder) is not None
            if not finished and self.stopped_at is None:
                self.failed.append(
                    (sweep_run.name, _last_line(log_path(self.plan, sweep_run), code))
                )
            ended.append((sweep_run, finished))
        late = self.stopped_at is not None and self.kill_after is not None
        if late and time.monotonic() - self.stopped_at > self.kill_after:
            for process in self.running:
                _signal(process, signal.SIGKILL)
        return ended

    def stop(self) -> None:
        """Start no more runs; SIGTERM to the running ones (once)."""
        self.queue.clear()
        if self.stopped_at is None:
            self.stopped_at = time.monotonic()
            for process in self.running:
                _signal(process, signal.SIGTERM)

    def close(self, timeout: float = 30.0) -> None:
        """Stop and wait for every process (SIGKILL after ``timeout``); blocks."""
        self.stop()
        for process in list(self.running):
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            del self.running[process]


def _signal(process: subprocess.Popen, signum: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)


def _last_line(path: Path, code: int) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError:
        lines = []
    return f"exit {code}: {lines[-1] if lines else 'no output'} (log: {path})"


# --- the table -----------------------------------------------------------------------------
def read_row(folder: Path) -> dict | None:
    """The run's row of the table, or None while it is not done."""
    try:
        summary = rf.read_json(folder / rf.SUMMARY)
        config = rf.read_config(folder)
    except rf.RunFolderError:
        return None
    if summary.get("status") not in DONE:
        return None
    metric = number(summary.get("final_test_metric"))
    baseline = number(summary.get("baseline_metric"))
    higher = bool(summary.get("higher_is_better"))
    return {
        "task": summary.get("task"),
        "engine": summary.get("engine"),
        "length": int(summary.get("length")),
        "seed": int(config.get("seed", config["options"].get("seed", 0))),
        "steps": int(summary.get("steps")),
        "final_test_loss": number(summary.get("final_test_loss")),
        "final_test_metric": metric,
        "baseline_metric": baseline,
        "solved": is_solved(metric, baseline, higher),
        "seconds": round(number(summary.get("seconds")), 2),
        "status": summary.get("status"),
        "metric": summary.get("metric"),
        "higher_is_better": higher,
        "length_label": summary.get("length_label", "length"),
        "title": summary.get("title") or str(summary.get("task")),
    }


def collect(out: Path, plan: HorizonPlan | None = None) -> tuple[list[dict], list[str]]:
    """(rows of the finished runs, names of the runs not finished), in the plan's order (the
    plan in ``horizon.json`` when none is given, else the folders sorted)."""
    names = [r.name for r in plan.runs] if plan is not None else _planned_names(out)
    rows, missing = [], []
    for name in names:
        row = read_row(out / RUNS / name)
        if row is None:
            missing.append(name)
        else:
            rows.append(row)
    if plan is None and not (out / SETTINGS_NAME).is_file():
        rows.sort(key=lambda r: (r["length"], r["engine"], r["seed"]))
    return rows, missing


def _planned_names(out: Path) -> list[str]:
    try:
        runs = rf.read_json(out / SETTINGS_NAME).get("runs")
    except rf.RunFolderError:
        runs = None
    if isinstance(runs, list) and all(isinstance(r, str) for r in runs):
        return [Path(r).name for r in runs]
    folder = out / RUNS
    return (
        sorted(p.name for p in folder.iterdir() if rf.is_run_folder(p)) if folder.is_dir() else []
    )


def write_table(out: Path, rows: list[dict], stream) -> None:
    from playground.run_writer import writing

    path = out / CSV_NAME
    text = rf.csv_text(COLUMNS, ([row[c] for c in COLUMNS] for row in rows))
    with writing(path):
        from engines.atomic_files import atomic_write_text

        atomic_write_text(path, text)
    print(f"wrote {path} ({len(rows)} runs)", file=stream, flush=True)


def write_results(out: Path, rows: list[dict], stream) -> None:
    """``horizon.csv`` and, when there are rows (and Qt), ``horizon.png``."""
    write_table(out, rows, stream)
    if rows:
        plot(out, rows, stream)


def collect_command(out: Path, stream) -> int:
    """``horizon --collect DIR``: 0 when every planned run is finished, 1 otherwise."""
    if not out.is_dir():
        raise UsageError(f"argument --collect: {out}: no such folder")
    if not (out / RUNS).is_dir():
        raise UsageError(f"argument --collect: {out} holds no sweep ({RUNS}/ is missing)")
    rows, missing = collect(out)
    write_results(out, rows, stream)
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        print(f"{len(missing)} runs not finished yet: {shown}", file=stream, flush=True)
        return 1
    return 0


def row_line(row: dict) -> str:
    return (
        f"{row['engine']} {row['length_label']} {row['length']} seed {row['seed']}: "
        f"test {row['metric']} {row['final_test_metric']:.4g} "
        f"(baseline {row['baseline_metric']:.4g}){', solved' if row['solved'] else ''}"
        f"{'' if row['status'] == 'finished' else ', ' + row['status']}, {row['seconds']:.1f} s"
    )


def plot(out: Path, rows: list[dict], stream) -> None:
    from playground.horizon_plot import QtMissing, render_horizon

    first = rows[0]
    try:
        settings = rf.read_json(out / SETTINGS_NAME)
    except rf.RunFolderError:
        settings = {}
    options = settings.get("options") or {}
    seeds = sorted({r["seed"] for r in rows})
    steps = max(r["steps"] for r in rows)
    subtitle = f"{len(seeds)} seeds (line: mean)" if len(seeds) > 1 else "1 seed"
    if options:
        subtitle = (
            f"hidden {options.get('hidden')}, batch {options.get('batch')}, "
            f"{options.get('optimizer')} lr {options.get('lr'):g}, clip {options.get('clip'):g}, "
            + subtitle
        )
    title = (
        f"{first['title']}: final test {first['metric']} after {steps} steps<br>"
        f"<span style='font-size:10pt'>{subtitle}</span>"
    )
    try:
        path = render_horizon(rows, out / PNG_NAME, title=title)
    except QtMissing as error:
        print(f"{PNG_NAME} skipped: {error}", file=stream, flush=True)
        return
    print(f"wrote {path}", file=stream, flush=True)
