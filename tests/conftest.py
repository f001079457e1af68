"""Test-wide settings: Qt renders offscreen so the suite runs without a display, and the
app's preferences (QSettings) and data folder live in a throw-away folder, never the user's."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHONHASHSEED", "0")
_home = tempfile.mkdtemp(prefix="seq-playground-tests-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_home, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_home, "data")
