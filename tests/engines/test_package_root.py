"""The package root is the public API: ``from engines import create_engine, Clamp, ...``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import engines

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {
    "create_engine": "engines.engine",
    "build_engine": "engines.engine",
    "RecurrentEngine": "engines.engine",
    "EngineConfig": "engines.config",
    "Trace": "engines.probe",
    "Clamp": "engines.interventions",
    "Ablate": "engines.interventions",
    "SetBias": "engines.interventions",
    "Trainer": "engines.training",
    "TrainingConfig": "engines.training",
    "run_training": "engines.training",
    "Snapshot": "engines.training",
    "ProbeFrame": "engines.training",
    "create_task": "engines.tasks.registry",
    "save_weights": "engines.checkpoint",
    "load_weights": "engines.checkpoint",
}


def test_every_public_name_is_the_object_its_module_defines():
    import importlib

    for name, module in PUBLIC.items():
        assert getattr(engines, name) is getattr(importlib.import_module(module), name), name
    assert set(PUBLIC) <= set(engines.__all__) <= set(dir(engines))


def test_an_unknown_name_is_an_attribute_error():
    try:
        engines.create_engin  # noqa: B018
    except AttributeError as error:
        assert "create_engin" in str(error)
    else:  # pragma: no cover - the assertion below fails
        raise AssertionError("engines.create_engin did not raise")


def test_importing_the_package_alone_loads_no_torch_and_a_star_import_works():
    code = (
        "import sys, engines, engines.atomic_files, engines.config\n"
        "assert 'torch' not in sys.modules, 'import engines loaded torch'\n"
        "from engines import *\n"
        "engine = create_engine('lstm', 2, 4, 1, seed=0)\n"
        "assert isinstance(engine, RecurrentEngine) and Clamp('f', 1.0).gate == 'forget'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
