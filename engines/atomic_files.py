"""Atomic file writes, shared by everything that saves: a temporary file in the same folder,
then a rename, so a crash or a full disk never leaves half a file where a good one was.
``atomic_write_files`` does the same for files that belong together (weights and their
sidecar): all are written first, and only then renamed into place.

Standard library only, so the loaders, the command line and the app can all use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
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
    temporary = _temporary_beside(target, suffix)
    try:
        os.chmod(temporary, new_file_mode(target))
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _temporary_beside(target: Path, suffix: str = ".tmp") -> str:
    """A new empty hidden file beside ``target`` (``.NAME.XXXX.tmp``: the name starts with
    the target's, so a cleaner of stale temporaries finds it)."""
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=suffix
    )
    os.close(descriptor)
    return temporary


def _write_synced(path: os.PathLike | str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        _write_synced(temporary, data)
    return Path(path)


def atomic_write_text(path: os.PathLike | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_files(files: Iterable[tuple[os.PathLike | str, bytes]]) -> list[Path]:
    """Write files that belong together (weights and their sidecar, the training state that
    goes with them) as one: each is first written whole to a temporary file beside it, and
    only when all of them are written are they renamed into place, in the order given
    (renames need no space: a full disk fails before anything is replaced).

    A failure while writing leaves every target as it was (or absent, as it was) and no
    temporary file; the OSError names the target whose write failed (``error.filename``).
    Should a rename fail, the targets already replaced get their previous files back.
    Returns the targets' paths."""
    staged: list[tuple[Path, str]] = []
    try:
        for path, data in files:
            target = Path(path)
            try:
                temporary = _temporary_beside(target)
                staged.append((target, temporary))
                os.chmod(temporary, new_file_mode(target))
                _write_synced(temporary, data)
            except OSError as error:
                if error.strerror is not None:  # str(error) then names the target
                    error.filename, error.filename2 = str(target), None
                raise
        _replace_all(staged)
    finally:
        for _target, temporary in staged:
            Path(temporary).unlink(missing_ok=True)
    return [target for target, _ in staged]


def _replace_all(staged: list[tuple[Path, str]]) -> None:
    """Rename each temporary over its target; should one fail, put back what the renames
    before it replaced (from hard links made first; a target that was new is removed)."""
    backups = [_link_backup(target) for target, _ in staged]
    replaced: list[tuple[Path, str | None]] = []
    try:
        for (target, temporary), backup in zip(staged, backups, strict=True):
            os.replace(temporary, target)
            replaced.append((target, backup))
    except BaseException:
        for target, backup in reversed(replaced):
            with contextlib.suppress(OSError):
                if backup is None:
                    target.unlink()
                else:
                    os.replace(backup, target)
        raise
    finally:
        for backup in backups:
            if backup is not None:
                Path(backup).unlink(missing_ok=True)


def _link_backup(target: Path) -> str | None:
    """A hidden hard link to ``target``'s present file; None where there is none, or where
    the file system has no hard links (the writes already passed: the renames go ahead)."""
    if not target.is_file():
        return None
    backup = None
    try:
        backup = _temporary_beside(target, ".old")
        os.unlink(backup)
        os.link(target, backup)
    except OSError:
        if backup is not None:
            Path(backup).unlink(missing_ok=True)
        return None
    return backup
