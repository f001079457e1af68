"""Only regular files are read: a FIFO (whose open waits for a writer), a device or a folder is
refused at once, by the shared check and by the weights loader, with a message naming it."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from engines.checkpoint import WeightsFileError, load_weights, save_weights
from engines.engine import create_engine
from engines.regular_files import (
    NotRegularFileError,
    check_regular_file,
    file_kind,
    read_regular_file,
)

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def fifo_at(path: Path) -> Path:
    os.mkfifo(path)
    return path


def at_once(call, fifo: Path | None = None):
    """Run ``call`` and return what it raised; it must not take seconds. Should it block on
    ``fifo`` after all, a writer that connects and leaves after 10 s releases it."""
    done = threading.Event()
    if fifo is not None:

        def release():
            if not done.wait(10):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

        threading.Thread(target=release, daemon=True).start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError) as caught:
            call()
    finally:
        done.set()
    assert time.perf_counter() - start < 2.0
    return caught.value


def test_a_regular_file_passes_and_reads(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    assert check_regular_file(path).st_size == 3
    assert read_regular_file(path) == b"abc"
    assert file_kind(os.stat(path).st_mode) == "a regular file"


def test_missing_and_folders_are_refused_with_the_path(tmp_path):
    error = at_once(lambda: check_regular_file(tmp_path / "gone.csv", "sequence file"))
    assert isinstance(error, NotRegularFileError) and error.missing
    assert str(error) == f"{tmp_path / 'gone.csv'}: no such file"
    error = at_once(lambda: read_regular_file(tmp_path, "sequence file"))
    assert not error.missing and error.path == tmp_path
    assert "is a folder, not a sequence file" in str(error)


@needs_fifo
def test_a_fifo_is_refused_by_the_check_and_by_the_reader(tmp_path):
    fifo = fifo_at(tmp_path / "x.csv")
    for call in (check_regular_file, read_regular_file):
        error = at_once(lambda call=call: call(fifo, "sequence file"), fifo)
        assert str(error).startswith(str(fifo))
        assert "is a named pipe (FIFO), not a sequence file" in str(error)


@needs_fifo
def test_a_path_that_becomes_a_fifo_after_the_check_is_still_refused(tmp_path, monkeypatch):
    """The reader checks the opened descriptor too, so swapping the file in between fails."""
    import engines.regular_files as regular

    fifo = fifo_at(tmp_path / "swapped.csv")
    regular_stat = os.stat(__file__)
    monkeypatch.setattr(regular, "check_regular_file", lambda path, what="file": regular_stat)
    error = at_once(lambda: read_regular_file(fifo, "sequence file"), fifo)
    assert "named pipe" in str(error)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_device_is_refused():
    error = at_once(lambda: read_regular_file("/dev/null", "weights file"))
    assert "/dev/null: is a character device, not a weights file" in str(error)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 3 * 2**20)
    error = at_once(lambda: read_regular_file(path, max_bytes=2**20))
    assert "big.bin" in str(error) and "3 MiB" in str(error)


@needs_fifo
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_a_fifo_named_like_weights_is_refused(tmp_path, suffix):
    fifo = fifo_at(tmp_path / f"model{suffix}")
    error = at_once(lambda: load_weights(fifo), fifo)
    assert isinstance(error, WeightsFileError)
    assert f"model{suffix}" in str(error) and "named pipe" in str(error)


@needs_fifo
def test_a_fifo_as_the_sidecar_is_refused(tmp_path):
    engine = create_engine("gru", 2, 4, 1, seed=0)
    path = save_weights(engine, tmp_path / "model.safetensors")
    sidecar = tmp_path / "model.json"
    sidecar.unlink()
    fifo_at(sidecar)
    error = at_once(lambda: load_weights(path), sidecar)
    assert isinstance(error, WeightsFileError)
    assert "model.json" in str(error) and "named pipe" in str(error)


def test_a_folder_named_like_weights_is_refused(tmp_path):
    (tmp_path / "model.pt").mkdir()
    error = at_once(lambda: load_weights(tmp_path / "model.pt"))
    assert isinstance(error, WeightsFileError) and "is a folder" in str(error)
