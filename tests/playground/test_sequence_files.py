"""Sequence files: every accepted format, every bad input with a message that says where and
what, and fuzzing that proves nothing but SequenceData or SequenceLoadError ever comes out."""

import io
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground.files import (
    MAX_STEPS,
    SequenceData,
    SequenceLoadError,
    load_sequence,
    save_sequence_csv,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def load_error(path) -> SequenceLoadError:
    with pytest.raises(SequenceLoadError) as info:
        load_sequence(path)
    err = info.value
    assert Path(path).name in str(err)
    assert err.path == Path(path)
    return err


# --- accepted formats -----------------------------------------------------------------------


def test_csv_with_header(tmp_path):
    data = load_sequence(write(tmp_path, "a.csv", "x,y\n1,2\n3.5,-4e-1\n\n\n"))
    assert data.channel_names == ("x", "y")
    np.testing.assert_array_equal(data.values, np.float32([[1, 2], [3.5, -0.4]]))
    assert data.values.dtype == np.float32
    assert (data.length, data.n_channels, data.is_symbolic) == (2, 2, False)
    assert data.source == "a.csv"


def test_csv_without_header_single_column(tmp_path):
    data = load_sequence(write(tmp_path, "a.csv", "1\n2\n3\n"))
    assert data.values.shape == (3, 1)
    assert data.channel_names == ("ch0",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a;b\n1;2\n3;4\n", [[1, 2], [3, 4]]),
        ("1,5;2,5\n3;4\n", [[1.5, 2.5], [3, 4]]),  # decimal commas go with semicolons
        ("1\t2\n3\t4\n", [[1, 2], [3, 4]]),
        ("1.0 2.0\n3.0   4.0\n", [[1, 2], [3, 4]]),  # numpy.savetxt's default
        ('"a, b",c\n1,2\n3,4\n', [[1, 2], [3, 4]]),
        ("# comment\r\nx\r\n1\r\n# another\r\n2\r\n", [[1], [2]]),
        ("\ufeffx,y\n1,2\n3,4\n", [[1, 2], [3, 4]]),  # UTF-8 with BOM (Excel)
    ],
)
def test_csv_dialects(tmp_path, text, expected):
    data = load_sequence(write(tmp_path, "a.csv", text))
    np.testing.assert_allclose(data.values, expected)


def test_tsv(tmp_path):
    data = load_sequence(write(tmp_path, "a.TSV", "left\tright\n1\t2\n3\t4\n"))
    assert data.channel_names == ("left", "right")


def test_npy_1d_and_2d(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(5, dtype=np.int16))
    np.save(tmp_path / "b.npy", np.ones((4, 3)))
    a, b = load_sequence(tmp_path / "a.npy"), load_sequence(tmp_path / "b.npy")
    assert a.values.shape == (5, 1) and a.values.dtype == np.float32
    assert b.values.shape == (4, 3)


def test_npy_fortran_order(tmp_path):
    array = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(6, 2))
    np.save(tmp_path / "f.npy", array)
    np.testing.assert_array_equal(load_sequence(tmp_path / "f.npy").values, array)


def test_npz_prefers_named_array(tmp_path):
    np.savez(tmp_path / "a.npz", other=np.zeros(3), values=np.arange(4.0))
    data = load_sequence(tmp_path / "a.npz")
    np.testing.assert_array_equal(data.values[:, 0], np.arange(4.0))
    assert "'values'" in data.note and "1 other array" in data.note


def test_npz_first_array(tmp_path):
    np.savez_compressed(tmp_path / "a.npz", first=np.arange(3.0), second=np.zeros(5))
    data = load_sequence(tmp_path / "a.npz")
    assert data.length == 3 and "'first'" in data.note


def test_text_becomes_symbols(tmp_path):
    data = load_sequence(write(tmp_path, "a.txt", "abca\r\nb"))
    assert data.is_symbolic and data.n_channels == 1
    assert data.alphabet == ("\n", "a", "b", "c")
    assert "".join(data.alphabet[i] for i in data.symbols) == "abca\nb"
    assert data.symbols.dtype == np.int64


def test_shipped_examples_load():
    files = sorted(p for p in EXAMPLES.iterdir() if p.suffix != ".md")
    assert {p.suffix for p in files} >= {".csv", ".npy", ".txt"}
    for path in files:
        data = load_sequence(path)
        assert 2 <= data.length <= MAX_STEPS
    assert load_sequence(EXAMPLES / "two_channels.csv").n_channels == 2


def test_data_is_read_only(tmp_path):
    data = load_sequence(write(tmp_path, "a.csv", "1\n2\n"))
    with pytest.raises(ValueError):
        data.values[0, 0] = 5


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.csv", "empty.txt", "empty.npy", "empty.npz"])
def test_empty_file(tmp_path, name):
    assert "empty" in str(load_error(write(tmp_path, name, b"")))


def test_only_header(tmp_path):
    assert "only a header" in str(load_error(write(tmp_path, "a.csv", "x,y\n\n")))


def test_only_comments(tmp_path):
    assert "no data" in str(load_error(write(tmp_path, "a.csv", "# nothing\n\n")))


def test_ragged_row(tmp_path):
    err = load_error(write(tmp_path, "a.csv", "x,y\n1,2\n3,4,5\n"))
    assert err.line == 3
    assert "line 3" in str(err) and "3 columns, expected 2" in str(err)


def test_blank_line_inside(tmp_path):
    err = load_error(write(tmp_path, "a.csv", "1\n\n2\n"))
    assert err.line == 2 and "blank" in str(err)


def test_non_numeric_cell(tmp_path):
    text = "a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,abc\n"
    err = load_error(write(tmp_path, "data.csv", text))
    assert (err.line, err.column) == (7, 2)
    assert str(err) == (
        "data.csv, line 7, column 2: 'abc' is not a number; CSV cells must be numbers "
        "(header row optional)"
    )


def test_empty_cell(tmp_path):
    err = load_error(write(tmp_path, "a.csv", "1,2\n3,\n"))
    assert (err.line, err.column) == (2, 2) and "empty cell" in str(err)


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-Infinity", "1e39"])
def test_non_finite_cell(tmp_path, cell):
    err = load_error(write(tmp_path, "a.csv", f"x,y\n1,2\n3,{cell}\n"))
    assert (err.line, err.column) == (3, 2)
    assert "finite" in str(err) or "too large" in str(err)


def test_nan_in_first_row_is_not_a_header(tmp_path):
    err = load_error(write(tmp_path, "a.csv", "nan,nan\n1,2\n"))
    assert (err.line, err.column) == (1, 1)


@pytest.mark.parametrize("suffix", [".csv", ".txt", ".tsv"])
def test_binary_file_as_text(tmp_path, suffix):
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10.0))
    err = load_error(write(tmp_path, "a" + suffix, buffer.getvalue()))
    assert "binary" in str(err)


def test_wrong_encoding(tmp_path):
    err = load_error(write(tmp_path, "a.txt", "héllo\nwörld".encode("latin-1")))
    assert "UTF-8" in str(err) and (err.line, err.column) == (1, 2)
    err = load_error(write(tmp_path, "b.csv", "x\n1\n\xb5\n".encode("latin-1")))
    assert err.line == 3
    err = load_error(write(tmp_path, "c.txt", "hello".encode("utf-16")))
    assert "UTF-16" in str(err)


def test_too_short(tmp_path):
    err = load_error(write(tmp_path, "a.csv", "x\n1\n"))
    assert "1 step;" in str(err) and "2 to 100,000" in str(err)
    load_error(write(tmp_path, "a.txt", "a"))
    np.save(tmp_path / "a.npy", np.zeros(1))
    load_error(tmp_path / "a.npy")


def test_step_limit(tmp_path):
    np.save(tmp_path / "ok.npy", np.zeros(MAX_STEPS, dtype=np.float32))
    assert load_sequence(tmp_path / "ok.npy").length == MAX_STEPS
    np.save(tmp_path / "long.npy", np.zeros(MAX_STEPS + 1, dtype=np.float32))
    assert "100,001 steps" in str(load_error(tmp_path / "long.npy"))
    write(tmp_path, "long.txt", "ab" * (MAX_STEPS // 2) + "c")
    assert "100,000" in str(load_error(tmp_path / "long.txt"))
    write(tmp_path, "long.csv", "0\n" * (MAX_STEPS + 1))
    assert "100,000" in str(load_error(tmp_path / "long.csv"))


def test_too_many_channels(tmp_path):
    write(tmp_path, "wide.csv", ",".join(["1"] * 65) + "\n" + ",".join(["2"] * 65) + "\n")
    assert "at most 64" in str(load_error(tmp_path / "wide.csv"))
    np.save(tmp_path / "wide.npy", np.zeros((3, 100)))
    assert "transpose" in str(load_error(tmp_path / "wide.npy"))


def test_missing_file(tmp_path):
    assert "not found" in str(load_error(tmp_path / "gone.csv"))


def test_folder(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    assert "folder" in str(load_error(tmp_path / "dir.csv"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_refused_at_once(tmp_path):
    """Opening a FIFO to read waits for a writer: it must be refused before it is opened."""
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    done = threading.Event()

    def release():  # should the loader block after all, a writer that comes and goes frees it
        if not done.wait(10):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=release, daemon=True).start()
    start = time.perf_counter()
    try:
        err = load_error(fifo)
    finally:
        done.set()
    assert time.perf_counter() - start < 2.0
    assert "named pipe (FIFO)" in str(err) and "regular file" in str(err)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_device_is_refused(tmp_path):
    link = tmp_path / "null.csv"
    link.symlink_to("/dev/null")
    assert "character device" in str(load_error(link))


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable(tmp_path):
    path = write(tmp_path, "secret.csv", "1\n2\n")
    path.chmod(0)
    try:
        assert "permission" in str(load_error(path))
    finally:
        path.chmod(0o600)


def test_unreadable_via_os_error(tmp_path, monkeypatch):
    import engines.regular_files

    path = write(tmp_path, "secret.csv", "1\n2\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(engines.regular_files.os, "open", refuse)
    assert "permission denied" in str(load_error(path))


@pytest.mark.parametrize("name", ["a.xlsx", "a", "a.json"])
def test_unknown_suffix(tmp_path, name):
    err = load_error(write(tmp_path, name, "1\n2\n"))
    assert ".csv, .tsv, .npy, .npz, .txt" in str(err)


def test_pickle_is_refused(tmp_path):
    """An object array is a pickle: loading it could run code, so it must never be unpickled."""
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert "pickled" in str(load_error(tmp_path / "evil.npy"))
    np.savez(tmp_path / "evil.npz", data=np.array([1, "x"], dtype=object))
    assert "pickled" in str(load_error(tmp_path / "evil.npz"))


@pytest.mark.parametrize(
    "array",
    [
        np.ones(4, dtype=np.complex64),
        np.zeros(4, dtype=[("a", "f4"), ("b", "i4")]),
        np.array(["a", "b", "c"]),
        np.zeros((3, 2, 2)),
        np.float64(1.0),
        np.zeros((5, 0)),
    ],
)
def test_unusable_npy(tmp_path, array):
    np.save(tmp_path / "a.npy", array)
    load_error(tmp_path / "a.npy")


def test_npy_nan_names_the_index(tmp_path):
    array = np.zeros((5, 2))
    array[3, 1] = np.inf
    np.save(tmp_path / "a.npy", array)
    assert "step 3, channel 1" in str(load_error(tmp_path / "a.npy"))


def test_truncated_npy(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.arange(100.0))
    write(tmp_path, "a.npy", buffer.getvalue()[:-10])
    assert "truncated" in str(load_error(tmp_path / "a.npy"))


def test_bad_npz(tmp_path):
    assert "npz" in str(load_error(write(tmp_path, "a.npz", b"PK\x03\x04 not really")))
    with zipfile.ZipFile(tmp_path / "b.npz", "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "no .npy" in str(load_error(tmp_path / "b.npz"))


def test_npz_error_names_the_array(tmp_path):
    np.savez(tmp_path / "a.npz", sequence=np.array([1.0, np.nan, 2.0]))
    err = str(load_error(tmp_path / "a.npz"))
    assert "array 'sequence'" in err and "step 1" in err


# --- saving ---------------------------------------------------------------------------------


def test_save_round_trip(tmp_path):
    values = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    data = SequenceData(values=values, channel_names=("a", "b,c", "d"), source="drawing")
    save_sequence_csv(data, tmp_path / "out.csv")
    back = load_sequence(tmp_path / "out.csv")
    np.testing.assert_array_equal(back.values, values)
    assert back.channel_names == ("a", "b,c", "d")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


def test_save_replaces_atomically(tmp_path, monkeypatch):
    path = write(tmp_path, "out.csv", "old\n1\n2\n")
    data = SequenceData(values=np.zeros((3, 1)))

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        save_sequence_csv(data, path)
    assert path.read_text() == "old\n1\n2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_save_symbols(tmp_path):
    data = SequenceData(symbols=np.array([0, 2, 1]), alphabet=("a", "b", "c"))
    save_sequence_csv(data, tmp_path / "s.csv")
    np.testing.assert_array_equal(load_sequence(tmp_path / "s.csv").values[:, 0], [0, 2, 1])


def test_sequence_data_validation():
    with pytest.raises(ValueError):
        SequenceData()
    with pytest.raises(ValueError):
        SequenceData(symbols=np.array([0, 3]), alphabet=("a", "b"))
    with pytest.raises(ValueError):
        SequenceData(values=np.zeros((3, 2)), channel_names=("one",))


# --- fuzzing: only SequenceData or SequenceLoadError ------------------------------------------

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def only_clean_outcomes(path):
    try:
        data = load_sequence(path)
    except SequenceLoadError as err:
        assert path.name in str(err)
        return
    assert isinstance(data, SequenceData)
    assert 2 <= data.length <= MAX_STEPS
    if not data.is_symbolic:
        assert np.isfinite(data.values).all()


@FUZZ
@given(
    raw=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".tsv", ".txt", ".npy", ".npz"])
)
def test_random_bytes(tmp_path, raw, suffix):
    only_clean_outcomes(write(tmp_path, "fuzz" + suffix, raw))


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@FUZZ
@given(
    raw=st.builds(
        _npy_bytes, st.lists(st.floats(width=32), min_size=0, max_size=20).map(np.float32)
    ),
    cut=st.integers(0, 200),
    flip=st.integers(0, 255),
)
def test_damaged_npy(tmp_path, raw, cut, flip):
    """Near-valid files reach deeper code than random bytes: cut or corrupt a real .npy."""
    damaged = bytearray(raw[: max(len(raw) - cut, 0)] if cut % 2 else raw)
    if damaged:
        damaged[flip % len(damaged)] ^= 0xFF
    only_clean_outcomes(write(tmp_path, "fuzz.npy", bytes(damaged)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.npy", bytes(damaged))
    only_clean_outcomes(write(tmp_path, "fuzz.npz", buffer.getvalue()))


_cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**50), 10**50).map(str),
    st.sampled_from(["", " ", "abc", "1,5", '"x"', '"', "1e", "-", ".", "nan", "1_0", "\x00"]),
    st.text(max_size=4),
)
_line = st.lists(_cell, max_size=5).flatmap(
    lambda cells: st.sampled_from([",", ";", "\t", " "]).map(lambda d: d.join(cells))
)


@FUZZ
@given(
    lines=st.lists(_line, max_size=12),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    suffix=st.sampled_from([".csv", ".tsv", ".txt"]),
)
def test_csv_like_text(tmp_path, lines, newline, suffix):
    only_clean_outcomes(
        write(tmp_path, "fuzz" + suffix, newline.join(lines).encode("utf-8", "surrogatepass"))
    )


def test_loader_imports_no_qt_and_no_torch():
    """The headless command line loads sequences on machines without Qt."""
    code = (
        "import sys, playground.files; "
        "sys.exit(any(m.startswith(('PySide6', 'pyqtgraph', 'torch', 'widgets')) for m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_save_keeps_ordinary_permissions(tmp_path):
    save_sequence_csv(SequenceData(values=np.zeros((2, 1))), tmp_path / "new.csv")
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o644
    (tmp_path / "new.csv").chmod(0o664)
    save_sequence_csv(SequenceData(values=np.ones((2, 1))), tmp_path / "new.csv")
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o664
