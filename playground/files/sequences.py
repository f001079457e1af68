"""Load the user's own sequences from CSV/TSV, NPY/NPZ and plain text, and save drawings as CSV.

numpy and the standard library only: the headless command line loads sequences on machines
without Qt. Every failure, whatever its cause, becomes a ``SequenceLoadError`` whose message names
the file, the place (line/column or array index) and what would have been accepted, so the window
can show it as is and keep running.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.lib.format as npy_format

from engines.atomic_files import atomic_path
from engines.regular_files import NotRegularFileError, read_regular_file

MIN_STEPS = 2
MAX_STEPS = 100_000
MAX_CHANNELS = 64
MAX_SYMBOLS = 256
# 100,000 rows x 64 channels of long decimals fit well below this; it stops a huge file early.
MAX_FILE_BYTES = 256 * 1024 * 1024
SUFFIXES = (".csv", ".tsv", ".npy", ".npz", ".txt")
NPZ_PREFERRED = ("sequence", "values", "data")

_CSV_RULE = "CSV cells must be numbers (header row optional)"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NON_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
_F32_MAX = float(np.finfo(np.float32).max)


class SequenceLoadError(ValueError):
    """A sequence file that cannot be used; ``str(error)`` is a message fit for the user."""

    def __init__(
        self,
        path: os.PathLike | str,
        problem: str,
        line: int | None = None,
        column: int | None = None,
    ):
        self.path = Path(path)
        self.line = line
        self.column = column
        self.problem = problem
        where = self.path.name
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, eq=False)
class SequenceData:
    """One sequence: continuous ``values`` (T, channels) float32, or ``symbols`` (T,) int64 that
    index ``alphabet``. Arrays are made read-only so a shared instance cannot change under a view.
    ``note`` says how the file was read (delimiter, header, which array of an archive)."""

    values: np.ndarray | None = None
    symbols: np.ndarray | None = None
    alphabet: tuple[str, ...] = ()
    channel_names: tuple[str, ...] = ()
    source: str = ""
    note: str = field(default="")

    def __post_init__(self) -> None:
        if (self.values is None) == (self.symbols is None):
            raise ValueError("give exactly one of values (continuous) or symbols (symbolic)")
        if self.values is not None:
            values = np.array(self.values, dtype=np.float32)
            if values.ndim == 1:
                values = values[:, None]
            if values.ndim != 2:
                raise ValueError(f"values must be (T, channels), got shape {values.shape}")
            values.setflags(write=False)
            object.__setattr__(self, "values", values)
            names = self.channel_names or tuple(f"ch{i}" for i in range(values.shape[1]))
        else:
            symbols = np.array(self.symbols, dtype=np.int64).reshape(-1)
            if symbols.size and (symbols.min() < 0 or symbols.max() >= len(self.alphabet)):
                raise ValueError("symbols must index the alphabet")
            symbols.setflags(write=False)
            object.__setattr__(self, "symbols", symbols)
            names = self.channel_names or ("symbol",)
        object.__setattr__(self, "alphabet", tuple(self.alphabet))
        object.__setattr__(self, "channel_names", tuple(str(n) for n in names))
        if len(self.channel_names) != self.n_channels:
            raise ValueError(
                f"{len(self.channel_names)} channel names for {self.n_channels} channels"
            )

    @property
    def is_symbolic(self) -> bool:
        return self.symbols is not None

    @property
    def length(self) -> int:
        return len(self.symbols) if self.symbols is not None else self.values.shape[0]

    @property
    def n_channels(self) -> int:
        return 1 if self.symbols is not None else self.values.shape[1]


def load_sequence(path: os.PathLike | str) -> SequenceData:
    """Read a sequence file, choosing the reader by suffix (see ``SUFFIXES``).

    Raises ``SequenceLoadError`` and nothing else.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        got = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise SequenceLoadError(path, f"unknown file type ({got}); accepted: {', '.join(SUFFIXES)}")
    reader = {".npy": _load_npy, ".npz": _load_npz, ".txt": _load_text}.get(suffix, _load_table)
    data = reader(path, _read_bytes(path))
    _check_length(path, data.length)
    return data


def save_sequence_csv(data: SequenceData, path: os.PathLike | str) -> None:
    """Write ``data`` as CSV with a header row, atomically: a crash mid-write never leaves a
    half-written file where a good one was. Symbolic data is written as symbol indices.

    Raises ``OSError`` when the folder cannot be written.
    """
    path = Path(path)
    table = data.values if data.values is not None else data.symbols[:, None]
    rows = [",".join(_csv_quote(n) for n in data.channel_names)]
    if data.is_symbolic:
        rows += [str(int(v)) for v in table[:, 0]]
    else:  # 9 significant digits round-trip float32 exactly.
        rows += [",".join(format(float(v), ".9g") for v in row) for row in table]
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(rows) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _csv_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"' if any(c in name for c in ',;\t"\n') else name


def _check_length(path: Path, n: int) -> None:
    if not MIN_STEPS <= n <= MAX_STEPS:
        raise SequenceLoadError(
            path,
            f"the sequence has {n:,} step{'s' * (n != 1)}; "
            f"a sequence needs {MIN_STEPS} to {MAX_STEPS:,} steps",
        )


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; a FIFO, device or folder is refused before anything could block."""
    try:
        data = read_regular_file(path, "sequence file", max_bytes=MAX_FILE_BYTES)
    except NotRegularFileError as error:
        if error.missing:
            raise SequenceLoadError(path, "file not found (was it moved or deleted?)") from None
        raise SequenceLoadError(path, error.problem) from None
    except FileNotFoundError:
        raise SequenceLoadError(path, "file not found (was it moved or deleted?)") from None
    except IsADirectoryError:
        raise SequenceLoadError(path, "is a folder, not a file") from None
    except PermissionError:  # Windows reports reading a folder as a permission error.
        problem = (
            "is a folder, not a file" if path.is_dir() else "cannot be read: permission denied"
        )
        raise SequenceLoadError(path, problem) from None
    except OSError as e:
        raise SequenceLoadError(path, f"cannot be read: {e.strerror or e}") from None
    if not data:
        raise SequenceLoadError(path, "file is empty")
    return data


def _decode_text(path: Path, raw: bytes) -> str:
    """Strict UTF-8 (a BOM is allowed); binary files and other encodings get their own message."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SequenceLoadError(path, "file is UTF-16 encoded; save it as UTF-8 text")
    if b"\x00" in raw:
        raise SequenceLoadError(
            path, "looks like a binary file (contains NUL bytes); expected UTF-8 text"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise SequenceLoadError(
            path, f"byte 0x{raw[e.start]:02x} is not UTF-8; text files must be UTF-8", line, column
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _load_text(path: Path, raw: bytes) -> SequenceData:
    """Every character (newlines included) is one symbol; the alphabet is the sorted set."""
    text = _decode_text(path, raw)
    _check_length(path, len(text))
    alphabet = sorted(set(text))
    if len(alphabet) > MAX_SYMBOLS:
        raise SequenceLoadError(
            path,
            f"text uses {len(alphabet)} different characters; at most {MAX_SYMBOLS} are allowed",
        )
    lookup = {c: i for i, c in enumerate(alphabet)}
    symbols = np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))
    return SequenceData(
        symbols=symbols,
        alphabet=tuple(alphabet),
        source=path.name,
        note=f"{len(text):,} characters, {len(alphabet)} symbols",
    )


def _sniff_delimiter(first_row: str, suffix: str) -> str | None:
    """Tab, then semicolon, then comma, whichever the first row holds; else whitespace (numpy's
    savetxt) or a single column. Semicolon before comma so '1,5;2,5' (decimal commas) works."""
    for delimiter in ("\t", ";", ","):
        if delimiter in first_row:
            return delimiter
    if suffix == ".tsv":
        return "\t"
    return " " if len(first_row.split()) > 1 else None


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return [line.strip()]
    if delimiter == " ":
        return line.split()
    if '"' not in line:  # The csv module is only needed for quoted cells; str.split is 5x faster.
        return [c.strip() for c in line.split(delimiter)]
    return [c.strip() for c in next(csv.reader([line], delimiter=delimiter))]


def _parse_cell(path: Path, cell: str, line: int, column: int, decimal_comma: bool) -> float:
    text = cell.replace(",", ".") if decimal_comma else cell
    if _NUMBER.fullmatch(text):
        value = float(text)
        if abs(value) <= _F32_MAX:
            return value
        problem = f"{cell!r} is too large; values must lie within ±3.4e38 (float32)"
    elif _NON_FINITE.fullmatch(text):
        problem = f"{cell!r} is not a finite number; NaN and infinity are not accepted"
    elif not cell:
        problem = "empty cell; " + _CSV_RULE
    else:
        problem = f"{cell[:40]!r} is not a number; " + _CSV_RULE
    raise SequenceLoadError(path, problem, line, column)


def _load_table(path: Path, raw: bytes) -> SequenceData:
    """CSV/TSV: one row per step, one column per channel; '#' lines are comments."""
    text = _decode_text(path, raw)
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    numbered = [(i + 1, s) for i, s in enumerate(lines) if not s.lstrip().startswith("#")]
    if not numbered:
        raise SequenceLoadError(path, "file holds no data (only blank or '#' comment lines)")
    delimiter = _sniff_delimiter(numbered[0][1], path.suffix.lower())
    decimal_comma = delimiter == ";"  # Spreadsheets that write ';' write '1,5' for 1.5.
    try:
        first = _split(numbered[0][1], delimiter)
        if len(first) > MAX_CHANNELS:
            raise SequenceLoadError(
                path,
                f"{len(first)} columns; at most {MAX_CHANNELS} channels are allowed",
                numbered[0][0],
            )
        header = None
        cells = (c.replace(",", ".") if decimal_comma else c for c in first)
        if not any(_NUMBER.fullmatch(c) or _NON_FINITE.fullmatch(c) for c in cells):
            header, numbered = first, numbered[1:]
            if not numbered:
                raise SequenceLoadError(path, "file holds only a header row and no data")
        if len(numbered) > MAX_STEPS:
            _check_length(path, len(numbered))
        values = _parse_rows(path, numbered, delimiter, len(first), decimal_comma)
    except csv.Error as e:
        raise SequenceLoadError(path, f"cannot be read as CSV: {e}") from None
    names = tuple(h or f"ch{i}" for i, h in enumerate(header)) if header else ()
    shown = {None: "single column", " ": "whitespace", "\t": "tab"}.get(delimiter, repr(delimiter))
    note = f"delimiter {shown}, " + (f"header: {', '.join(names)}" if header else "no header")
    return SequenceData(values=values, channel_names=names, source=path.name, note=note)


def _parse_rows(path, numbered, delimiter, n_columns, decimal_comma) -> np.ndarray:
    """numpy's C parser reads a clean table ~6x faster than Python; anything it refuses or lets
    through that we do not accept (NaN, inf, too large) is re-read cell by cell by the strict
    ``_parse_cell``, which names the line and column of the first problem."""
    if not decimal_comma:
        try:
            fast = np.loadtxt(
                [line for _, line in numbered],
                delimiter=None if delimiter == " " else delimiter,
                ndmin=2,
                comments=None,
                dtype=np.float64,
            )
            if fast.shape == (len(numbered), n_columns) and np.abs(fast).max() <= _F32_MAX:
                return fast.astype(np.float32)  # NaN fails the test above: max() is then NaN.
        except Exception:  # Any refusal sends us to the strict reader below.
            pass
    values = np.empty((len(numbered), n_columns), dtype=np.float32)
    for row, (line_no, line) in enumerate(numbered):
        if not line.strip():
            raise SequenceLoadError(
                path, "blank line; blank lines are allowed only at the end", line_no
            )
        cells = _split(line, delimiter)
        if len(cells) != n_columns:
            raise SequenceLoadError(
                path,
                f"{len(cells)} columns, expected {n_columns} like the first row; "
                "every row needs one cell per channel",
                line_no,
            )
        for col, cell in enumerate(cells):
            values[row, col] = _parse_cell(path, cell, line_no, col + 1, decimal_comma)
    return values


def _read_npy(path: Path, fp, label: str) -> np.ndarray:
    """Read one .npy stream after checking its header, so bad shapes, object dtypes (pickles) and
    huge arrays (zip bombs) are refused before any data is read. ``allow_pickle=False`` always."""
    try:
        version = npy_format.read_magic(fp)
        read_header = (
            npy_format.read_array_header_1_0
            if version == (1, 0)
            else npy_format.read_array_header_2_0
        )
        shape, _fortran, dtype = read_header(fp)
    except Exception as e:  # numpy raises ValueError, EOFError, SyntaxError... for bad headers.
        raise SequenceLoadError(path, f"{label}is not a valid .npy array ({e})") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        kind = "Python objects (pickled)" if dtype.hasobject else f"dtype {dtype}"
        raise SequenceLoadError(
            path, f"{label}holds {kind}; only plain integer or float arrays are accepted"
        )
    if len(shape) not in (1, 2):
        raise SequenceLoadError(
            path, f"{label}has shape {shape}; expected 1-D (steps,) or 2-D (steps, channels)"
        )
    if len(shape) == 2 and shape[1] > MAX_CHANNELS:
        raise SequenceLoadError(
            path,
            f"{label}has {shape[1]} channels (shape {shape}); at most {MAX_CHANNELS} are allowed "
            "(if it is (channels, steps), transpose it)",
        )
    _check_length(path, shape[0])
    if len(shape) == 2 and shape[1] == 0:
        raise SequenceLoadError(path, f"{label}has shape {shape}: no channels")
    try:
        fp.seek(0)
        return npy_format.read_array(fp, allow_pickle=False)
    except Exception as e:  # truncated data: ValueError, OSError, zlib.error, EOFError...
        raise SequenceLoadError(path, f"{label}is damaged or truncated ({e})") from None


def _array_to_data(path: Path, array: np.ndarray, label: str, note: str) -> SequenceData:
    values = array.reshape(array.shape[0], -1).astype(np.float64)
    bad = ~np.isfinite(values) | (np.abs(values) > _F32_MAX)
    if bad.any():
        step, channel = (int(i) for i in np.argwhere(bad)[0])
        raise SequenceLoadError(
            path,
            f"{label}value at step {step}, channel {channel} is {values[step, channel]!r}; "
            "values must be finite and within ±3.4e38 (no NaN or infinity)",
        )
    return SequenceData(values=values, source=path.name, note=note)


def _load_npy(path: Path, raw: bytes) -> SequenceData:
    array = _read_npy(path, io.BytesIO(raw), "")
    return _array_to_data(path, array, "", f"array of shape {array.shape}, dtype {array.dtype}")


def _load_npz(path: Path, raw: bytes) -> SequenceData:
    """Use the array named sequence/values/data if present, else the archive's first array."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = [n for n in archive.namelist() if n.endswith(".npy")]
            if not members:
                raise SequenceLoadError(path, "the archive holds no .npy arrays")
            names = [m[: -len(".npy")] for m in members]
            name = next((n for n in NPZ_PREFERRED if n in names), names[0])
            label = f"array '{name}' "
            with archive.open(name + ".npy") as fp:
                array = _read_npy(path, fp, label)
    except SequenceLoadError:
        raise
    except Exception as e:  # BadZipFile, zlib.error, OSError, NotImplementedError (compression)...
        raise SequenceLoadError(
            path, f"is not a valid .npz archive ({e}); save it with numpy.savez"
        ) from None
    others = len(members) - 1
    note = f"used array '{name}' of shape {array.shape}" + (
        f" ({others} other array{'s' * (others != 1)} ignored)" if others else ""
    )
    return _array_to_data(path, array, label, note)
