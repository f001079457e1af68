"""Probe traces and single views as CSV in tidy long form, for pandas and spreadsheets.

A trace CSV has one row per value, with these columns:

==========  ==================================================================================
step        the training step the frame was probed at (the same in every row)
layer       0-based layer of the recurrent stack; empty for what belongs to no layer (the
            inputs, targets, read-out and ‖dL/dx_t‖)
quantity    ``input``, ``target``, ``scored`` (1 where the loss is taken, else 0),
            ``hidden``, ``cell`` (LSTM), one per gate (``input_gate``, ``forget_gate``,
            ``candidate``, ``output_gate`` for the LSTM; ``reset_gate``, ``update_gate``,
            ``candidate`` for the GRU; ``preactivation`` for the RNN), ``readout`` (the
            network's output at every step), ``grad_h_norm`` (‖dL/dh_t‖ of a layer, over batch
            and units) and ``grad_x_norm`` (‖dL/dx_t‖)
unit        0-based unit (hidden quantities), channel (``input``), output index (``target``,
            ``readout``); empty for ``scored`` and the gradient norms
sample      0-based sequence of the probe batch; empty for the gradient norms
time        0-based time step of the sequence
value       the number (float32 values written so that they read back exactly)
==========  ==================================================================================

Rows come in the order of the columns above: quantity by quantity, then sample, time, unit.
A classification target is the class index (``unit`` 0). ``pandas.read_csv`` reads it as is;
``df.pivot_table(index="time", columns="unit", values="value")`` after a filter gives a heatmap.

A view's own data (what one plot draws) comes from :func:`widgets.view_data.view_table`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from widgets.export_files import atomic_write

TRACE_COLUMNS = ("step", "layer", "quantity", "unit", "sample", "time", "value")
#: LSTM/GRU gates whose names would clash with the ``input`` channels get a ``_gate`` suffix.
_GATE_COLUMN_NAMES = {
    "input": "input_gate",
    "forget": "forget_gate",
    "output": "output_gate",
    "reset": "reset_gate",
    "update": "update_gate",
}


def gate_quantity(name: str) -> str:
    return _GATE_COLUMN_NAMES.get(name, name)


def trace_blocks(frame, gradients=None):
    """``(layer, quantity, values, axes)`` of every part of a trace; ``values`` is a numpy
    array whose axes ``axes`` are among ``sample``, ``time``, ``unit``."""
    trace = frame.trace
    targets = np.asarray(frame.targets)
    yield None, "input", np.asarray(frame.inputs), ("sample", "time", "unit")
    if targets.ndim == 2:  # class indices
        yield None, "target", targets[..., None], ("sample", "time", "unit")
    else:
        yield None, "target", targets, ("sample", "time", "unit")
    yield None, "scored", np.asarray(frame.mask).astype(np.int8), ("sample", "time")
    for layer in range(trace.num_layers):
        yield layer, "hidden", trace.hidden[layer], ("sample", "time", "unit")
        if trace.cell is not None:
            yield layer, "cell", trace.cell[layer], ("sample", "time", "unit")
        for name, values in trace.gates.items():
            yield layer, gate_quantity(name), values[layer], ("sample", "time", "unit")
    yield None, "readout", trace.outputs, ("sample", "time", "unit")
    grads = gradients if gradients is not None else frame.gradients
    if grads is not None:
        for layer in range(np.shape(grads.hidden)[0]):
            yield layer, "grad_h_norm", np.asarray(grads.hidden[layer]), ("time",)
        yield None, "grad_x_norm", np.asarray(grads.inputs), ("time",)


def trace_row_count(frame, gradients=None) -> int:
    """How many rows :func:`save_trace_csv` writes (to warn before a huge file)."""
    return sum(int(np.size(values)) for _, _, values, _ in trace_blocks(frame, gradients))


def _cells(values: np.ndarray) -> np.ndarray:
    """Shortest text that reads back to the same value in its own precision (float32 stays
    float32: ``0.1`` rather than ``0.10000000149011612``)."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer) or values.dtype == bool:
        return values.astype(np.int64).astype(str)
    return values.astype(str)  # numpy writes each float in the shortest round-trip form


def write_trace_rows(handle, frame, gradients=None) -> int:
    """Write the header and every row to the text ``handle``; returns the row count."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(TRACE_COLUMNS)
    step = str(int(frame.step))
    count = 0
    for layer, quantity, values, axes in trace_blocks(frame, gradients):
        layer_text = "" if layer is None else str(layer)
        grid = np.indices(values.shape).reshape(values.ndim, -1)
        index = {axis: grid[i].astype(str) for i, axis in enumerate(axes)}
        empty = np.full(values.size, "", dtype=object)
        columns = (
            index.get("unit", empty),
            index.get("sample", empty),
            index.get("time", empty),
            _cells(values.reshape(-1)),
        )
        writer.writerows(
            (step, layer_text, quantity, unit, sample, time, value)
            for unit, sample, time, value in zip(*columns, strict=True)
        )
        count += values.size
    return count


def trace_csv_text(frame, gradients=None) -> str:
    buffer = io.StringIO()
    write_trace_rows(buffer, frame, gradients)
    return buffer.getvalue()


def save_trace_csv(frame, gradients, path: os.PathLike | str) -> Path:
    """The probe trace of ``frame`` (a ``ProbeFrame``) as tidy CSV, atomically; ``gradients``
    stands in when the frame carries none. Raises ``ExportError`` (an OSError) naming the
    file when it cannot be written; no partial file is left."""

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            write_trace_rows(handle, frame, gradients)
            handle.flush()
            os.fsync(handle.fileno())

    return atomic_write(path, write, suffix=".csv")


def table_csv_text(table: dict[str, np.ndarray]) -> str:
    """Columns (name -> 1-D array, all one length) as CSV text with a header."""
    names = list(table)
    lengths = {len(table[name]) for name in names}
    if len(lengths) > 1:
        raise ValueError(f"the columns must have one length, got {sorted(lengths)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    columns = [
        _cells(values) if np.asarray(values).dtype != object else np.asarray(values).astype(str)
        for values in table.values()
    ]
    writer.writerows(zip(*columns, strict=True))
    return buffer.getvalue()


def save_view_csv(view, path: os.PathLike | str) -> Path:
    """What one view draws (``widgets.view_data.view_table``) as CSV, atomically: a heatmap as
    ``unit,time_step,value``, line plots as ``plot,series,x,y``."""
    from widgets.view_data import view_table

    text = table_csv_text(view_table(view))

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    return atomic_write(path, write, suffix=".csv")
