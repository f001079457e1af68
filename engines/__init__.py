"""Recurrent engines, their introspection, the memory tasks and the training loop.

PyTorch and numpy only: nothing here imports Qt, so all of it runs headless (the GPU machine
has no Qt) and can be scripted::

    from engines import create_engine, Clamp

    engine = create_engine("lstm", input_size=2, hidden_size=32, output_size=1, seed=0)
    trace = engine.trace(x, interventions=[Clamp("forget", 1.0)])

The public names below are loaded on first use (PEP 562), not when the package is imported:
Qt-free, torch-free helpers such as ``engines.atomic_files`` and ``engines.config`` stay cheap
to import for the parts of the app that need no torch (loading a sequence file, the command
line's option parsing).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Public name -> the module that defines it.
_EXPORTS = {
    "create_engine": "engines.engine",
    "build_engine": "engines.engine",
    "RecurrentEngine": "engines.engine",
    "EngineConfig": "engines.config",
    "Trace": "engines.probe",
    "GradientFlow": "engines.gradient_flow",
    "Clamp": "engines.interventions",
    "Ablate": "engines.interventions",
    "SetBias": "engines.interventions",
    "memory_unit": "engines.interventions",
    "Trainer": "engines.training",
    "TrainingConfig": "engines.training",
    "run_training": "engines.training",
    "Snapshot": "engines.training",
    "ProbeFrame": "engines.training",
    "create_task": "engines.tasks",
    "save_weights": "engines.checkpoint",
    "load_weights": "engines.checkpoint",
}

__all__ = [
    "Ablate",
    "Clamp",
    "EngineConfig",
    "GradientFlow",
    "ProbeFrame",
    "RecurrentEngine",
    "SetBias",
    "Snapshot",
    "Trace",
    "Trainer",
    "TrainingConfig",
    "build_engine",
    "create_engine",
    "create_task",
    "load_weights",
    "memory_unit",
    "run_training",
    "save_weights",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engines' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # next time, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from engines.checkpoint import load_weights, save_weights
    from engines.config import EngineConfig
    from engines.engine import RecurrentEngine, build_engine, create_engine
    from engines.gradient_flow import GradientFlow
    from engines.interventions import Ablate, Clamp, SetBias, memory_unit
    from engines.probe import Trace
    from engines.tasks import create_task
    from engines.training import ProbeFrame, Snapshot, Trainer, TrainingConfig, run_training
