"""Where the bundled resources live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

import resources


def resources_dir() -> Path:
    return Path(resources.__file__).resolve().parent


def examples_dir() -> Path:
    return resources_dir() / "examples"
