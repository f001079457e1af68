"""The engine's construction: arguments, initialisations, seeds, devices, state_dict and the
per-layer views. Exactness of the probe and the gradient flow live in their own files."""

from __future__ import annotations

import math

import pytest
import torch

from engines.config import GATE_BLOCKS, KINDS
from engines.devices import available_devices, cuda_unavailable_reason, resolve_device
from engines.engine import RecurrentEngine, create_engine

LAYERS = (1, 2)


def _layer_params(engine: RecurrentEngine, layer: int) -> dict[str, torch.Tensor]:
    core = engine.core
    return {
        name: getattr(core, f"{name}_l{layer}").detach().cpu()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    }


def _blocks(weight: torch.Tensor, hidden: int) -> list[torch.Tensor]:
    return [weight[k * hidden : (k + 1) * hidden] for k in range(weight.shape[0] // hidden)]


# --- bad arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"kind": "transformer"}, "kind"),
        ({"kind": 3}, "kind"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": 1025}, "hidden_size"),
        ({"hidden_size": 2.5}, "hidden_size"),
        ({"hidden_size": True}, "hidden_size"),
        ({"num_layers": 0}, "num_layers"),
        ({"num_layers": 5}, "num_layers"),
        ({"input_size": 0}, "input_size"),
        ({"output_size": 0}, "output_size"),
        ({"init": "xavier"}, "init"),
        ({"forget_bias": math.nan}, "forget_bias"),
        ({"forget_bias": math.inf}, "forget_bias"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(kwargs, argument):
    arguments = {"kind": "lstm", "input_size": 3, "hidden_size": 4, "output_size": 2}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        create_engine(**arguments)


def test_kind_is_case_insensitive():
    assert create_engine("GRU", 2, 3, 1).config.kind == "gru"


@pytest.fixture
def lstm():
    return create_engine("lstm", 3, 4, 2, num_layers=2, seed=0)


@pytest.mark.parametrize("method", ["trace", "forward", "gradient_flow"])
@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.tensor([[[0.0, math.nan, 1.0]]]), "NaN"),
        (torch.tensor([[[0.0, math.inf, 1.0]]]), "infinite"),
        (torch.zeros(2, 5, 4), "input_size=3"),
        (torch.zeros(5, 3), r"\(batch, time, features\)"),
        (torch.zeros(2, 0, 3), "at least one"),
        (torch.zeros(2, 5, 3, dtype=torch.long), "floating-point"),
    ],
    ids=["nan", "inf", "features", "2d", "empty", "integer"],
)
def test_bad_inputs_raise_value_error_naming_x(lstm, method, x, message):
    call = {
        "trace": lstm.trace,
        "forward": lstm,
        "gradient_flow": lambda x: lstm.gradient_flow(x, lambda y: y.square().mean()),
    }[method]
    with pytest.raises(ValueError, match=message) as error:
        call(x)
    assert str(error.value).startswith("x ")  # names the argument


def test_bad_input_leaves_parameters_gradients_alone(lstm):
    with pytest.raises(ValueError):
        lstm.gradient_flow(torch.full((1, 2, 3), math.nan), lambda y: y.sum())
    assert all(p.grad is None for p in lstm.parameters())


# --- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_size_one_works(kind):
    engine = create_engine(kind, 2, 1, 1, num_layers=2, seed=1)
    x = torch.randn(3, 6, 2, generator=torch.Generator().manual_seed(0))
    trace = engine.trace(x)
    assert trace.hidden.shape == (2, 3, 6, 1)
    with torch.no_grad():
        expected = engine(x)
    assert torch.allclose(torch.from_numpy(trace.outputs), expected, atol=1e-6)
    flow = engine.gradient_flow(x, lambda y: y[:, -1].square().mean())
    assert flow.hidden.shape == (2, 6)
    assert flow.inputs.shape == (6,)


def test_hidden_size_1024_works():
    engine = create_engine("lstm", 2, 1024, 1, seed=1)
    x = torch.randn(1, 2, 2, generator=torch.Generator().manual_seed(0))
    trace = engine.trace(x)
    assert trace.hidden.shape == (1, 1, 2, 1024)
    assert trace.cell.shape == (1, 1, 2, 1024)
    with torch.no_grad():
        hidden, _ = engine.core(x)
    assert float((torch.from_numpy(trace.hidden[-1]) - hidden).abs().max()) <= 1e-5


# --- initialisations ----------------------------------------------------------------------


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("kind", KINDS)
def test_orthogonal_init_makes_every_recurrent_block_orthogonal(kind, layers):
    hidden = 12
    engine = create_engine(kind, 3, hidden, 1, layers, init="orthogonal", seed=3)
    for layer in range(layers):
        weight_hh = _layer_params(engine, layer)["weight_hh"]
        blocks = _blocks(weight_hh, hidden)
        assert len(blocks) == GATE_BLOCKS[kind]
        for block in blocks:
            assert torch.allclose(block @ block.T, torch.eye(hidden), atol=1e-5)
        # Distinct blocks, not one matrix copied.
        if len(blocks) > 1:
            assert not torch.allclose(blocks[0], blocks[1])


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("kind", KINDS)
def test_identity_init_makes_recurrent_blocks_identity_and_biases_zero(kind, layers):
    hidden = 5
    engine = create_engine(kind, 3, hidden, 1, layers, init="identity", forget_bias=1.5, seed=3)
    forget = slice(hidden, 2 * hidden)
    for layer in range(layers):
        params = _layer_params(engine, layer)
        for block in _blocks(params["weight_hh"], hidden):
            assert torch.equal(block, torch.eye(hidden))
        assert torch.count_nonzero(params["bias_hh"]) == 0
        bias_ih = params["bias_ih"].clone()
        if kind == "lstm":
            # The forget bias is the one exception the user asked for.
            assert torch.all(bias_ih[forget] == 1.5)
            bias_ih[forget] = 0.0
        assert torch.count_nonzero(bias_ih) == 0


@pytest.mark.parametrize("init", ["default", "orthogonal", "identity"])
@pytest.mark.parametrize("forget_bias", [1.0, 2.5, -0.5])
def test_lstm_forget_bias_is_the_effective_bias_of_every_layer(init, forget_bias):
    hidden = 6
    engine = create_engine(
        "lstm", 3, hidden, 1, num_layers=3, init=init, forget_bias=forget_bias, seed=4
    )
    forget = slice(hidden, 2 * hidden)
    for layer in range(3):
        params = _layer_params(engine, layer)
        assert torch.all(params["bias_hh"][forget] == 0.0)
        effective = params["bias_ih"][forget] + params["bias_hh"][forget]
        assert torch.allclose(effective, torch.full((hidden,), forget_bias))
    assert engine.config.forget_bias == forget_bias


@pytest.mark.parametrize("kind", KINDS)
def test_default_init_stays_in_pytorch_uniform_range(kind):
    hidden = 16
    bound = 1 / math.sqrt(hidden)
    engine = create_engine(kind, 3, hidden, 2, num_layers=2, seed=5)
    for name, param in engine.named_parameters():
        values = param.detach().clone()
        if kind == "lstm" and name.startswith("core.bias_ih"):
            assert torch.all(values[hidden : 2 * hidden] == engine.config.forget_bias)
            values = torch.cat((values[:hidden], values[2 * hidden :]))
        if kind == "lstm" and name.startswith("core.bias_hh"):
            assert torch.all(values[hidden : 2 * hidden] == 0.0)
            values = torch.cat((values[:hidden], values[2 * hidden :]))
        assert float(values.abs().max()) <= bound, name
        if values.numel() >= 32:  # really spread over the range, not zeros or a constant
            assert float(values.abs().max()) > 0.5 * bound, name
            assert float(values.std()) > 0.2 * bound, name


# --- seeds --------------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["default", "orthogonal"])
@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_weights_different_seed_different_weights(kind, init):
    def state(seed):
        return create_engine(kind, 3, 8, 2, num_layers=2, init=init, seed=seed).state_dict()

    first, again, other = state(7), state(7), state(8)
    assert first.keys() == again.keys() == other.keys()
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert any(not torch.equal(first[key], other[key]) for key in first)


def test_seed_leaves_the_global_random_state_alone():
    before = torch.random.get_rng_state()
    create_engine("lstm", 3, 8, 2, init="orthogonal", seed=11)
    assert torch.equal(torch.random.get_rng_state(), before)


# --- devices ------------------------------------------------------------------------------


def test_available_devices_lists_cpu_and_cuda_or_why_not():
    devices = available_devices()
    assert devices[0].name == "cpu"
    assert devices[0].available
    names = [d.name for d in devices]
    if torch.cuda.is_available():
        assert all(d.available for d in devices)
        assert names[1:] == [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    else:
        assert names == ["cpu", "cuda"]
        assert not devices[1].available
        assert devices[1].reason.strip()
        assert devices[1].reason == cuda_unavailable_reason()


@pytest.fixture
def no_cuda_build(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def cuda_build_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def one_fake_gpu(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake GPU")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_build_says_why(no_cuda_build, device):
    reason = cuda_unavailable_reason()
    assert "no CUDA support" in reason
    entries = available_devices()
    assert [(d.name, d.available) for d in entries] == [("cpu", True), ("cuda", False)]
    assert entries[1].reason == reason
    with pytest.raises(ValueError, match="CUDA") as error:
        create_engine("lstm", 3, 4, 1, device=device)
    assert reason in str(error.value)
    assert repr(device) in str(error.value)


def test_cuda_build_without_gpu_says_why(cuda_build_without_gpu):
    reason = cuda_unavailable_reason()
    assert "no CUDA GPU is visible" in reason
    assert available_devices()[1].reason == reason
    with pytest.raises(ValueError, match="CUDA") as error:
        create_engine("gru", 3, 4, 1, device="cuda")
    assert reason in str(error.value)


def test_missing_cuda_index_names_the_visible_ones(one_fake_gpu):
    entries = available_devices()
    assert [(d.name, d.available) for d in entries] == [("cpu", True), ("cuda:0", True)]
    assert "Fake GPU" in entries[1].label
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    assert resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(ValueError, match="1 CUDA device") as error:
        resolve_device("cuda:7")
    assert "cuda:7" in str(error.value)


def test_missing_cuda_index_here_is_a_value_error():
    missing = f"cuda:{max(7, torch.cuda.device_count())}"
    with pytest.raises(ValueError, match=missing):
        create_engine("rnn", 3, 4, 1, device=missing)


@pytest.mark.parametrize("device", ["tpu", "gpu", "", "cuda:x", "meta", 3.5])
def test_unknown_device_is_a_value_error(device):
    with pytest.raises(ValueError, match="device"):
        resolve_device(device)


def test_engine_lives_on_its_device(device):
    engine = create_engine("lstm", 3, 4, 2, device=device, seed=0)
    assert engine.device.type == device
    assert all(p.device.type == device for p in engine.parameters())


# --- state_dict and layer views -----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_holds_only_core_and_readout(kind):
    engine = create_engine(kind, 3, 4, 2, num_layers=3, seed=0)
    before = set(engine.state_dict())
    engine.trace(torch.randn(2, 5, 3))  # builds the layer views
    for layer in range(3):
        engine.layer_view(layer)
    keys = set(engine.state_dict())
    assert keys == before
    assert all(key.startswith(("core.", "readout.")) for key in keys)
    assert sum(p.numel() for p in engine.parameters()) == sum(
        p.numel() for p in engine.core.parameters()
    ) + sum(p.numel() for p in engine.readout.parameters())
    assert [name for name, _ in engine.named_children()] == ["core", "readout"]


@pytest.mark.parametrize("kind", KINDS)
def test_layer_views_share_storage_with_the_core(kind, device):
    engine = create_engine(kind, 3, 4, 2, num_layers=2, device=device, seed=0)
    for layer in range(2):
        view = engine.layer_view(layer)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            own = getattr(engine.core, f"{name}_l{layer}")
            assert getattr(view, f"{name}_l0") is own
            assert getattr(view, f"{name}_l0").data_ptr() == own.data_ptr()


@pytest.mark.parametrize("kind", KINDS)
def test_in_place_change_of_the_core_changes_the_trace(kind):
    engine = create_engine(kind, 3, 4, 2, num_layers=2, seed=0)
    x = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(1))
    before = engine.trace(x)
    with torch.no_grad():
        engine.core.weight_hh_l0.mul_(-2.0)
        engine.core.bias_ih_l1.add_(0.3)
        expected, _ = engine.core(x)
    after = engine.trace(x)
    assert not torch.allclose(torch.from_numpy(before.hidden[0]), torch.from_numpy(after.hidden[0]))
    assert float((torch.from_numpy(after.hidden[-1]) - expected).abs().max()) <= 1e-5


def test_loaded_weights_reach_the_trace():
    source = create_engine("gru", 3, 4, 2, num_layers=2, seed=0)
    target = create_engine("gru", 3, 4, 2, num_layers=2, seed=1)
    x = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(1))
    target.trace(x)  # views exist before the load
    target.load_state_dict(source.state_dict())
    assert (source.trace(x).hidden == target.trace(x).hidden).all()
    # assign=True replaces the Parameter objects: the views must follow.
    other = create_engine("gru", 3, 4, 2, num_layers=2, seed=2)
    target.load_state_dict(other.state_dict(), assign=True)
    assert (other.trace(x).hidden == target.trace(x).hidden).all()
