"""The gradient flow keeps numpy's BLAS to one thread, leaving torch's thread pool alone:
OpenBLAS threads spinning beside torch's OpenMP threads made a probed step cost several
times what the probe measured (engines/threads.py). Checked in a fresh interpreter, since the
limit holds for the whole process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("threadpoolctl")

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import json
import torch
from threadpoolctl import threadpool_info
from engines.engine import create_engine

def blas_threads():
    return [p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openblas"]

torch.set_num_threads(2)
engine = create_engine("gru", 2, 8, 1)
before = blas_threads()
engine.gradient_flow(torch.randn(1, 5, 2), lambda out: out.square().mean())
print(json.dumps({"before": before, "after": blas_threads(), "torch": torch.get_num_threads()}))
"""


def test_gradient_flow_runs_numpy_blas_single_threaded_and_leaves_torch_alone():
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        env={"OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    threads = json.loads(done.stdout.strip().splitlines()[-1])
    if not threads["before"]:
        pytest.skip("numpy here does not use OpenBLAS")
    assert threads["before"] == [2]
    assert threads["after"] == [1]
    assert threads["torch"] == 2
