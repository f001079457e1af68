"""Weights files: round trips are exact, every bad file is refused with a message naming it,
and a ``.pt`` pickle that would run code is refused without running it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engines.checkpoint import (
    FORMAT_VERSION,
    WeightsFileError,
    load_weights,
    read_weights_file,
    save_weights,
    sidecar_path,
)
from engines.engine import create_engine


def _engine(kind: str = "lstm", layers: int = 2):
    return create_engine(kind, 3, 8, 2, num_layers=layers, forget_bias=2.0, seed=7)


def _inputs():
    return torch.randn(4, 11, 3, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_round_trip_is_bit_exact(tmp_path, suffix, kind):
    engine = _engine(kind)
    path = save_weights(engine, tmp_path / f"w{suffix}")
    assert path == tmp_path / f"w{suffix}"
    assert sidecar_path(path) == tmp_path / "w.json"
    loaded = load_weights(path)
    assert loaded.config == engine.config
    with torch.no_grad():
        assert torch.equal(loaded(_inputs()), engine(_inputs()))
    for name, tensor in engine.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_default_suffix_is_safetensors_and_sidecar_holds_config(tmp_path):
    engine = _engine()
    path = save_weights(engine, tmp_path / "model")
    assert path.name == "model.safetensors"
    sidecar = json.loads((tmp_path / "model.json").read_text())
    assert sidecar["version"] == FORMAT_VERSION
    assert sidecar["engine"] == engine.config.to_dict()
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.safetensors"]


def test_overwrite_replaces_the_file(tmp_path):
    save_weights(_engine("rnn"), tmp_path / "w.pt")
    engine = _engine("gru", layers=1)
    save_weights(engine, tmp_path / "w.pt")
    assert load_weights(tmp_path / "w.pt").config == engine.config


def _expect(path, *fragments):
    with pytest.raises(WeightsFileError) as caught:
        load_weights(path)
    message = str(caught.value)
    assert Path(path).name in message or sidecar_path(path).name in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_unknown_suffix(tmp_path):
    with pytest.raises(WeightsFileError, match="unknown weights suffix '.bin'"):
        save_weights(_engine(), tmp_path / "w.bin")
    (tmp_path / "w.bin").write_bytes(b"x")
    _expect(tmp_path / "w.bin", "unknown weights suffix")


def test_missing_file(tmp_path):
    _expect(tmp_path / "nothing.safetensors", "no such file")


def test_missing_sidecar_reads_the_engine_from_the_shapes(tmp_path):
    engine = _engine()
    path = save_weights(engine, tmp_path / "w.safetensors")
    sidecar_path(path).unlink()
    loaded = read_weights_file(path)
    assert loaded.source == "plain torch"
    assert any("sidecar w.json is missing" in note for note in loaded.notes), loaded.notes
    wanted = engine.config
    got = loaded.config
    assert (got.kind, got.input_size, got.hidden_size, got.output_size, got.num_layers) == (
        wanted.kind,
        wanted.input_size,
        wanted.hidden_size,
        wanted.output_size,
        wanted.num_layers,
    )
    with torch.no_grad():
        assert torch.equal(loaded.build()(_inputs()), engine(_inputs()))


def test_bad_json_sidecar(tmp_path):
    path = save_weights(_engine(), tmp_path / "w.safetensors")
    sidecar_path(path).write_text('{"version": 1,')
    _expect(path, "not valid JSON", "line 1")


def test_wrong_version(tmp_path):
    path = save_weights(_engine(), tmp_path / "w.pt")
    data = json.loads(sidecar_path(path).read_text())
    data["version"] = 99
    sidecar_path(path).write_text(json.dumps(data))
    _expect(path, "unsupported sidecar version 99")


def test_bad_engine_config_in_sidecar(tmp_path):
    path = save_weights(_engine(), tmp_path / "w.pt")
    data = json.loads(sidecar_path(path).read_text())
    data["engine"]["kind"] = "transformer"
    sidecar_path(path).write_text(json.dumps(data))
    _expect(path, "bad engine config", "kind must be one of")


def test_sidecar_of_another_engine_mismatches(tmp_path):
    path = save_weights(_engine("lstm"), tmp_path / "w.safetensors")
    other = save_weights(create_engine("lstm", 3, 16, 2, num_layers=2), tmp_path / "o.pt")
    sidecar_path(path).write_text(sidecar_path(other).read_text())
    _expect(path, "tensor core.weight_ih_l0 has shape (32, 3)", "(64, 3)")


def test_missing_and_unexpected_tensors(tmp_path):
    engine = _engine(layers=2)
    state = engine.state_dict()
    del state["readout.bias"]
    state["extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "w.pt")
    save_weights(engine, tmp_path / "ref.pt")
    sidecar_path(tmp_path / "w.pt").write_text(sidecar_path(tmp_path / "ref.pt").read_text())
    _expect(tmp_path / "w.pt", "missing tensors readout.bias", "unexpected tensors extra")


def test_non_finite_tensor(tmp_path):
    engine = _engine()
    with torch.no_grad():
        engine.readout.bias[0] = float("nan")
    path = save_weights(engine, tmp_path / "w.safetensors")
    _expect(path, "readout.bias contains NaN")


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_unreadable_file(tmp_path, suffix):
    path = save_weights(_engine(), tmp_path / f"w{suffix}")
    path.write_bytes(b"this is not a weights file at all")
    _expect(path, f"not a readable {suffix} file")


def test_pickle_that_is_not_a_state_dict(tmp_path):
    path = save_weights(_engine(), tmp_path / "w.pt")
    torch.save([torch.zeros(2)], path)
    _expect(path, "holds a list, not a plain state_dict")
    torch.save({"model": {"a": torch.zeros(1)}}, path)
    _expect(path, "not a plain state_dict")


class _Payload:
    """Unpickling this calls ``open(target, "w")``: a file appears if the pickle runs code."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_malicious_pickle_does_not_run(tmp_path):
    engine = _engine()
    save_weights(engine, tmp_path / "ref.pt")

    # The payload works: an unsafe load does create the file (proves the test is meaningful).
    proof_target = tmp_path / "proof_created"
    torch.save({"core.weight_ih_l0": _Payload(proof_target)}, tmp_path / "proof.pt")
    torch.load(tmp_path / "proof.pt", weights_only=False)
    assert proof_target.exists()

    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"core.weight_ih_l0": _Payload(target)}, path)
    sidecar_path(path).write_text(sidecar_path(tmp_path / "ref.pt").read_text())
    _expect(path, "refused to load", "not a plain state_dict")
    assert not target.exists()


# --- the pair is written as one ----------------------------------------------------------------
def _disk_full_at(monkeypatch, name: str) -> None:
    """The disk fills up half way through writing the file ``name`` (its temporary file)."""
    import errno
    import os

    from engines import atomic_files

    real = atomic_files._write_synced

    def write(path, data):
        if Path(path).name.startswith(f".{name}."):
            with open(path, "wb") as handle:
                handle.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(atomic_files, "_write_synced", write)


@pytest.mark.parametrize("failing", ["w.json", "w.safetensors"])
def test_a_failed_export_leaves_the_previous_pair_intact(tmp_path, monkeypatch, failing):
    before = _engine("rnn", layers=1)
    save_weights(before, tmp_path / "w.safetensors")
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    _disk_full_at(monkeypatch, failing)
    with pytest.raises(OSError, match="No space left") as caught:
        save_weights(_engine("gru"), tmp_path / "w.safetensors")
    assert caught.value.filename == str(tmp_path / failing)  # names the file, not a temporary
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files  # no temporary left
    assert load_weights(tmp_path / "w.safetensors").config == before.config


@pytest.mark.parametrize("failing", ["w.json", "w.pt"])
def test_a_failed_first_export_leaves_nothing(tmp_path, monkeypatch, failing):
    _disk_full_at(monkeypatch, failing)
    with pytest.raises(OSError, match="No space left"):
        save_weights(_engine(), tmp_path / "w.pt")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_puts_the_previous_pair_back(tmp_path, monkeypatch):
    """Renames need no space, but one may still fail (a file system gone read-only): the
    sidecar already replaced gets its previous file back."""
    import os

    from engines import atomic_files

    before = _engine("rnn", layers=1)
    save_weights(before, tmp_path / "w.safetensors")
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = os.replace

    def replace(source, target):
        if Path(target).name == "w.safetensors":
            raise OSError(30, "Read-only file system")
        return real(source, target)

    monkeypatch.setattr(atomic_files.os, "replace", replace)
    with pytest.raises(OSError, match="Read-only"):
        save_weights(_engine("gru"), tmp_path / "w.safetensors")
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files
    assert load_weights(tmp_path / "w.safetensors").config == before.config
