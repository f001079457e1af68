"""Refuse, at once, to read anything that is not a regular file.

Opening a named pipe for reading waits until some process writes to it, and reading a device
such as ``/dev/zero`` never ends: a FIFO called ``x.csv`` would freeze the window or the command
line for good. Every reader of user-chosen paths (sequences, weights, experiments) asks here
first, and gets a ``NotRegularFileError`` (a ``ValueError``) whose message names the file.

Standard library only, so the engines, the loaders, the command line and the app can all use
it (engines may not import playground; playground re-exports this as
``playground.files.regular``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: What each non-regular kind of file is called in a message.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFileError(ValueError):
    """``path`` is missing, unreadable or not a regular file; ``str(error)`` names it.

    ``problem`` is the message without the path, for callers that wrap it in their own
    error type (which then names the file its own way); ``missing`` says there is nothing at
    ``path`` at all.
    """

    def __init__(self, path: os.PathLike | str, problem: str, missing: bool = False) -> None:
        self.path = Path(path)
        self.problem = problem
        self.missing = missing
        super().__init__(f"{self.path}: {problem}")


def file_kind(mode: int) -> str:
    """``"a folder"``, ``"a named pipe (FIFO)"``... for an ``st_mode``; ``"a regular file"``."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def _refuse(path: os.PathLike | str, mode: int, what: str) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(
            path, f"is {file_kind(mode)}, not a {what}; only regular files can be opened"
        )


def check_regular_file(path: os.PathLike | str, what: str = "file") -> os.stat_result:
    """Return ``os.stat(path)`` (links followed) if it is a regular file, without opening it.

    Parameters
    ----------
    path:
        The file the user chose.
    what:
        What it should be, for the message: ``"sequence file"``, ``"weights file"``...

    Raises
    ------
    NotRegularFileError
        When it does not exist, cannot be looked at, or is a folder, FIFO, device or socket.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise NotRegularFileError(path, "no such file", missing=True) from None
    except OSError as error:
        raise NotRegularFileError(path, f"cannot be read: {error.strerror or error}") from None
    _refuse(path, info.st_mode, what)
    return info


def read_regular_file(
    path: os.PathLike | str, what: str = "file", max_bytes: int | None = None
) -> bytes:
    """Every byte of the regular file ``path``, never blocking on a FIFO or device.

    The file is opened non-blocking and checked on the open descriptor, so a path that
    becomes a FIFO after :func:`check_regular_file` looked at it is refused too. A file larger
    than ``max_bytes`` is refused before it is read.

    Raises ``NotRegularFileError`` for what :func:`check_regular_file` refuses and for a file
    that is too large; ``OSError`` (``PermissionError``...) when it cannot be opened or read.
    """
    check_regular_file(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        _refuse(path, info.st_mode, what)
        if max_bytes is not None and info.st_size > max_bytes:
            raise NotRegularFileError(
                path,
                f"file is {info.st_size / 2**20:.0f} MiB; files up to {max_bytes / 2**20:.0f} MiB "
                "are read",
            )
        return handle.read()
