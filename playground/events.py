"""A minimal Qt-free event emitter for the run's record (napari's ``EventEmitter`` habit).

The record (``playground.experiment``) must work with no display, in scripts and tests, so it
cannot use Qt signals; views connect plain callables instead. A callback that raises does not
stop the others: the error is kept and re-raised after every callback ran, so one broken view
never hides an update from the rest.
"""

from __future__ import annotations

from collections.abc import Callable


class EventEmitter:
    """``connect(callback)``; ``emit(*args)`` calls every callback in connection order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable] = []
        self.blocked = False

    def connect(self, callback: Callable) -> Callable:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable | None = None) -> None:
        """Remove ``callback`` (all callbacks when None); an unknown one is ignored."""
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args) -> None:
        if self.blocked:
            return
        first_error = None
        for callback in list(self._callbacks):
            try:
                callback(*args)
            except Exception as error:  # noqa: BLE001 - re-raised below, after the others ran
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def __len__(self) -> int:
        return len(self._callbacks)


class EventGroup:
    """Named emitters as attributes: ``group.frame_added.connect(...)``."""

    def __init__(self, *names: str) -> None:
        self._names = names
        for name in names:
            setattr(self, name, EventEmitter(name))

    def disconnect_all(self) -> None:
        for name in self._names:
            getattr(self, name).disconnect()
