"""Atomic writes for every export: a temporary file in the same folder, then a rename, so a
crash, a full disk or a cancelled render never leaves half a file where a good one was, and a
failure says which file and why in words.

Standard library only (widgets may not import ``engines.atomic_files``; this mirrors it and
adds the messages).
"""

from __future__ import annotations

import contextlib
import errno as errno_codes
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


class ExportError(OSError):
    """A figure or file could not be written; the message names the file and the reason."""


def atomic_write(path: os.PathLike | str, write: Callable[[str], None], suffix: str = "") -> Path:
    """Call ``write(temporary_path)`` and rename the result over ``path``.

    The temporary file lives in the same folder (a rename within one file system is atomic) and
    ends in ``suffix`` for writers that pick a format by the name. On any error, or a
    ``KeyboardInterrupt``, the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise ExportError(errno_codes.EISDIR, f"cannot write {target}: it is a folder")
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=folder, prefix=f".{target.name}.", suffix=suffix or ".tmp"
        )
    except OSError as error:
        raise export_error(target, error) from None
    os.close(descriptor)
    try:
        with contextlib.suppress(OSError):
            os.chmod(temporary, _new_file_mode(target))
        write(temporary)
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise export_error(target, error) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> Path:
    def write(temporary: str) -> None:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    return atomic_write(path, write, suffix=Path(path).suffix)


def export_error(target: Path, error: OSError) -> ExportError:
    """``error`` as an :class:`ExportError` that names ``target`` and says why in words."""
    if isinstance(error, ExportError):
        return error
    reasons = {
        errno_codes.ENOENT: "the folder does not exist",
        errno_codes.ENOTDIR: "the folder does not exist (a part of the path is a file)",
        errno_codes.EACCES: "no permission to write there",
        errno_codes.EPERM: "no permission to write there",
        errno_codes.EROFS: "the folder is on a read-only file system",
        errno_codes.ENOSPC: "the disk is full",
        errno_codes.EDQUOT: "the disk quota is used up",
    }
    reason = reasons.get(error.errno) or error.strerror or str(error)
    return ExportError(error.errno, f"cannot write {target}: {reason}")


def _new_file_mode(path: Path) -> int:
    """The mode of the file being replaced, else 0666 less the umask (``mkstemp`` makes 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
