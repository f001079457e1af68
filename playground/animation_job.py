"""The app's animation render: :func:`playground.animation.animation_steps` driven from a
zero-interval QTimer in slices between events, on the GUI thread where Qt must draw."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore

from playground.animation import (
    DEFAULT_FPS,
    DEFAULT_SIZE,
    AnimationFrame,
    DashboardRenderer,
    LossCurves,
    animation_steps,
)
from widgets.export_files import ExportError


class AnimationJob(QtCore.QObject):
    """An animation rendered on the GUI thread in slices between events.

    Connect ``progressed`` to a QProgressDialog's ``setValue`` (after ``setMaximum(total)``)
    and its ``canceled`` to :meth:`cancel`. Exactly one of ``finished(path)``,
    ``failed(message)`` or ``cancelled()`` is emitted at the end.

    Each slice runs steps while the next one, judged by the longest step so far, still fits
    into ``budget_ms``; :attr:`longest_slice_ms` is what the event loop waited at most.
    """

    progressed = QtCore.Signal(int, int)
    finished = QtCore.Signal(str)
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal()

    def __init__(
        self,
        frames: Sequence[AnimationFrame],
        path,
        *,
        size=DEFAULT_SIZE,
        fps: float = DEFAULT_FPS,
        format: str | None = None,
        losses: LossCurves | None = None,
        budget_ms: float = 15.0,
        renderer: DashboardRenderer | None = None,
        parent: QtCore.QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.path = Path(path)
        # Checked now, so a dialog can say what is wrong before anything starts.
        self._steps = animation_steps(
            frames, path, size=size, fps=fps, format=format, losses=losses, renderer=renderer
        )
        self.total = len(frames) + 1
        self.done = 0
        self.budget_ms = float(budget_ms)
        self.longest_slice_ms = 0.0
        self.longest_step_ms = 0.0
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._slice)
        self._state = "ready"
        self._busy = False

    def start(self) -> None:
        if self._state == "ready":
            self._state = "running"
            self._timer.start()

    def is_running(self) -> bool:
        return self._state == "running"

    def cancel(self) -> None:
        """Stop now and remove what was written; emits ``cancelled`` (once)."""
        if self._state not in ("ready", "running"):
            return
        self._timer.stop()
        self._state = "cancelled"
        self._steps.close()
        self.cancelled.emit()

    def _slice(self) -> None:
        # A modal QProgressDialog's setValue runs the event loop inside ``progressed``: a
        # timer tick arriving then must not start a second slice inside this one.
        if self._state != "running" or self._busy:
            return
        self._busy = True
        try:
            self._run_slice()
        finally:
            self._busy = False

    def _run_slice(self) -> None:
        started = time.perf_counter()
        while True:
            before = time.perf_counter()
            try:
                self.done, self.total = next(self._steps)
            except StopIteration:
                self._end("finished", str(self.path))
                return
            except (ExportError, ValueError, OSError) as error:
                self._end("failed", str(error))
                return
            except Exception as error:  # noqa: BLE001 - a render bug must not kill the window
                self._end("failed", f"the animation {self.path} failed: {error}")
                return
            now = time.perf_counter()
            self.longest_step_ms = max(self.longest_step_ms, 1000 * (now - before))
            if 1000 * (now - started) + self.longest_step_ms > self.budget_ms:
                break
        self.longest_slice_ms = max(self.longest_slice_ms, 1000 * (time.perf_counter() - started))
        self.progressed.emit(self.done, self.total)

    def _end(self, state: str, message: str) -> None:
        self._timer.stop()
        self._state = state
        self._steps.close()
        if state == "finished":
            self.progressed.emit(self.total, self.total)
            self.finished.emit(message)
        else:
            self.failed.emit(message)
