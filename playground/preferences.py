"""What the app remembers between sessions (QSettings): the last setup, the window's geometry
and docks, the log-scale toggles; and where the last experiment is kept
(``QStandardPaths.AppDataLocation``). Recent files and experiments live in
``playground.recent_files`` under the same QSettings.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6 import QtCore

from resources.default_settings import DEFAULT_SETTINGS

ORGANIZATION = "seq-playground"
APPLICATION = "Sequence Memory Playground"


class Preferences:
    def __init__(self, settings: QtCore.QSettings | None = None, data_dir: Path | None = None):
        self._settings = settings or QtCore.QSettings(ORGANIZATION, APPLICATION)
        self._data_dir = data_dir

    @property
    def settings(self) -> QtCore.QSettings:
        """The QSettings everything here lives in (recent files and experiments too)."""
        return self._settings

    # --- the setup ---------------------------------------------------------------------------
    def last_setup(self) -> dict:
        """The last setup that trained, keys the app knows only (a stale entry is ignored)."""
        text = self._settings.value("last_setup", "")
        try:
            data = json.loads(text) if text else {}
        except (TypeError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if k in DEFAULT_SETTINGS}

    def save_setup(self, settings: dict) -> None:
        plain = {k: v for k, v in settings.items() if k in DEFAULT_SETTINGS}
        self._settings.setValue("last_setup", json.dumps(plain))

    # --- the window --------------------------------------------------------------------------
    def save_window(self, window) -> None:
        self._settings.setValue("geometry", window.saveGeometry())
        self._settings.setValue("window_state", window.saveState())
        self._settings.setValue("log_loss", window.menus.log_loss_action.isChecked())
        self._settings.sync()

    def restore_window(self, window) -> None:
        geometry = self._settings.value("geometry")
        if isinstance(geometry, QtCore.QByteArray) and not geometry.isEmpty():
            window.restoreGeometry(geometry)
        state = self._settings.value("window_state")
        if isinstance(state, QtCore.QByteArray) and not state.isEmpty():
            window.restoreState(state)
        log_loss = self._settings.value("log_loss", False)
        window.menus.log_loss_action.setChecked(str(log_loss).lower() in ("true", "1"))

    # --- the last experiment -----------------------------------------------------------------
    def data_dir(self) -> Path:
        if self._data_dir is None:
            location = QtCore.QStandardPaths.writableLocation(
                QtCore.QStandardPaths.StandardLocation.AppDataLocation
            )
            self._data_dir = Path(location or Path.home() / ".seq-playground")
        return self._data_dir

    def last_experiment_folder(self) -> Path:
        return self.data_dir() / "last-experiment"
