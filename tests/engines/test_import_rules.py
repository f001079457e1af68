"""Import boundaries, checked in a fresh interpreter each.

- ``engines`` (every module, found by walking the package) loads no Qt: it trains on the GPU
  machine, which has no Qt (design notes, section 6).
- ``widgets`` (every module) loads neither torch nor the engines: views take numpy arrays.
- ``playground`` alone loads no Qt: the headless command line and the trainer process import
  it on machines without Qt; so do its modules that promise to be Qt-free.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "shiboken6", "pyqtgraph")

_PROBE = """
import importlib, json, pkgutil, sys

spec = json.loads(sys.argv[1])
forbidden = spec["forbidden"]


def loaded():
    return {m for m in sys.modules if m.startswith(tuple(forbidden))}


result = {"imported": [], "offenders": {}}


def load(name):
    before = loaded()
    importlib.import_module(name)
    result["imported"].append(name)
    new = sorted(loaded() - before)
    if new:
        result["offenders"][name] = new[:5]


for name in spec["modules"]:
    load(name)
for package in spec["walk"]:
    load(package)
    for info in pkgutil.walk_packages(sys.modules[package].__path__, package + "."):
        load(info.name)
result["all_loaded"] = sorted(loaded())
print(json.dumps(result))
"""


def fresh_imports(*, forbidden, modules=(), walk=()) -> dict:
    """Import ``modules`` and every module of the ``walk`` packages in a new interpreter; say
    which of them loaded a module starting with one of ``forbidden``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    spec = {"forbidden": list(forbidden), "modules": list(modules), "walk": list(walk)}
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, f"import failed:\n{completed.stderr[-4000:]}"
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_engines_load_no_qt():
    result = fresh_imports(
        forbidden=QT,
        modules=(
            "engines",
            "engines.engine",
            "engines.probe",
            "engines.stepper",
            "engines.gradient_flow",
            "engines.devices",
        ),
        walk=("engines",),
    )
    # The walk really covered the package, subpackages included.
    assert {"engines.config", "engines.probe_schedule", "engines.tasks"} <= set(result["imported"])
    assert result["offenders"] == {}, f"Qt imported by engines: {result['offenders']}"
    assert result["all_loaded"] == []


@pytest.mark.skipif(
    not (_has("PySide6") and _has("pyqtgraph")), reason="needs PySide6 and pyqtgraph"
)
def test_widgets_load_neither_torch_nor_engines():
    result = fresh_imports(forbidden=("torch", "engines"), walk=("widgets",))
    assert "widgets.time_cursor" in result["imported"]
    assert result["offenders"] == {}, f"torch/engines imported by widgets: {result['offenders']}"


def test_playground_package_loads_no_qt():
    result = fresh_imports(forbidden=QT, modules=("playground",))
    assert result["all_loaded"] == [], f"import playground loaded {result['all_loaded'][:5]}"


@pytest.mark.parametrize("module", ["playground.cli", "playground.trainer_process"])
def test_headless_playground_modules_load_no_qt(module):
    if not (ROOT / (module.replace(".", "/") + ".py")).exists():
        pytest.skip(f"{module} does not exist yet")
    result = fresh_imports(forbidden=QT, modules=(module,))
    assert result["all_loaded"] == [], f"import {module} loaded {result['all_loaded'][:5]}"
