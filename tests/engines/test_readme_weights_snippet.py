"""The snippet in docs/weights_in_plain_torch.md (copied into the README) does what it says:
our exported weights load into a plain ``torch.nn.LSTM`` plus ``torch.nn.Linear`` and give the
engine's outputs exactly. The snippet asserts that itself; this test runs it as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from engines.checkpoint import save_weights
from engines.engine import create_engine

DOC = Path(__file__).resolve().parents[2] / "docs" / "weights_in_plain_torch.md"


def _snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, f"{DOC.name} should hold exactly one python block"
    return blocks[0]


def test_the_readme_shows_the_same_snippet():
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"```python\n{_snippet()}```" in readme


def test_snippet_is_short():
    assert len(_snippet().strip().splitlines()) <= 12


@pytest.mark.parametrize("layers", [1, 2])
def test_snippet_runs_and_matches_the_engine(tmp_path, monkeypatch, layers):
    engine = create_engine("lstm", 3, 16, 2, num_layers=layers, seed=5)
    with torch.no_grad():
        for parameter in engine.parameters():  # trained-looking weights, not the init
            parameter.add_(0.1 * torch.randn_like(parameter))
    save_weights(engine, tmp_path / "weights.safetensors")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_snippet(), str(DOC), "exec"), namespace)
    assert namespace["outputs"].shape == (4, 50, 2)
    assert isinstance(namespace["lstm"], torch.nn.LSTM)
    assert isinstance(namespace["head"], torch.nn.Linear)
