"""Weights of a plain ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (and an optional ``nn.Linear``
read-out), read from the tensors alone: no sidecar, so the engine is inferred from the names
and shapes PyTorch gives them.

Why this can be done from shapes: ``weight_hh_l0`` of a fused module is (G·H, H), with G the
number of gate blocks (1 RNN, 3 GRU, 4 LSTM; torch/nn/modules/rnn.py), so its column count is
the hidden size and its row count over that the kind; ``weight_ih_l0`` is (G·H, input size);
one ``weight_ih_lK`` per layer. A read-out is a ``*.weight`` of shape (outputs, H) with its
``*.bias``. What the shapes cannot say is the RNN's nonlinearity: tanh is assumed (the only one
the engines run), a ``nonlinearity`` hint or metadata saying ReLU is refused.

Refused with a sentence saying why: bidirectional modules (``*_reverse``), LSTM projections
(``weight_hr_l0``), modules without biases, non-float or non-finite tensors, and tensors that
fit neither the recurrent module nor one read-out. The caller (``engines.checkpoint``) turns a
``PlainStateError`` into a ``WeightsFileError`` naming the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from engines.config import GATE_BLOCKS, EngineConfig

NONLINEARITIES = ("tanh", "relu")
_KIND_OF_BLOCKS = {blocks: kind for kind, blocks in GATE_BLOCKS.items()}
_MODULE_NAME = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}
_RECURRENT = re.compile(
    r"^(?P<prefix>(?:.*\.)?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
    r"_l(?P<layer>\d+)(?P<reverse>_reverse)?$"
)
_CELL = re.compile(r"^(?:.*\.)?weight_(?:ih|hh)$")
_WRAPPERS = ("state_dict", "model_state_dict", "model", "net", "network", "module")


class PlainStateError(ValueError):
    """Tensors that cannot become an engine; the message says why (without the file name)."""


@dataclass(frozen=True)
class PlainModel:
    """What a plain state_dict becomes: the engine config, the tensors under the engine's own
    names (``core.*``, ``readout.*``, float32), and notes for the user."""

    config: EngineConfig
    state: dict[str, torch.Tensor]
    notes: tuple[str, ...]
    readout_from_file: bool


def check_nonlinearity(nonlinearity: object) -> str:
    if not isinstance(nonlinearity, str) or nonlinearity.lower() not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity.lower()


def from_plain_state(
    entries: Mapping[str, object],
    *,
    output_size: int | None = None,
    nonlinearity: str = "tanh",
    metadata: Mapping[str, object] | None = None,
) -> PlainModel:
    """Infer the engine of a plain state_dict and rename its tensors for ``RecurrentEngine``.

    Parameters
    ----------
    entries
        What the file holds: a state_dict, or a checkpoint dict with one nested state_dict
        (``{"state_dict": ..., "epoch": 3}``); entries that are not tensors are ignored.
    output_size
        Outputs of the fresh read-out made when the file holds no ``nn.Linear`` (default 1);
        ignored when it does.
    nonlinearity
        What the user says the RNN used; ``"relu"`` is refused (the shapes cannot tell).
    metadata
        Strings stored beside the tensors (a safetensors header's metadata): one saying the
        nonlinearity is ReLU is refused too.
    """
    nonlinearity = check_nonlinearity(nonlinearity)
    notes: list[str] = []
    tensors, others = _tensors_and_others(entries, notes)
    said = _declared_nonlinearities([others, metadata or {}])
    prefix, layers = _recurrent_keys(tensors)
    names = {f"{name}_l{k}": f"{prefix}{name}_l{k}" for k in range(layers) for name in _NAMES}
    for full in names.values():
        _check_tensor(full, tensors[full])

    kind, hidden, inputs = _kind_and_sizes(tensors, names, layers)
    if kind == "rnn":
        if nonlinearity == "relu" or "relu" in said:
            why = "the file's metadata says so" if "relu" in said else "you said so"
            raise PlainStateError(
                f"is a ReLU nn.RNN ({why}); this program's RNN engine uses tanh, so its "
                "states would not be the ones this model computes"
            )
        notes.append(
            "its nonlinearity cannot be read from the shapes: tanh is assumed "
            "(nn.RNN's default; a ReLU RNN would give other outputs)"
            if "tanh" not in said
            else "the file says its nonlinearity is tanh"
        )

    rest = {key: value for key, value in tensors.items() if key not in names.values()}
    readout = _readout(rest, hidden)
    if readout is None:
        if output_size is None:
            output_size = 1
        if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size < 1:
            raise ValueError(f"output_size must be a positive integer, got {output_size!r}")
    else:
        output_size = int(readout[0].shape[0])
    try:
        config = EngineConfig(kind, inputs, hidden, output_size, num_layers=layers)
    except ValueError as error:
        raise PlainStateError(f"holds a network this program cannot build: {error}") from None

    state = {f"core.{short}": tensors[full] for short, full in names.items()}
    if readout is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            fresh = nn.Linear(hidden, output_size)
        state["readout.weight"] = fresh.weight.detach()
        state["readout.bias"] = fresh.bias.detach()
        notes.append(
            f"it holds no read-out nn.Linear: a fresh read-out ({hidden} → {output_size}) was "
            "made, so the outputs mean nothing until it is trained"
        )
    else:
        weight, bias, weight_key = readout
        state["readout.weight"] = weight
        if bias is None:
            state["readout.bias"] = torch.zeros(output_size, dtype=weight.dtype)
            notes.append(f"its read-out {weight_key} has no bias: a zero bias is used")
        else:
            state["readout.bias"] = bias

    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in state.values()} - {"float32"})
    if dtypes:
        notes.append(
            f"tensors stored as {', '.join(dtypes)} were converted to float32 "
            "(the engines run in float32)"
        )
    state = {key: t.detach().to("cpu", torch.float32).contiguous() for key, t in state.items()}
    where = f" under {prefix[:-1]!r}" if prefix else ""
    head = f", read-out {readout[2].removesuffix('weight')[:-1] or 'weight'!r}" if readout else ""
    notes.insert(
        0,
        f"read as a plain torch {_MODULE_NAME[kind]}{where}{head}: {inputs} inputs, "
        f"{hidden} hidden units, {layers} layer{'s' if layers > 1 else ''}, "
        f"{output_size} output{'s' if output_size > 1 else ''}",
    )
    return PlainModel(config, state, tuple(notes), readout is not None)


_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _tensors_and_others(entries: Mapping, notes: list[str]) -> tuple[dict, dict]:
    tensors = {k: v for k, v in entries.items() if isinstance(v, torch.Tensor)}
    others = {k: v for k, v in entries.items() if not isinstance(v, torch.Tensor)}
    if not any(isinstance(k, str) and _RECURRENT.match(k) for k in tensors):
        nested = [
            k
            for k, v in others.items()
            if isinstance(v, Mapping) and any(isinstance(t, torch.Tensor) for t in v.values())
        ]
        chosen = [k for k in nested if k in _WRAPPERS] or nested
        if len(chosen) == 1:
            inner = others.pop(chosen[0])
            notes.append(f"the tensors were read from its {chosen[0]!r} entry")
            tensors = {k: v for k, v in inner.items() if isinstance(v, torch.Tensor)}
            others.update({k: v for k, v in inner.items() if not isinstance(v, torch.Tensor)})
    bad_keys = [repr(k) for k in tensors if not isinstance(k, str)]
    if bad_keys:
        raise PlainStateError(f"has tensors under keys that are not names: {', '.join(bad_keys)}")
    if others:
        shown = ", ".join(str(k) for k in list(others)[:5]) + (", ..." if len(others) > 5 else "")
        notes.append(f"entries that are not tensors were ignored: {shown}")
    return tensors, others


def _declared_nonlinearities(sources: list[Mapping]) -> set[str]:
    """Every string stored under a key naming the nonlinearity, in nested dicts and in JSON
    strings (safetensors metadata holds strings only), lower-cased."""
    found: set[str] = set()

    def walk(value, depth: int) -> None:
        if depth > 4:
            return
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError:
                return
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and "nonlinearity" in key.lower() and isinstance(item, str):
                    found.add(item.strip().lower())
                else:
                    walk(item, depth + 1)

    for source in sources:
        walk(source, 0)
    return found


def _recurrent_keys(tensors: Mapping[str, torch.Tensor]) -> tuple[str, int]:
    """The prefix of the one recurrent module and its number of layers."""
    matches = [(key, m) for key in tensors if (m := _RECURRENT.match(key))]
    if not matches:
        if any(_CELL.match(key) for key in tensors):
            raise PlainStateError(
                "looks like an nn.RNNCell/LSTMCell/GRUCell (weight_ih without a layer number); "
                "this program reads the fused nn.RNN/LSTM/GRU modules: save one of those"
            )
        shown = ", ".join(list(tensors)[:6]) or "no tensors at all"
        raise PlainStateError(
            "holds no recurrent weights (no tensor named like weight_ih_l0, as nn.RNN, nn.LSTM "
            f"and nn.GRU name theirs); it holds {shown}"
        )
    prefixes = sorted({m["prefix"] for _, m in matches})
    if len(prefixes) > 1:
        listed = ", ".join(repr(p[:-1]) if p else "(no prefix)" for p in prefixes)
        raise PlainStateError(
            f"holds more than one recurrent module ({listed}); it can load only one"
        )
    reverse = sorted(key for key, m in matches if m["reverse"])
    if reverse:
        raise PlainStateError(
            f"is bidirectional (tensors such as {reverse[0]}); the engines here run forward "
            "in time only, so a bidirectional module cannot be used"
        )
    projections = sorted(key for key, m in matches if m["name"] == "weight_hr")
    if projections:
        size = tensors[projections[0]].shape[0] if tensors[projections[0]].dim() == 2 else "?"
        raise PlainStateError(
            f"is an nn.LSTM with projections (proj_size={size}, tensor {projections[0]}); "
            "the engines here have none, so it cannot be used"
        )
    prefix = prefixes[0]
    present = {(m["name"], int(m["layer"])) for _, m in matches}
    layers = 1 + max(layer for _, layer in present)
    if not any(name.startswith("bias") for name, _ in present):
        raise PlainStateError(
            "has no bias tensors (a module made with bias=False); the engines here always "
            "have biases, so it cannot be used as it is"
        )
    for layer in range(layers):
        for name in _NAMES:
            if (name, layer) not in present:
                raise PlainStateError(
                    f"is missing tensor {prefix}{name}_l{layer} (it has layers up to {layers - 1})"
                )
    return prefix, layers


def _check_tensor(key: str, tensor: torch.Tensor) -> None:
    if not tensor.is_floating_point():
        raise PlainStateError(
            f"tensor {key} has dtype {tensor.dtype}; weights must be floating point"
        )
    if not bool(torch.isfinite(tensor).all()):
        raise PlainStateError(f"tensor {key} contains NaN or infinite values")


def _kind_and_sizes(tensors: Mapping, names: Mapping[str, str], layers: int):
    """(kind, hidden, inputs) from weight_hh_l0's shape, every layer checked against it."""
    hh_key = names["weight_hh_l0"]
    hh = tensors[hh_key]
    if hh.dim() != 2 or hh.shape[1] == 0 or hh.shape[0] % hh.shape[1] != 0:
        raise PlainStateError(
            f"tensor {hh_key} has shape {tuple(hh.shape)}; a recurrent weight is "
            "(G·hidden, hidden) with G = 1 (RNN), 3 (GRU) or 4 (LSTM)"
        )
    hidden = int(hh.shape[1])
    blocks = int(hh.shape[0]) // hidden
    if blocks not in _KIND_OF_BLOCKS:
        raise PlainStateError(
            f"tensor {hh_key} has shape {tuple(hh.shape)}: {blocks}× its {hidden} columns, "
            "but an RNN has 1×, a GRU 3× and an LSTM 4×"
        )
    kind = _KIND_OF_BLOCKS[blocks]
    rows = blocks * hidden
    ih = tensors[names["weight_ih_l0"]]
    if ih.dim() != 2:
        raise PlainStateError(
            f"tensor {names['weight_ih_l0']} has shape {tuple(ih.shape)}; an input weight is "
            "(G·hidden, inputs)"
        )
    inputs = int(ih.shape[1])
    for layer in range(layers):
        layer_in = inputs if layer == 0 else hidden
        want = {
            "weight_ih": (rows, layer_in),
            "weight_hh": (rows, hidden),
            "bias_ih": (rows,),
            "bias_hh": (rows,),
        }
        for name, shape in want.items():
            key = names[f"{name}_l{layer}"]
            if tuple(tensors[key].shape) != shape:
                raise PlainStateError(
                    f"tensor {key} has shape {tuple(tensors[key].shape)}, but an "
                    f"{_MODULE_NAME[kind]} with {hidden} hidden units (read from {hh_key}) "
                    f"needs {shape}"
                )
    return kind, hidden, inputs


def _readout(rest: Mapping[str, torch.Tensor], hidden: int):
    """(weight, bias or None, weight key) of the one ``nn.Linear`` read-out, None if there is
    no other tensor; anything else left over is refused."""
    if not rest:
        return None
    candidates = [
        key
        for key, t in rest.items()
        if (key == "weight" or key.endswith(".weight")) and t.dim() == 2 and t.shape[1] == hidden
    ]
    if len(candidates) == 1:
        weight_key = candidates[0]
        bias_key = weight_key.removesuffix("weight") + "bias"
        leftover = sorted(set(rest) - {weight_key, bias_key})
        if not leftover:
            weight, bias = rest[weight_key], rest.get(bias_key)
            _check_tensor(weight_key, weight)
            if bias is not None:
                _check_tensor(bias_key, bias)
                if tuple(bias.shape) != (weight.shape[0],):
                    raise PlainStateError(
                        f"tensor {bias_key} has shape {tuple(bias.shape)}, but its read-out "
                        f"{weight_key} {tuple(weight.shape)} needs ({weight.shape[0]},)"
                    )
            return weight, bias, weight_key
    else:
        leftover = sorted(rest)
    shown = ", ".join(f"{k} {tuple(rest[k].shape)}" for k in leftover[:6])
    why = (
        f"{len(candidates)} tensors could be the read-out ({', '.join(candidates)})"
        if len(candidates) > 1
        else f"tensors beside the recurrent module that are not a read-out of {hidden} inputs: "
        f"{shown}"
    )
    raise PlainStateError(
        f"holds more than a recurrent module and an nn.Linear read-out: {why}; "
        "this program loads one of each (the read-out may be left out)"
    )
