"""Weights from plain PyTorch: a state_dict of ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (with or
without an ``nn.Linear`` read-out, no sidecar) loads into an engine that computes exactly what
the plain module computes; what cannot be used is refused with a message naming the file; and
a file's engine is compared with the setup in sentences a user can answer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from engines.checkpoint import WeightsFileError, load_weights, read_weights_file
from engines.config import EngineConfig
from engines.weights_fit import config_differences, settings_fix

_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
INPUTS, HIDDEN, OUTPUTS = 3, 8, 2


class Net(nn.Module):
    """The usual way a researcher writes it: a recurrent core and a linear head."""

    def __init__(self, kind: str, layers: int, core_name: str = "rnn", head_name: str = "fc"):
        super().__init__()
        self.core_name, self.head_name = core_name, head_name
        self.add_module(core_name, _MODULES[kind](INPUTS, HIDDEN, layers, batch_first=True))
        self.add_module(head_name, nn.Linear(HIDDEN, OUTPUTS))

    def forward(self, x):
        out, _ = getattr(self, self.core_name)(x)
        return getattr(self, self.head_name)(out)


def _inputs(batch: int = 4, steps: int = 13) -> torch.Tensor:
    return torch.randn(batch, steps, INPUTS, generator=torch.Generator().manual_seed(3))


def _save(state: dict, path: Path, metadata: dict | None = None) -> Path:
    if path.suffix == ".pt":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata=metadata)
    return path


def _refused(path: Path, *fragments: str, **kwargs) -> str:
    with pytest.raises(WeightsFileError) as caught:
        read_weights_file(path, **kwargs)
    message = str(caught.value)
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_module_with_linear_gives_identical_outputs(tmp_path, kind, layers, suffix):
    torch.manual_seed(11)
    net = Net(kind, layers)
    path = _save(net.state_dict(), tmp_path / f"mine{suffix}")
    loaded = read_weights_file(path)
    assert loaded.source == "plain torch"
    assert loaded.readout_from_file
    assert loaded.config == EngineConfig(kind, INPUTS, HIDDEN, OUTPUTS, num_layers=layers)
    engine = loaded.build()
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(engine(x), net(x))


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_bare_module_gives_identical_states_and_a_fresh_readout(tmp_path, kind, layers, suffix):
    torch.manual_seed(12)
    module = _MODULES[kind](INPUTS, HIDDEN, layers)  # time-first: the weights are the same
    path = _save(module.state_dict(), tmp_path / f"bare{suffix}")
    loaded = read_weights_file(path, output_size=5)
    assert not loaded.readout_from_file
    assert loaded.config == EngineConfig(kind, INPUTS, HIDDEN, 5, num_layers=layers)
    assert any("fresh read-out (8 → 5)" in note for note in loaded.notes), loaded.notes
    engine = loaded.build()
    x = _inputs()
    with torch.no_grad():
        plain, _ = module(x.transpose(0, 1))
        assert torch.equal(engine.core(x)[0], plain.transpose(0, 1))
        assert engine(x).shape == (4, 13, 5)
    assert read_weights_file(path).config.output_size == 1  # no size given: one output


@pytest.mark.parametrize(
    ("core_name", "head_name"),
    [("lstm", "head"), ("core", "readout"), ("encoder", "decoder")],
)
def test_prefixed_layouts_load(tmp_path, core_name, head_name):
    torch.manual_seed(13)
    net = Net("lstm", 2, core_name, head_name)
    path = _save(net.state_dict(), tmp_path / "prefixed.pt")
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(load_weights(path)(x), net(x))


def test_data_parallel_prefix_and_checkpoint_dict(tmp_path):
    torch.manual_seed(14)
    net = Net("gru", 1)
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    path = _save({"state_dict": state, "epoch": 7, "optimizer_name": "adam"}, tmp_path / "c.pt")
    loaded = read_weights_file(path)
    assert any("'state_dict' entry" in note for note in loaded.notes), loaded.notes
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded.build()(x), net(x))


def test_kind_is_read_from_the_recurrent_weight_not_the_input_weight(tmp_path):
    # All three have weight_ih_l0 of shape (12, 5): only weight_hh_l0 tells them apart.
    made = {"lstm": nn.LSTM(5, 3), "gru": nn.GRU(5, 4), "rnn": nn.RNN(5, 12)}
    for kind, module in made.items():
        assert module.weight_ih_l0.shape == (12, 5)
        path = _save(module.state_dict(), tmp_path / f"{kind}.safetensors")
        config = read_weights_file(path).config
        assert (config.kind, config.hidden_size, config.input_size) == (
            kind,
            module.hidden_size,
            5,
        )


def test_rnn_notes_that_tanh_is_assumed(tmp_path):
    path = _save(nn.RNN(INPUTS, HIDDEN).state_dict(), tmp_path / "rnn.pt")
    notes = read_weights_file(path).notes
    assert any("tanh is assumed" in note for note in notes), notes


def test_linear_without_bias_gets_a_zero_bias(tmp_path):
    torch.manual_seed(15)
    rnn, head = nn.GRU(INPUTS, HIDDEN, batch_first=True), nn.Linear(HIDDEN, 3, bias=False)
    state = {**{f"gru.{k}": v for k, v in rnn.state_dict().items()}, "out.weight": head.weight}
    loaded = read_weights_file(_save(state, tmp_path / "nobias.safetensors"))
    assert any("has no bias" in note for note in loaded.notes), loaded.notes
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded.build()(x), head(rnn(x)[0]))


def test_double_precision_is_converted_with_a_note(tmp_path):
    torch.manual_seed(16)
    net = Net("lstm", 1).double()
    loaded = read_weights_file(_save(net.state_dict(), tmp_path / "double.pt"))
    assert any("float64 were converted to float32" in n for n in loaded.notes), loaded.notes
    x = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded.build()(x).double(), net(x.double()))


def test_foreign_json_beside_the_file_is_ignored(tmp_path):
    path = _save(Net("rnn", 1).state_dict(), tmp_path / "model.pt")
    (tmp_path / "model.json").write_text('{"learning_rate": 0.1, "epochs": 3}')
    loaded = read_weights_file(path)
    assert loaded.source == "plain torch"
    assert any("model.json beside it is not this program's sidecar" in n for n in loaded.notes)


# --- refused -------------------------------------------------------------------------------
class _Payload:
    """Unpickling this calls ``open(target, "w")``: the file appears if the pickle runs code."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickle_that_runs_code_is_refused_and_runs_nothing(tmp_path):
    state = dict(nn.LSTM(INPUTS, HIDDEN).state_dict())
    proof = tmp_path / "proof_created"
    torch.save({**state, "extra": _Payload(proof)}, tmp_path / "proof.pt")
    torch.load(tmp_path / "proof.pt", weights_only=False)  # an unsafe load does run it
    assert proof.exists()

    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({**state, "extra": _Payload(marker)}, path)
    message = _refused(path, "refused to load", "it asks for")
    assert "weights_only" not in message  # torch's advice to load it unsafely is not passed on
    assert not marker.exists()
    with pytest.raises(WeightsFileError):
        load_weights(path)
    assert not marker.exists()


def test_bidirectional_is_refused(tmp_path):
    path = _save(nn.GRU(INPUTS, HIDDEN, bidirectional=True).state_dict(), tmp_path / "bi.pt")
    _refused(path, "bidirectional", "_reverse")


def test_projections_are_refused(tmp_path):
    module = nn.LSTM(INPUTS, HIDDEN, proj_size=4)
    _refused(
        _save(module.state_dict(), tmp_path / "proj.safetensors"), "projections", "proj_size=4"
    )


def test_relu_rnn_is_refused_by_hint_or_metadata(tmp_path):
    state = nn.RNN(INPUTS, HIDDEN, nonlinearity="relu").state_dict()
    plain = _save(state, tmp_path / "relu.safetensors")
    _refused(plain, "ReLU", "uses tanh", nonlinearity="relu")
    tagged = _save(state, tmp_path / "tagged.safetensors", metadata={"nonlinearity": "relu"})
    _refused(tagged, "ReLU", "metadata")
    in_config = _save(
        {"model": dict(state), "config": {"nonlinearity": "relu"}}, tmp_path / "cfg.pt"
    )
    _refused(in_config, "ReLU", "metadata")
    with pytest.raises(ValueError, match="nonlinearity must be"):
        read_weights_file(plain, nonlinearity="sigmoid")


def test_module_without_biases_is_refused(tmp_path):
    path = _save(nn.LSTM(INPUTS, HIDDEN, bias=False).state_dict(), tmp_path / "nob.pt")
    _refused(path, "bias=False")


def test_integer_and_nan_tensors_are_refused(tmp_path):
    state = dict(nn.GRU(INPUTS, HIDDEN).state_dict())
    ints = {**state, "weight_hh_l0": state["weight_hh_l0"].round().to(torch.int32)}
    _refused(_save(ints, tmp_path / "int.safetensors"), "weight_hh_l0", "floating point")
    nan = {**state, "bias_ih_l0": state["bias_ih_l0"].clone().fill_(float("nan"))}
    _refused(_save(nan, tmp_path / "nan.pt"), "bias_ih_l0", "NaN")


def test_other_tensors_and_no_recurrent_module_are_refused(tmp_path):
    net = Net("lstm", 1)
    extra = {**net.state_dict(), "embed.weight": torch.zeros(30, INPUTS)}
    _refused(_save(extra, tmp_path / "embed.pt"), "embed.weight (30, 3)")
    linear_only = nn.Linear(4, 2).state_dict()
    _refused(_save(linear_only, tmp_path / "linear.pt"), "no recurrent weights")
    cell = nn.LSTMCell(INPUTS, HIDDEN).state_dict()
    _refused(_save(cell, tmp_path / "cell.pt"), "LSTMCell")
    two = {**{f"a.{k}": v for k, v in nn.RNN(3, 4).state_dict().items()}}
    two.update({f"b.{k}": v for k, v in nn.RNN(3, 4).state_dict().items()})
    _refused(_save(two, tmp_path / "two.pt"), "more than one recurrent module")


def test_bad_output_size_names_the_argument(tmp_path):
    path = _save(nn.GRU(INPUTS, HIDDEN).state_dict(), tmp_path / "g.pt")
    with pytest.raises(ValueError, match="output_size must be a positive integer"):
        read_weights_file(path, output_size=0)


# --- does it fit the setup? ----------------------------------------------------------------
def test_differences_are_sentences_with_fixes():
    file_config = EngineConfig("lstm", 2, 64, 1, num_layers=2)
    setup = EngineConfig("gru", 2, 32, 1, num_layers=1, forget_bias=3.0, init="orthogonal")
    differences = config_differences(file_config, setup)
    assert [d.sentence for d in differences] == [
        "this file holds an LSTM, the setup a GRU: use LSTM?",
        "this file has 64 hidden units, the setup 32: use 64?",
        "this file has 2 layers, the setup 1: use 2?",
    ]
    assert [d.fix for d in differences] == [{"engine": "lstm"}, {"hidden": 64}, {"layers": 2}]
    assert settings_fix(differences) == {"engine": "lstm", "hidden": 64, "layers": 2}
    assert config_differences(file_config, file_config) == []


def test_task_sizes_cannot_be_fixed_by_a_setting():
    file_config = EngineConfig("rnn", 8, 32, 3)
    setup = EngineConfig("rnn", 2, 16, 1)
    differences = config_differences(file_config, setup, task="Adding problem")
    by_setting = {d.setting: d for d in differences}
    assert set(by_setting) == {"hidden", "input_size", "output_size"}
    inputs = by_setting["input_size"]
    assert not inputs.fixable
    assert "reads 8 inputs per step" in inputs.sentence
    assert "'Adding problem' gives 2" in inputs.sentence
    assert "no setting changes that" in inputs.sentence
    assert "gives 3 outputs" in by_setting["output_size"].sentence
    assert settings_fix(differences) is None
