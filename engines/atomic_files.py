"""Atomic file writes, shared by everything that saves: a temporary file in the same folder,
then a rename, so a crash or a full disk never leaves half a file where a good one was.

Standard library only, so the loaders, the command line and the app can all use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def new_file_mode(path: Path) -> int:
    """The mode of the file being replaced, or what a new file gets here (0666 less the
    umask): ``mkstemp`` makes private 0600 files, which an export should not be."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: os.PathLike | str, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path`` to write to; on success it replaces ``path``,
    on any error it is removed and ``path`` is left as it was. ``suffix`` is for writers that
    pick the format by the file name's ending."""
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=suffix
    )
    os.close(descriptor)
    try:
        os.chmod(temporary, new_file_mode(target))
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> Path:
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def atomic_write_text(path: os.PathLike | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
