"""Traces and single views as tidy CSV: every value of a real probe frame reads back."""

from __future__ import annotations

import csv
import errno

import numpy as np
import pytest

from engines.config import EngineConfig
from engines.tasks.registry import create_task
from engines.training import Trainer, TrainingConfig
from playground import trace_csv
from playground.trace_csv import TRACE_COLUMNS, save_trace_csv, save_view_csv, trace_row_count
from widgets import export_files
from widgets.figure_export import ExportError


def probed(kind="lstm", layers=2, task="adding", length=6):
    task = create_task(task, length)
    config = EngineConfig(kind, task.input_size, 5, task.output_size, num_layers=layers)
    trainer = Trainer.create(
        config, task, TrainingConfig(batch_size=8, test_size=8, probe_size=2, seed=1)
    )
    trainer.train_step()
    return trainer.probe(with_gradients=True)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def collect(rows, quantity, layer=""):
    """{(sample, time, unit): value} of one quantity and layer, as written."""
    return {(r[4], r[5], r[3]): r[6] for r in rows if r[2] == quantity and r[1] == layer}


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_every_state_gate_readout_and_gradient_reads_back(tmp_path, kind):
    frame = probed(kind)
    path = save_trace_csv(frame, None, tmp_path / "trace.csv")
    header, rows = read_rows(path)
    assert tuple(header) == TRACE_COLUMNS
    assert len(rows) == trace_row_count(frame)
    assert {r[0] for r in rows} == {str(frame.step)}
    trace = frame.trace
    parts = [("hidden", trace.hidden)] + [
        (trace_csv.gate_quantity(name), values) for name, values in trace.gates.items()
    ]
    if trace.cell is not None:
        parts.append(("cell", trace.cell))
    for quantity, values in parts:
        for layer in range(trace.num_layers):
            written = collect(rows, quantity, str(layer))
            block = values[layer]  # (sample, time, unit)
            assert len(written) == block.size
            for (s, t, u), text in written.items():
                assert np.float32(text) == block[int(s), int(t), int(u)]
    readout = collect(rows, "readout")
    assert len(readout) == trace.outputs.size
    assert all(
        np.float32(v) == trace.outputs[int(s), int(t), int(u)] for (s, t, u), v in readout.items()
    )
    grads = frame.gradients
    for layer in range(trace.num_layers):
        norms = [r for r in rows if r[2] == "grad_h_norm" and r[1] == str(layer)]
        assert [float(r[6]) for r in norms] == pytest.approx(grads.hidden[layer].tolist(), rel=1e-7)
        assert {r[3] for r in norms} == {""} and {r[4] for r in norms} == {""}
    grad_x = [float(r[6]) for r in rows if r[2] == "grad_x_norm"]
    np.testing.assert_allclose(grad_x, grads.inputs, rtol=1e-7)


def test_inputs_targets_and_scored_steps_are_there(tmp_path):
    frame = probed("lstm", layers=1)
    _, rows = read_rows(save_trace_csv(frame, None, tmp_path / "t.csv"))
    inputs = collect(rows, "input")
    assert len(inputs) == frame.inputs.size
    assert all(
        np.float32(v) == frame.inputs[int(s), int(t), int(u)] for (s, t, u), v in inputs.items()
    )
    scored = {(s, t): int(v) for (s, t, _), v in collect(rows, "scored").items()}
    expected = {
        (str(s), str(t)): int(frame.mask[s, t])
        for s in range(2)
        for t in range(frame.mask.shape[1])
    }
    assert scored == expected


def test_class_targets_are_written_as_indices(tmp_path):
    frame = probed("gru", layers=1, task="copy", length=4)
    assert frame.targets.ndim == 2  # class indices
    _, rows = read_rows(save_trace_csv(frame, None, tmp_path / "t.csv"))
    targets = collect(rows, "target")
    assert {u for (_, _, u) in targets} == {"0"}
    assert all(int(float(v)) == frame.targets[int(s), int(t)] for (s, t, _), v in targets.items())


def test_a_failed_write_leaves_nothing_and_names_the_file(tmp_path, monkeypatch):
    frame = probed("rnn", layers=1)

    def disk_full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_files.os, "replace", disk_full)
    with pytest.raises(ExportError, match=r"trace\.csv.*disk is full"):
        save_trace_csv(frame, None, tmp_path / "trace.csv")
    assert list(tmp_path.iterdir()) == []


def test_one_view_as_csv(qtbot, tmp_path):
    from widgets.heatmap_view import HeatmapView
    from widgets.line_views import GradientFlowPlot

    heatmap = HeatmapView("forget gate")
    qtbot.addWidget(heatmap)
    data = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    heatmap.set_data(data)
    header, rows = read_rows(save_view_csv(heatmap, tmp_path / "forget.csv"))
    assert header == ["unit", "time_step", "value"]
    assert [(int(u), int(t), np.float32(v)) for u, t, v in rows] == [
        (u, t, data[u, t]) for u in range(3) for t in range(4)
    ]
    plot = GradientFlowPlot()
    qtbot.addWidget(plot)
    plot.set_data(np.array([1.0, 0.5, 0.25]), np.array([2.0, 1.0, 0.5]))
    header, rows = read_rows(save_view_csv(plot, tmp_path / "gradient.csv"))
    assert header == ["plot", "series", "x", "y"]
    assert [(r[1], float(r[2]), float(r[3])) for r in rows] == [
        ("‖dL/dh_t‖", 0.0, 1.0),
        ("‖dL/dh_t‖", 1.0, 0.5),
        ("‖dL/dh_t‖", 2.0, 0.25),
        ("‖dL/dx_t‖", 0.0, 2.0),
        ("‖dL/dx_t‖", 1.0, 1.0),
        ("‖dL/dx_t‖", 2.0, 0.5),
    ]
    assert {r[0] for r in rows} == {"gradient flow"}
