"""Animations of the training history and of the time cursor: frame count and order, step
ranges, the loss curve growing with the frames, cancelling and failing without leftovers."""

from __future__ import annotations

import dataclasses
import errno

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image

from engines.config import EngineConfig
from engines.tasks.registry import create_task
from engines.training import Trainer, TrainingConfig
from playground import video_writers
from playground.animation import (
    AnimationCancelled,
    CursorSweep,
    DashboardRenderer,
    HistoryFrames,
    LossCurves,
    animation_steps,
    render_animation,
)
from playground.animation_job import AnimationJob
from widgets.figure_export import ExportError, FigureInfo

SIZE = (1280, 800)
INFO = FigureInfo("lstm", "adding", 10)
CURSOR = np.array([255, 60, 255])


@pytest.fixture(scope="module")
def recorded():
    """Probe frames at steps 0..5 of a small LSTM, as the app records them."""
    task = create_task("adding", 10)
    trainer = Trainer.create(
        EngineConfig("lstm", task.input_size, 4, task.output_size),
        task,
        TrainingConfig(batch_size=8, test_size=8, probe_size=2, seed=0),
    )
    frames = [trainer.probe()]
    losses = []
    for _ in range(5):
        loss, _ = trainer.train_step()
        losses.append((trainer.step, loss))
        frames.append(trainer.probe())
    return [(frame, frame.gradients) for frame in frames], losses


def marked(recorded_frames, values):
    """The frames with their hidden state set to one value each: frame k is told apart by
    its colour."""
    out = []
    for (frame, gradients), value in zip(recorded_frames, values, strict=False):
        trace = dataclasses.replace(frame.trace, hidden=np.full_like(frame.trace.hidden, value))
        out.append((dataclasses.replace(frame, trace=trace), gradients))
    return out


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as image:
        frames = []
        for k in range(image.n_frames):
            image.seek(k)
            frames.append(np.asarray(image.convert("RGB")).astype(int))
        return frames


@pytest.fixture
def renderer(qtbot):
    made = DashboardRenderer(SIZE)
    yield made
    made.close()


def test_gif_has_one_frame_per_recorded_frame_in_order(recorded, renderer, tmp_path):
    values = [-0.8, -0.4, 0.0, 0.4, 0.8, 0.6]
    frames = HistoryFrames(marked(recorded[0], values), INFO)
    path = render_animation(frames, tmp_path / "history.gif", size=SIZE, fps=4, renderer=renderer)
    images = gif_frames(path)
    assert len(images) == len(values)
    assert all(image.shape == (SIZE[1], SIZE[0], 3) for image in images)
    x, y = renderer.pixel_of("hidden", 1, 5)
    cmap = pg.colormap.get("CET-D1")
    for value, image in zip(values, images, strict=True):
        expected = np.asarray(cmap.map((value + 1.0) / 2.0, mode="byte"))[:3]
        assert np.abs(image[y, x] - expected).max() <= 12, (value, image[y, x], expected)
    with Image.open(path) as image:
        assert image.info["duration"] == 250 and image.info["loop"] == 0


def test_step_range_and_thinning(recorded):
    frames = recorded[0]
    assert HistoryFrames(frames, INFO).steps() == [0, 1, 2, 3, 4, 5]
    assert HistoryFrames(frames, INFO, steps=(2, 4)).steps() == [2, 3, 4]
    assert HistoryFrames(frames, INFO, count=3).steps() == [0, 2, 5]
    item = HistoryFrames(frames, INFO, steps=(3, None))[0]
    assert item.title == "LSTM · adding · length 10 · step 3"
    with pytest.raises(ValueError, match="between steps 7 and 9"):
        HistoryFrames(frames, INFO, steps=(7, 9))


def test_the_loss_curve_grows_with_the_frames(recorded, renderer):
    frames, losses = recorded
    curves = LossCurves(
        np.array([s for s, _ in losses]), np.array([loss for _, loss in losses]), baseline=0.17
    )
    renderer.setup(SIZE, curves)
    history = HistoryFrames(frames, INFO)
    plot = renderer.dashboard.loss_plot
    renderer.render(history[3])
    assert plot.train_data()[0].tolist() == [1, 2, 3]
    renderer.render(history[5])
    assert plot.train_data()[0].tolist() == [1, 2, 3, 4, 5]
    renderer.render(history[1])  # going back in time starts the curve over
    assert plot.train_data()[0].tolist() == [1]
    assert plot.baseline() == pytest.approx(0.17)


def test_cursor_sweep_moves_the_cursor_one_frame_at_a_time(recorded, renderer, tmp_path):
    sweep = CursorSweep(recorded[0][-1], INFO, stride=3)
    assert len(sweep) == 4  # t = 0, 3, 6, 9 of 10 steps
    assert sweep[2].title.endswith("step 5 · t = 6")
    images = gif_frames(
        render_animation(sweep, tmp_path / "sweep.gif", size=SIZE, renderer=renderer)
    )
    assert len(images) == 4
    _, y = renderer.pixel_of("hidden", 1, 0)
    columns = []
    for image in images:
        magenta = np.abs(image[y] - CURSOR).max(axis=-1) <= 40
        assert magenta.any()
        columns.append(np.flatnonzero(magenta).mean())
    assert columns == sorted(columns) and len(set(columns)) == 4


def test_cancelling_leaves_no_file(recorded, tmp_path):
    frames = HistoryFrames(recorded[0], INFO)
    seen = []
    with pytest.raises(AnimationCancelled):
        render_animation(
            frames,
            tmp_path / "history.gif",
            size=SIZE,
            progress=lambda done, total: seen.append(done),
            cancelled=lambda: len(seen) >= 4,
        )
    assert list(tmp_path.iterdir()) == []


def test_job_renders_in_slices_and_reports_progress(recorded, qtbot, tmp_path):
    job = AnimationJob(HistoryFrames(recorded[0], INFO, count=3), tmp_path / "h.gif", size=SIZE)
    progress = []
    job.progressed.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(job.finished, timeout=60_000) as finished:
        job.start()
    assert finished.args == [str(tmp_path / "h.gif")]
    assert len(gif_frames(tmp_path / "h.gif")) == 3
    assert len(progress) > 1 and progress[-1] == (4, 4)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert not job.is_running()


def test_job_cancelled_midway_leaves_nothing(recorded, qtbot, tmp_path):
    job = AnimationJob(HistoryFrames(recorded[0], INFO), tmp_path / "h.gif", size=SIZE)
    job.progressed.connect(lambda done, total: job.cancel() if done >= 3 else None)
    failed = []
    job.failed.connect(failed.append)
    with qtbot.waitSignal(job.cancelled, timeout=60_000):
        job.start()
    assert failed == [] and list(tmp_path.iterdir()) == []


def test_a_full_disk_fails_with_a_message_and_no_file(recorded, qtbot, tmp_path, monkeypatch):
    def disk_full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("engines.atomic_files.os.replace", disk_full)
    frames = HistoryFrames(recorded[0], INFO, count=2)
    with pytest.raises(ExportError, match=r"h\.gif: the disk is full"):
        render_animation(frames, tmp_path / "h.gif", size=SIZE)
    job = AnimationJob(frames, tmp_path / "j.gif", size=SIZE)
    with qtbot.waitSignal(job.failed, timeout=60_000) as failed:
        job.start()
    assert "j.gif" in failed.args[0] and "disk is full" in failed.args[0]
    assert list(tmp_path.iterdir()) == []


def test_no_folder_there_gives_a_clear_error(recorded, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ExportError, match="h.gif"):
        render_animation(
            HistoryFrames(recorded[0], INFO, count=1), tmp_path / "file" / "h.gif", size=SIZE
        )
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fps": 0}, "fps"),
        ({"fps": 200}, "fps"),
        ({"size": (100, 50)}, "size"),
        ({"format": "avi"}, "format"),
        ({"format": "mp4", "size": (1281, 800)}, "even"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(recorded, tmp_path, options, message):
    if options.get("format") == "mp4" and not video_writers.mp4_available():
        pytest.skip("imageio-ffmpeg is not installed")
    frames = HistoryFrames(recorded[0], INFO)
    with pytest.raises(ValueError, match=message):
        animation_steps(frames, tmp_path / "x.gif", **({"size": SIZE} | options))
    assert list(tmp_path.iterdir()) == []


def test_mp4_without_a_video_writer_says_what_to_install(monkeypatch):
    monkeypatch.setattr(video_writers, "mp4_available", lambda: False)
    with pytest.raises(ValueError, match="MP4 needs imageio-ffmpeg"):
        video_writers.check_format("mp4")


@pytest.mark.skipif(not video_writers.mp4_available(), reason="imageio-ffmpeg is not installed")
def test_mp4_has_the_frames_and_size(recorded, renderer, tmp_path):
    import imageio.v2 as imageio

    path = render_animation(
        HistoryFrames(recorded[0], INFO), tmp_path / "h.mp4", size=SIZE, fps=5, renderer=renderer
    )
    reader = imageio.get_reader(path, format="FFMPEG")
    try:
        assert reader.count_frames() == 6
        assert reader.get_meta_data()["size"] == SIZE
    finally:
        reader.close()
    assert [p.name for p in tmp_path.iterdir()] == ["h.mp4"]
