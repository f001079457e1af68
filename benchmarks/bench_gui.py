#!/usr/bin/env python
"""The GUI's speed budget while it trains (design notes, section 4), measured offscreen.

Opens the real MainWindow (``QT_QPA_PLATFORM=offscreen``) at 1500x950 with every dashboard view
visible, trains an LSTM of 32 units on the adding problem of length 100 on the CPU for
``--seconds`` (default 20) in the app's own trainer process, then trains the same run spec
headless in this process (``engines.training.Trainer`` + ``run_training``, with the trainer
process's thread count and probe schedules) for as long. Reported, with the goals beside them:

- window shown: from this process's start (interpreter start-up and imports included) to the
  first paint of a dashboard view; the window is built as ``playground.app.launch`` builds it;
- first frame: from ``train()`` to the first probe frame on screen (trainer spawn + torch import);
- frames shown/s: ``MainWindow.frame_shown`` emissions (new probe frames drawn) in the steady
  window; repaints/s: paint events of the busiest dashboard view (and all views together);
- longest stall: a 5 ms ``QTimer`` (precise) in the GUI thread; the largest gap between two ticks
  minus 5 ms, in the steady window and during start-up;
- steps/s with the window open: the run's step count (from its updates) over the steady window,
  which starts ``--warmup`` seconds after the first trained step;
- headless steps/s for the same spec and duration (also after a warm-up), and the ratio.
  ``headless, no probes`` (``run_training`` without schedules) is printed for reference.

    python benchmarks/bench_gui.py [--seconds 20] [--warmup 2] [--length 100] [--hidden 32]

``--long-sequence`` measures only one repaint of the longest sequence the app accepts
(100,000 steps x 8 channels) in the probe plot and the sequence canvas (goal <= 50 ms); the
full run reports it too.

``--compare`` measures the compare window instead: LSTM, GRU and RNN in lockstep in one
trainer process (frames drawn per engine per second, goal >= 10; longest stall; lockstep
steps/s with the window open against the same three engines in lockstep headless).
"""

from __future__ import annotations

import os
import time

_SCRIPT_START = time.perf_counter()

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
os.environ["QT_QPA_PLATFORM"] = "offscreen"

GOAL_FPS = 30.0
GOAL_STALL_MS = 50.0
GOAL_RATIO = 0.9
GOAL_SHOWN_S = 3.0
GOAL_LONG_PAINT_MS = 50.0  # one repaint of the longest accepted sequence, 8 channels
TICK_MS = 5


def _process_age() -> float:
    """Seconds since this process started (interpreter start-up included), from /proc."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _SCRIPT_START


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def _mark(rows: list, what: str, value: str, goal: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    rows.append((what, value, goal, verdict))


def _print_rows(rows: list) -> None:
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    gwidth = max(len(r[2]) for r in rows)
    for what, value, goal, verdict in rows:
        print(f"  {what:<{width}}  {value:>{vwidth}}  {goal:<{gwidth}}  {verdict}".rstrip())


# --- the window ------------------------------------------------------------------------------
def _stall_probe(ticks: list[float]):
    """A precise TICK_MS timer that notes when each tick came: gaps longer than TICK_MS are
    how long the event loop stalled (start it with the run)."""
    from PySide6 import QtCore

    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    return timer


def _train_while(app, window, timer, watch, marks: dict) -> None:
    """Press Train (at ``marks["train"]``) and run the event loop with the stall probe
    ``timer`` and ``watch()`` polled every 50 ms, until ``watch`` exits the app."""
    from PySide6 import QtCore

    watcher = QtCore.QTimer()
    watcher.setInterval(50)
    watcher.timeout.connect(watch)
    timer.start()
    watcher.start()
    marks["train"] = time.perf_counter()
    window.train()
    app.exec()
    timer.stop()
    watcher.stop()


def measure_gui(args) -> dict:
    age_at_script = _process_age() - (time.perf_counter() - _SCRIPT_START)
    from PySide6 import QtCore, QtWidgets

    import widgets  # noqa: F401 - row-major image order, as launch() does
    from playground.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("Sequence Memory Playground")
    app.setOrganizationName("seq-playground")
    settings = {
        "task": "adding",
        "length": args.length,
        "engine": "lstm",
        "hidden": args.hidden,
        "device": "cpu",
    }
    window = MainWindow(settings)
    window.resize(1500, 950)

    clock = time.perf_counter
    paints: dict[str, int] = {}
    first_paint: list[float] = []

    class PaintCounter(QtCore.QObject):
        def __init__(self, name: str) -> None:
            super().__init__(window)
            self.name = name

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
            if event.type() == QtCore.QEvent.Type.Paint:
                paints[self.name] = paints.get(self.name, 0) + 1
                if not first_paint:
                    first_paint.append(clock())
            return False

    counters = []
    for name, view in window.dashboard.views().items():
        graphics_views = [view] if isinstance(view, QtWidgets.QGraphicsView) else []
        graphics_views += view.findChildren(QtWidgets.QGraphicsView)
        for graphics_view in graphics_views:
            counter = PaintCounter(name)
            graphics_view.viewport().installEventFilter(counter)
            counters.append(counter)

    window.show()
    deadline = clock() + 30
    while not first_paint and clock() < deadline:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
    if not first_paint:
        raise SystemExit("the window never painted")
    shown_s = age_at_script + (first_paint[0] - _SCRIPT_START)
    hidden = [n for n, v in window.dashboard.views().items() if not v.isVisible()]
    if hidden:
        print(f"warning: dashboard views not visible: {', '.join(hidden)}")
    view_count = len(window.dashboard.views())

    # Event-loop stall probe.
    ticks: list[float] = []
    timer = _stall_probe(ticks)

    frames: list[float] = []
    updates: list[tuple[float, int]] = []
    window.frame_shown.connect(lambda _step: frames.append(clock()))
    window.controller.update_received.connect(lambda u: updates.append((clock(), int(u.step))))
    errors: list[str] = []
    window.controller.run_failed.connect(errors.append)

    marks: dict[str, float] = {}
    result: dict = {}
    paints_at: dict[str, dict[str, int]] = {}

    def watch() -> None:
        now = clock()
        if "end" in marks:
            return
        if errors:
            app.quit()
        if "first_step" not in marks and updates and updates[-1][1] > 0:
            marks["first_step"] = now
        if (
            "steady" not in marks
            and "first_step" in marks
            and now - marks["first_step"] >= args.warmup
        ):
            marks["steady"] = now
            paints_at["steady"] = dict(paints)
            process = window.controller._process  # noqa: SLF001 - to read its CPU time
            result["trainer_pid"] = process.pid if process is not None else None
            result["cpu_steady"] = (_cpu_seconds(), _cpu_seconds(result["trainer_pid"]))
            result["machine_steady"] = _machine_busy()
        if "steady" in marks and now - marks["steady"] >= args.seconds:
            marks["end"] = now
            paints_at["end"] = dict(paints)
            timer.stop()
            result["cpu_end"] = (_cpu_seconds(), _cpu_seconds(result["trainer_pid"]))
            result["machine_end"] = _machine_busy()
            result["spec"] = window.current_spec()
            window.close()  # returns at once: a reaper thread stops the trainer
            result["close_s"] = clock() - now
            window.controller.wait_stopped(timeout=15)
            result["gone_s"] = clock() - now
            app.exit(0)  # (quit() would close the window itself)
        if now - marks["train"] > args.seconds + args.warmup + 90:
            errors.append("timed out waiting for the run")
            app.quit()

    _train_while(app, window, timer, watch, marks)
    if errors:
        window.close()
        raise SystemExit(f"the run failed: {errors[0]}")
    pid = result["trainer_pid"]
    trainer_left = pid is not None and _running(pid)

    t0, t1 = marks["steady"], marks["end"]

    def max_stall(start: float, end: float) -> float:
        inside = [t for t in ticks if start <= t <= end]
        gaps = [b - a for a, b in zip(inside, inside[1:], strict=False)]
        return max(0.0, (max(gaps) if gaps else 0.0) - TICK_MS / 1000)

    steady_gaps = sorted(
        b - a for a, b in zip(ticks, ticks[1:], strict=False) if t0 <= a and b <= t1
    )
    first_frame = next((t for t in frames if t > marks["train"]), None)
    in_window = [(t, s) for t, s in updates if t0 <= t <= t1]
    (ta, sa), (tb, sb) = in_window[0], in_window[-1]
    span = t1 - t0
    painted = {
        name: paints_at["end"].get(name, 0) - paints_at["steady"].get(name, 0)
        for name in paints_at["end"]
    }
    return {
        "shown_s": shown_s,
        "first_frame_s": (first_frame - marks["train"]) if first_frame else float("nan"),
        "frames_per_s": sum(1 for t in frames if t0 <= t <= t1) / span,
        "updates_per_s": len(in_window) / span,
        "repaints_per_s": max(painted.values(), default=0) / span,
        "all_paints_per_s": sum(painted.values()) / span,
        "views": view_count,
        "stall_ms": 1000 * max_stall(t0, t1),
        "p99_gap_ms": 1000 * steady_gaps[int(0.99 * (len(steady_gaps) - 1))] - TICK_MS,
        "startup_stall_ms": 1000 * max_stall(marks["train"], t0),
        "gui_steps_per_s": (sb - sa) / (tb - ta) if tb > ta else float("nan"),
        "gui_cpu": (result["cpu_end"][0] - result["cpu_steady"][0]) / span,
        "trainer_cpu": (result["cpu_end"][1] - result["cpu_steady"][1]) / span,
        "others_cpu": (
            result["machine_end"][0]
            - result["machine_steady"][0]
            - (result["cpu_end"][0] - result["cpu_steady"][0])
            - (result["cpu_end"][1] - result["cpu_steady"][1])
        )
        / span,
        "close_s": result["close_s"],
        "gone_s": result["gone_s"],
        "trainer_left": trainer_left,
        "trainer_pid": pid,
        "spec": result["spec"],
    }


# --- headless ----------------------------------------------------------------------------------
def measure_headless(spec, seconds: float, warmup: float, probes: bool) -> tuple[float, float]:
    """Steps/s of the trainer process's own loop, in this process, without a window, and the
    CPU share the machine's other processes took meanwhile."""
    import torch

    from engines.probe_schedule import ProbeSchedule
    from engines.training import Trainer, run_training

    torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))  # as the trainer process does
    task = spec.validate()
    trainer = Trainer.create(
        spec.engine_config(task), task, spec.training_config(), device=spec.settings["device"]
    )
    if probes:  # the schedules playground.trainer_process uses
        run = run_training(
            trainer,
            schedule=ProbeSchedule(rate_hz=30.0, max_fraction=0.04),
            gradient_schedule=ProbeSchedule(rate_hz=10.0, max_fraction=0.03),
        )
    else:
        run = run_training(trainer)
    clock = time.perf_counter
    next(run)
    start = clock()
    while clock() - start < warmup:
        run.send(None)
    steady, steps = clock(), trainer.step
    machine, own = _machine_busy()[0], _cpu_seconds()
    while clock() - steady < seconds:
        run.send(None)
    span = clock() - steady
    others = (_machine_busy()[0] - machine - (_cpu_seconds() - own)) / span
    rate = (trainer.step - steps) / span
    run.close()
    return rate, others


# --- three engines in lockstep (the compare window) -------------------------------------------
GOAL_COMPARE_FPS = 10.0
COMPARE_ENGINES = ("lstm", "gru", "rnn")


def measure_compare(args) -> dict:
    """The compare window training LSTM, GRU and RNN in lockstep for ``args.seconds`` after
    ``args.warmup``: frame sets drawn per second (each draws every engine's frame), the
    longest event-loop stall and the lockstep steps per second; then the same three engines
    in lockstep headless (the trainer process's own loop and schedules) for as long."""
    from PySide6 import QtWidgets

    import widgets  # noqa: F401 - row-major image order, as launch() does
    from playground.compare_window import CompareWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    settings = {"task": "adding", "length": args.length, "hidden": args.hidden, "device": "cpu"}
    window = CompareWindow(settings)
    window.engine_setup.set_engines([{"engine": kind} for kind in COMPARE_ENGINES])
    window.resize(1600, 1000)
    window.show()
    clock = time.perf_counter
    ticks: list[float] = []
    frames: list[float] = []
    updates: list[tuple[float, int]] = []
    errors: list[str] = []
    marks: dict[str, float] = {}
    timer = _stall_probe(ticks)
    window.views.frames_shown.connect(lambda _step: frames.append(clock()))
    window.controller.update_received.connect(lambda u: updates.append((clock(), int(u.step))))
    window.controller.run_failed.connect(errors.append)

    def watch() -> None:
        now = clock()
        if "first_step" not in marks and updates and updates[-1][1] > 0:
            marks["first_step"] = now
        started = marks.get("first_step")
        if started is not None and "steady" not in marks and now - started >= args.warmup:
            marks["steady"] = now
        if errors or ("steady" in marks and now - marks["steady"] >= args.seconds):
            marks["end"] = now
            window.close()  # stops the trainer (a reaper joins it)
            app.exit(0)
        elif now - marks["train"] > args.seconds + args.warmup + 90:
            errors.append("timed out waiting for the run")

    _train_while(app, window, timer, watch, marks)
    window.controller.wait_stopped(10)
    if errors:
        raise SystemExit(f"the comparison failed: {errors[0]}")
    t0, t1 = marks["steady"], marks["end"]
    inside = [t for t in ticks if t0 <= t <= t1]
    gaps = [b - a for a, b in zip(inside, inside[1:], strict=False)]
    steady = [(t, step) for t, step in updates if t0 <= t <= t1]
    (ta, sa), (tb, sb) = steady[0], steady[-1]
    headless, headless_frames = measure_lockstep_headless(
        window.current_spec(), args.seconds, args.warmup
    )
    return {
        "frames_per_s": sum(1 for t in frames if t0 <= t <= t1) / (t1 - t0),
        "stall_ms": 1000 * max(0.0, max(gaps, default=0.0) - TICK_MS / 1000),
        "gui_steps_per_s": (sb - sa) / (tb - ta) if tb > ta else float("nan"),
        "headless_steps_per_s": headless,
        "headless_frames_per_s": headless_frames,
    }


def measure_lockstep_headless(spec, seconds: float, warmup: float) -> tuple[float, float]:
    """Lockstep rounds per second of the comparison's trainer loop in this process, and the
    probe rounds (a frame for every engine) per second its schedule allowed meanwhile."""
    import torch

    from engines.lockstep import run_lockstep
    from playground.compare_process import compare_schedules

    torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))  # as the trainer process does
    trainers = spec.build_trainers(spec.validate())
    probes, gradients = compare_schedules()
    run = run_lockstep(trainers, schedule=probes, gradient_schedule=gradients)
    next(run)
    start = time.perf_counter()
    while time.perf_counter() - start < warmup:
        run.send(None)
    steady, steps, probed = time.perf_counter(), trainers[0].step, probes.count
    while time.perf_counter() - steady < seconds:
        run.send(None)
    span = time.perf_counter() - steady
    run.close()
    return (trainers[0].step - steps) / span, (probes.count - probed) / span


def report_compare(args) -> None:
    result = measure_compare(args)
    ratio = result["gui_steps_per_s"] / result["headless_steps_per_s"]
    print(
        f"Compare benchmark: {', '.join(k.upper() for k in COMPARE_ENGINES)} at {args.hidden} "
        f"units, adding length {args.length}, cpu, in lockstep in one trainer process; "
        f"{os.cpu_count()} cores; {args.seconds:g} s steady after {args.warmup:g} s warm-up; "
        f"load average {os.getloadavg()[0]:.2f} (other jobs share the machine)"
    )
    rows: list = []
    fps = result["frames_per_s"]
    _mark(
        rows,
        "frames drawn per engine",
        f"{fps:.1f} /s",
        f"goal >= {GOAL_COMPARE_FPS:g}/s",
        fps >= GOAL_COMPARE_FPS,
    )
    stall = result["stall_ms"]
    _mark(
        rows,
        "longest event-loop stall",
        f"{stall:.1f} ms",
        f"goal <= {GOAL_STALL_MS:g} ms",
        stall <= GOAL_STALL_MS,
    )
    _mark(rows, "  (probe rounds/s headless)", f"{result['headless_frames_per_s']:.1f} /s")
    _mark(rows, "lockstep steps/s, window open", f"{result['gui_steps_per_s']:.1f}")
    _mark(rows, "lockstep steps/s, headless", f"{result['headless_steps_per_s']:.1f}")
    _mark(
        rows,
        "ratio window open / headless",
        f"{ratio:.2f}",
        f"goal >= {GOAL_RATIO:g}",
        ratio >= GOAL_RATIO,
    )
    _print_rows(rows)


def measure_long_sequence(channels: int = 8, repaints: int = 9) -> dict:
    """Median ms per repaint (wall clock and CPU) of the probe plot and the sequence canvas
    showing the longest sequence the loaders accept (``MAX_STEPS``) of noisy ``channels``,
    offscreen at the sizes the 1500 x 950 window gives them."""
    import statistics

    import numpy as np
    from PySide6 import QtWidgets

    import widgets  # noqa: F401 - row-major image order, as launch() does
    from playground.files import MAX_STEPS
    from widgets.sequence_canvas import SequenceCanvas
    from widgets.sequence_plot import SequencePlot

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    values = np.random.default_rng(0).uniform(-1, 1, (MAX_STEPS, channels)).astype(np.float32)
    plot, canvas = SequencePlot(), SequenceCanvas()
    plot.set_data(values, values[:, :1], values[:, :1] * 0.5)
    canvas.set_sequence(values)
    result = {"steps": MAX_STEPS, "channels": channels}
    for name, widget, view, size in (
        ("plot", plot, plot, (1500, 260)),
        ("canvas", canvas, canvas.plot_widget, (1500, 320)),
    ):
        widget.resize(*size)
        widget.show()
        for _ in range(5):
            app.processEvents()
        walls, cpus = [], []
        for _ in range(repaints):
            wall, cpu = time.perf_counter(), time.process_time()
            view.viewport().repaint()
            walls.append(1000 * (time.perf_counter() - wall))
            cpus.append(1000 * (time.process_time() - cpu))
        result[name] = (statistics.median(walls), statistics.median(cpus))
        widget.close()
    return result


def _long_sequence_rows() -> list:
    long, rows = measure_long_sequence(), []
    for name in ("plot", "canvas"):
        wall, cpu = long[name]
        _mark(
            rows,
            f"repaint, {long['steps']:,} steps x {long['channels']} ch., {name}",
            f"{wall:.1f} ms ({cpu:.1f} CPU)",
            f"goal <= {GOAL_LONG_PAINT_MS:g} ms",
            wall <= GOAL_LONG_PAINT_MS,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="steady measuring time")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after the first step")
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument(
        "--no-plain", action="store_true", help="skip the headless run without probes"
    )
    parser.add_argument(
        "--compare", action="store_true", help="the compare window's three engines instead"
    )
    parser.add_argument(
        "--long-sequence", action="store_true", help="only the repaint of the longest sequence"
    )
    args = parser.parse_args(argv)
    if args.compare:
        report_compare(args)
        return 0
    if args.long_sequence:
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        _print_rows(_long_sequence_rows())
        return 0

    gui = measure_gui(args)
    headless, headless_others = measure_headless(
        gui["spec"], args.seconds, args.warmup, probes=True
    )
    plain = (
        None
        if args.no_plain
        else measure_headless(gui["spec"], args.seconds, args.warmup, probes=False)[0]
    )

    import pyqtgraph
    import PySide6
    import torch

    ratio = gui["gui_steps_per_s"] / headless
    print(
        f"GUI benchmark: LSTM {args.hidden} units, adding length {args.length}, cpu, batch "
        f"{gui['spec'].settings['batch']}; {os.cpu_count()} cores, trainer threads "
        f"{max(1, (os.cpu_count() or 1) - 1)}; torch {torch.__version__}, PySide6 "
        f"{PySide6.__version__}, pyqtgraph {pyqtgraph.__version__}; {args.seconds:g} s steady "
        f"after {args.warmup:g} s warm-up; load average {os.getloadavg()[0]:.2f}"
    )
    rows: list = []
    _mark(
        rows,
        "window shown after launch",
        f"{gui['shown_s']:.2f} s",
        f"goal <= {GOAL_SHOWN_S:g} s",
        gui["shown_s"] <= GOAL_SHOWN_S,
    )
    _mark(rows, "first probe frame after train()", f"{gui['first_frame_s']:.2f} s")
    _mark(
        rows,
        "frames shown (new probe frames)",
        f"{gui['frames_per_s']:.1f} /s",
        f"goal >= {GOAL_FPS:g}/s",
        gui["frames_per_s"] >= GOAL_FPS,
    )
    _mark(rows, "updates received", f"{gui['updates_per_s']:.1f} /s")
    _mark(rows, "repaints (busiest view)", f"{gui['repaints_per_s']:.1f} /s")
    _mark(rows, f"paint events, all {gui['views']} views", f"{gui['all_paints_per_s']:.1f} /s")
    _mark(
        rows,
        "longest event-loop stall",
        f"{gui['stall_ms']:.1f} ms",
        f"goal <= {GOAL_STALL_MS:g} ms",
        gui["stall_ms"] <= GOAL_STALL_MS,
    )
    _mark(rows, "99th percentile tick lateness", f"{gui['p99_gap_ms']:.1f} ms")
    _mark(rows, "longest stall during start-up", f"{gui['startup_stall_ms']:.1f} ms")
    _mark(rows, "CPU of the GUI process", f"{100 * gui['gui_cpu']:.0f} %")
    _mark(rows, "CPU of the trainer process", f"{100 * gui['trainer_cpu']:.0f} %")
    _mark(rows, "CPU of all other processes", f"{100 * gui['others_cpu']:.0f} %")
    _mark(rows, "training steps/s, window open", f"{gui['gui_steps_per_s']:.1f}")
    _mark(rows, "training steps/s, headless", f"{headless:.1f}")
    _mark(rows, "  (CPU of other processes then)", f"{100 * headless_others:.0f} %")
    _mark(
        rows,
        "ratio window open / headless",
        f"{ratio:.2f}",
        f"goal >= {GOAL_RATIO:g}",
        ratio >= GOAL_RATIO,
    )
    if plain is not None:
        _mark(rows, "headless without probes (ref.)", f"{plain:.1f}")
        _mark(rows, "ratio window open / no probes", f"{gui['gui_steps_per_s'] / plain:.2f}")
    _mark(rows, "close returned after", f"{gui['close_s']:.3f} s")
    _mark(rows, "trainer process gone after", f"{gui['gone_s']:.2f} s")
    _print_rows(rows + _long_sequence_rows())  # after the window: it times from launch
    if gui["trainer_left"]:
        print(f"BUG: the trainer process {gui['trainer_pid']} still runs after the window closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
