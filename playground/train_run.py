"""The ``train`` command's loop: iterate ``engines.training.run_training`` and keep the run
folder a folder ``train --resume`` can continue at every moment.

- ``metrics.csv`` is rewritten every few seconds; the checkpoint (weights, sidecar, training
  state) every ``CHECKPOINT_INTERVAL`` seconds and at the end, with the frames beside it
  (``playground.run_writer`` says how a full disk cannot break that);
- probe frames are recorded at every evaluation (every ``--eval-every`` steps: a schedule by
  step, not by time, so a continued run records the frames a straight one would), kept in a
  ``FrameHistory`` of at most 240 frames and 48 MiB, thinned evenly as in the app; the
  final step's frame is saved too;
- Ctrl+C and SIGTERM (``playground.interrupts``) stop the loop between two steps; the folder
  is then written and the exit status is 130 or 143. A write that fails stops the run with
  one line naming the file (exit 1); a diverging run exits 1 with the engine's advice, and so
  does running out of memory (building the run, a step, an evaluation or a probe), with the
  advice to try a smaller batch, hidden size or sequence.
"""

from __future__ import annotations

import math
import signal
import sys
import time

from playground import interrupts
from playground import run_folder as rf
from playground.options import PROG, UsageError, fail
from playground.run_summary import result_line, summary
from playground.run_writer import (
    FolderBusy,
    FolderLock,
    MetricsFile,
    RunWriteError,
    remove_stale_temporaries,
    write_checkpoint,
    write_config,
    write_frames,
    write_sequence,
    write_summary,
)

CHECKPOINT_INTERVAL = 60.0  # seconds between checkpoints while training
FRAME_CAPACITY = 240
FRAME_BYTES = 48 * 2**20


class StepSchedule:
    """``engines.training.run_training``'s probe schedule, by step: a frame whenever the step
    is a multiple of ``every``. The same steps on every run of the same options, resumed or
    not; it costs a probe per evaluation (well under 1 % of training at --eval-every 50)."""

    def __init__(self, trainer, every: int) -> None:
        self.trainer = trainer
        self.every = max(1, int(every))

    def due(self, now: float) -> bool:
        return self.trainer.step % self.every == 0

    def record(self, start: float, end: float) -> None:
        pass


def run_train(plan, stream=None, checkpoint_interval: float = CHECKPOINT_INTERVAL) -> int:
    """Train ``plan`` (a ``TrainPlan`` with its folder prepared); the exit status: 0 finished,
    1 diverged, out of memory or a write failed, 130/143 interrupted by SIGINT/SIGTERM."""
    stream = stream if stream is not None else sys.stderr
    try:
        with FolderLock(plan.out):
            return _Run(plan, stream, checkpoint_interval).run()
    except FolderBusy as error:
        raise UsageError(str(error)) from None


class _Run:
    def __init__(self, plan, stream, checkpoint_interval: float) -> None:
        self.plan = plan
        self.folder = plan.out
        self.stream = stream
        self.interval = checkpoint_interval
        self.start = plan.start
        self.every = plan.training.eval_every
        self.saved_step = self.start.step if self.start and self.start.weights else None

    # --- setting up ---------------------------------------------------------------------
    def _trainer(self):
        import torch

        from engines.training import Trainer

        plan = self.plan
        if plan.threads is not None:
            torch.set_num_threads(plan.threads)
        trainer = Trainer.create(
            plan.engine, plan.task, plan.training, device=plan.device, probe_batch=plan.probe_batch
        )
        if plan.initial_weights is not None:
            trainer.engine.load_state_dict(plan.initial_weights, strict=True)
        start = self.start
        if start is not None:
            if start.weights is not None:
                trainer.engine.load_state_dict(start.weights, strict=True)
            if start.training_state is not None:
                try:
                    trainer.load_training_state(start.training_state)
                except ValueError as error:
                    path = self.folder / rf.TRAINING_STATE
                    raise UsageError(f"argument --resume: {path}: {error}") from None
            elif start.weights is not None:
                trainer.step = start.step
        return trainer

    def _history(self):
        from playground.frames import FrameHistory

        history = FrameHistory(FRAME_CAPACITY, FRAME_BYTES)
        for frame, gradients in self.start.frames if self.start else ():
            history.append(frame, gradients)
        return history

    # --- the loop -----------------------------------------------------------------------
    def run(self) -> int:
        from engines.out_of_memory import OutOfMemoryAdvice
        from engines.training import run_training
        from playground.progress import make_progress

        plan, folder = self.plan, self.folder
        started = time.perf_counter()
        try:  # a training state that does not fit: exit 2, nothing written
            trainer = self._trainer()
        except OutOfMemoryAdvice as error:  # the model or its test set does not fit: exit 1
            fail(str(error), self.stream)
            return 1
        remove_stale_temporaries(folder)
        write_config(folder, plan.config)
        if plan.sequences:
            write_sequence(folder, plan.sequences)
        start = self.start
        write_summary(
            folder,
            {
                "status": "running",
                "message": "",
                "steps": start.step if start else 0,
                "steps_requested": plan.steps,
                "seconds": start.seconds if start else 0.0,
                "train_seconds": start.train_seconds if start else 0.0,
            },
        )
        self.metrics = MetricsFile(folder, rows=start.metrics_rows if start else ())
        self.history = self._history()
        self.last_frame = None
        self.evaluated = _last_evaluation(self.metrics.rows)
        progress = make_progress(
            plan.steps, self.stream, metric_name=plan.task.metric_kind, every=self.every
        )
        status, message, failure, last = "finished", "", None, None
        resumed_at = start.step if start else None
        next_checkpoint = time.monotonic() + self.interval
        try:
            run = run_training(trainer, plan.steps, schedule=StepSchedule(trainer, self.every))
            for snap in run:
                last = snap
                if snap.state == "error":
                    # Out of memory is no property of the run: "failed", --resume may retry.
                    status = "failed" if snap.out_of_memory else "diverged"
                    message = snap.message
                    break
                if resumed_at is not None and snap.step == resumed_at and not snap.trained:
                    self._resumed_row(snap)
                else:
                    self._record(snap)
                self._frame(snap)
                progress.update(snap.step, snap.train_loss, snap.test_metric)
                if interrupts.requested():
                    status, message = "interrupted", interrupts.describe()
                    break
                if snap.trained and time.monotonic() >= next_checkpoint:
                    self._checkpoint(trainer)
                    next_checkpoint = time.monotonic() + self.interval
        except KeyboardInterrupt:  # run without the handlers (a script, a test)
            interrupts.request(signal.SIGINT)
            status, message = "interrupted", interrupts.describe()
        except RunWriteError as error:
            status, message, failure = "failed", str(error), error
        except BaseException as error:  # a crash: keep what there is, then let it be seen
            progress.close()
            self._finish(trainer, "failed", f"{type(error).__name__}: {error}", started, last)
            raise
        progress.close()
        error = self._finish(trainer, status, message, started, last)
        failure = failure or error
        if failure is not None:
            fail(f"{failure}; the files written before are intact", self.stream)
            return 1
        if status == "failed":  # out of memory: the advice, and the folder keeps the rest
            fail(message, self.stream)
            return 1
        if status == "diverged":
            fail(f"training diverged: {message}", self.stream)
            return 1
        if status == "interrupted":
            print(
                f"{PROG}: interrupted at step {trainer.step} ({message}); the run folder "
                f"{folder} is complete: continue it with '{PROG} train --resume {folder}'",
                file=self.stream,
                flush=True,
            )
            return interrupts.exit_code()
        print(result_line(self.summary), file=self.stream, flush=True)
        return 0

    def _record(self, snap) -> None:
        if snap.trained or snap.step == 0:
            self.metrics.add(
                snap.step, snap.train_loss, snap.test_loss, snap.test_metric, snap.grad_norm
            )
        if snap.test_loss is not None:
            self.evaluated = (snap.step, snap.test_loss, snap.test_metric)

    def _resumed_row(self, snap) -> None:
        """The first snapshot of a continued run re-evaluates the checkpoint's step: a straight
        run has that evaluation only on the schedule (or at its last step)."""
        rows = self.metrics.rows
        if not rows or rows[-1][0] != snap.step:
            self._record(snap)
            return
        if snap.step % self.every == 0 or snap.state == "finished":
            old = rows[-1]
            rows[-1] = (old[0], old[1], snap.test_loss, snap.test_metric, old[4])
            self.evaluated = (snap.step, snap.test_loss, snap.test_metric)

    def _frame(self, snap) -> None:
        frame = snap.probe
        if frame is None:
            return
        self.last_frame = (frame, frame.gradients)
        steps = self.history.steps()
        if frame.step % self.every == 0 and (not steps or steps[-1] < frame.step):
            self.history.append(frame, frame.gradients)

    def _frames(self) -> list:
        frames = [self.history[i] for i in range(len(self.history))]
        if self.last_frame is not None and (
            not frames or frames[-1][0].step < self.last_frame[0].step
        ):
            frames.append(self.last_frame)  # the last step's frame, off the schedule
        return frames

    def _checkpoint(self, trainer, with_state: bool = True) -> None:
        """metrics first (they must reach the checkpoint's step), then the checkpoint."""
        self.metrics.flush()
        if not all(bool(p.isfinite().all()) for p in trainer.engine.parameters()):
            return
        write_checkpoint(
            self.folder, trainer.engine, trainer.training_state() if with_state else None
        )
        self.saved_step = trainer.step
        write_frames(self.folder, self._frames())

    # --- the end ------------------------------------------------------------------------
    def _finish(self, trainer, status, message, started, last) -> RunWriteError | None:
        """Write what the run has; the first write that failed (later ones still tried)."""
        failure = None
        previous = _defer_signals()
        try:
            try:
                self._checkpoint(trainer, with_state=status != "diverged")
            except RunWriteError as error:
                failure = error
                status, message = "failed", str(error)
            start = self.start
            seconds = (start.seconds if start else 0.0) + time.perf_counter() - started
            train_seconds = (start.train_seconds if start else 0.0) + (
                last.elapsed if last is not None else 0.0
            )
            step = self.saved_step if self.saved_step is not None else 0
            self.summary = summary(
                self.plan,
                status=status,
                message=message,
                step=step if failure is not None else trainer.step,
                evaluated=self.evaluated,
                seconds=seconds,
                train_seconds=train_seconds,
                extra={
                    "weights": rf.WEIGHTS if self.saved_step is not None else None,
                    "training_state": status != "diverged" and self.saved_step is not None,
                    "frames": len(self._frames()),
                    "resumed": len(self.plan.config.get("resumed") or []),
                    "title": getattr(self.plan.task, "title", self.plan.task.name),
                },
            )
            try:
                write_summary(self.folder, self.summary)
            except RunWriteError as error:
                failure = failure or error
        finally:
            _restore_signals(previous)
        return failure


def _last_evaluation(rows) -> tuple | None:
    for row in reversed(rows):
        if row[2] is not None and not (isinstance(row[2], float) and math.isnan(row[2])):
            return (row[0], row[2], row[3])
    return None


def _defer_signals():
    """Without ``interrupts`` installed (a script), Ctrl+C during the final writes waits."""
    if interrupts.installed():
        return None
    try:
        return signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return None


def _restore_signals(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
