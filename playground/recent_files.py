"""The recently opened sequence files, remembered across sessions with QSettings."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

MAX_RECENT = 8
KEY = "recent_sequence_files"
EXPERIMENTS_KEY = "recent_experiments"


class RecentFiles:
    """A most-recent-first list of paths under one QSettings key (sequence files by default,
    experiment folders with ``key=EXPERIMENTS_KEY``). ``settings``: the preferences' QSettings
    (``Preferences.settings``); none, the app's own."""

    def __init__(self, settings: QSettings | None = None, key: str = KEY) -> None:
        self._settings = settings or QSettings("seq-playground", "Sequence Memory Playground")
        self._key = key

    def paths(self) -> list[str]:
        value = self._settings.value(self._key, [])
        if isinstance(value, str):
            value = [value]
        return [str(p) for p in (value or [])][:MAX_RECENT]

    def add(self, path: str) -> None:
        path = os.path.abspath(path)
        paths = [path] + [p for p in self.paths() if p != path]
        self._settings.setValue(self._key, paths[:MAX_RECENT])
