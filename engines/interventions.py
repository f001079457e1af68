"""Interventions: "what if?" questions put to a network's gates, as plain values.

``Clamp`` holds a gate at a value, ``Ablate`` silences units (their hidden state and LSTM cell
state forced to 0), ``SetBias`` replaces a gate's effective bias. They change the recurrence
itself, so they cannot reuse the fused kernel's h_t: ``engines.stepper`` runs them step by step
over the probe batch. They never touch the weights.

They are frozen dataclasses of plain values: they cross the pipe to the trainer process as they
are, and ``to_dict``/``from_dict`` keep them in an experiment's JSON. ``None`` means every unit,
every step or every layer. Steps are a span (``range``, ``slice``, or a ``(start, stop)`` pair;
``stop`` may be ``None`` for "to the end") or a list of steps; steps past the end of a sequence
apply nowhere (a probe can be shorter than the sequence a preset was made for).

Where several interventions touch the same gate, unit and step, the later one in the list wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import MISSING, dataclass

import numpy as np

from engines.config import GATE_NAMES

#: Short names accepted for gates (PyTorch's letters): LSTM i, f, g, o; GRU r, z, n.
GATE_ALIASES = {
    "i": "input",
    "f": "forget",
    "g": "candidate",
    "o": "output",
    "r": "reset",
    "z": "update",
    "n": "candidate",
    "a": "preactivation",
}
_ALL_GATES = {name for names in GATE_NAMES.values() for name in names}
#: The values a gate can take: sigmoid gates 0..1, tanh candidates -1..1, the RNN's
#: pre-activation any finite number.
GATE_RANGES: dict[str, tuple[float, float]] = {
    "input": (0.0, 1.0),
    "forget": (0.0, 1.0),
    "output": (0.0, 1.0),
    "reset": (0.0, 1.0),
    "update": (0.0, 1.0),
    "candidate": (-1.0, 1.0),
    "preactivation": (-math.inf, math.inf),
}


# ----------------------------------------------------------------------- normalising fields


def _gate(value) -> str:
    if not isinstance(value, str):
        raise ValueError(f"gate must be a gate name, got {value!r}")
    name = GATE_ALIASES.get(value.lower(), value.lower())
    if name not in _ALL_GATES:
        known = ", ".join(sorted(_ALL_GATES))
        raise ValueError(f"gate must be one of {known}, got {value!r}")
    return name


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _index(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be non-negative integers, got {value!r}")
    return int(value)


def _units(value) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (_index("units", value),)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"units must be None, a unit or a list of units, got {value!r}")
    units = tuple(sorted({_index("units", unit) for unit in value}))
    if not units:
        raise ValueError("units must name at least one unit (None means every unit)")
    return units


def _steps(value) -> slice | tuple[int, ...] | None:
    """None, a span (normalised to a ``slice`` with step None) or a sorted tuple of steps."""
    if value is None:
        return None
    if isinstance(value, range):
        if value.step != 1:
            return _steps(list(value))
        value = slice(value.start, value.stop)
    elif isinstance(value, tuple) and len(value) == 2:
        value = slice(*value)
    if isinstance(value, slice):
        if value.step not in (None, 1):
            raise ValueError(f"steps: a slice must have step 1, got {value!r}")
        start = 0 if value.start is None else _index("steps", value.start)
        stop = None if value.stop is None else _index("steps", value.stop)
        if stop is not None and stop <= start:
            raise ValueError(f"steps must be a span with start < stop, got {start}..{stop}")
        return slice(start, stop)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (_index("steps", value),)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"steps must be None, a range, (start, stop) or a list, got {value!r}")
    steps = tuple(sorted({_index("steps", step) for step in value}))
    if not steps:
        raise ValueError("steps must name at least one step (None means every step)")
    return steps


def _layer(value) -> int | None:
    return None if value is None else _index("layer", value)


def _steps_to_json(steps):
    if steps is None:
        return None
    if isinstance(steps, slice):
        return {"start": steps.start, "stop": steps.stop}
    return list(steps)


def _steps_from_json(data):
    if isinstance(data, dict):
        return (data.get("start", 0), data.get("stop"))
    return data


# ----------------------------------------------------------------------- the interventions


class _Intervention:
    """Shared behaviour: hashing (slices are unhashable before Python 3.12) and JSON."""

    type_name = ""

    def __hash__(self) -> int:
        steps = getattr(self, "steps", None)
        if isinstance(steps, slice):
            steps = ("span", steps.start, steps.stop)
        values = [getattr(self, f) for f in self.__dataclass_fields__ if f != "steps"]
        return hash((type(self).__name__, steps, *values))

    def to_dict(self) -> dict:
        data = {"type": self.type_name}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "steps":
                value = _steps_to_json(value)
            elif name == "units" and value is not None:
                value = list(value)
            data[name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict):
        return from_dict(data, expected=cls)


@dataclass(frozen=True, eq=True)
class Clamp(_Intervention):
    """Hold ``gate`` at ``value`` for ``units`` at ``steps`` in ``layer``: the gate's
    activation is replaced, so the clamped value is what the state update sees and what the
    trace shows, and the gate passes no gradient to its pre-activation there."""

    gate: str
    value: float
    units: tuple[int, ...] | None = None
    steps: slice | tuple[int, ...] | None = None
    layer: int | None = None
    type_name = "clamp"

    def __post_init__(self) -> None:
        gate = _gate(self.gate)
        value = _number("value", self.value)
        low, high = GATE_RANGES[gate]
        if not low <= value <= high:
            raise ValueError(
                f"value {value:g} is outside the {gate} gate's range [{low:g}, {high:g}]"
            )
        object.__setattr__(self, "gate", gate)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "units", _units(self.units))
        object.__setattr__(self, "steps", _steps(self.steps))
        object.__setattr__(self, "layer", _layer(self.layer))

    __hash__ = _Intervention.__hash__


@dataclass(frozen=True, eq=True)
class Ablate(_Intervention):
    """Silence ``units``: their hidden state (and LSTM cell state) is 0 at ``steps``, so
    nothing of them reaches the next step, the layer above or the read-out."""

    units: tuple[int, ...] | None
    steps: slice | tuple[int, ...] | None = None
    layer: int | None = None
    type_name = "ablate"

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", _units(self.units))
        object.__setattr__(self, "steps", _steps(self.steps))
        object.__setattr__(self, "layer", _layer(self.layer))

    __hash__ = _Intervention.__hash__


@dataclass(frozen=True, eq=True)
class SetBias(_Intervention):
    """Replace ``gate``'s effective bias b_ih + b_hh by ``value`` for ``units``, at every step.

    Exactly what editing the parameters by hand would do with b_ih = value and b_hh = 0 for
    those units. (For the GRU candidate, PyTorch puts b_hn inside the reset,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); the value goes to b_in and b_hn becomes 0.)
    """

    gate: str
    value: float
    units: tuple[int, ...] | None = None
    layer: int | None = None
    type_name = "set_bias"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gate", _gate(self.gate))
        object.__setattr__(self, "value", _number("value", self.value))
        object.__setattr__(self, "units", _units(self.units))
        object.__setattr__(self, "layer", _layer(self.layer))

    __hash__ = _Intervention.__hash__


Intervention = Clamp | Ablate | SetBias
_TYPES = {cls.type_name: cls for cls in (Clamp, Ablate, SetBias)}


def from_dict(data, expected: type | None = None) -> Intervention:
    """An intervention from its ``to_dict`` form; ValueError naming what is wrong."""
    if isinstance(data, Clamp | Ablate | SetBias):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"an intervention must be a mapping, got {type(data).__name__}")
    kind = data.get("type")
    if kind not in _TYPES:
        raise ValueError(f"intervention type must be one of {', '.join(_TYPES)}, got {kind!r}")
    cls = _TYPES[kind]
    if expected is not None and cls is not expected:
        raise ValueError(f"expected a {expected.type_name} intervention, got {kind!r}")
    names = cls.__dataclass_fields__
    required = {
        n for n, f in names.items() if f.default is MISSING and f.default_factory is MISSING
    }
    missing = required - data.keys()
    if missing:
        raise ValueError(f"{kind} intervention is missing {', '.join(sorted(missing))}")
    values = {name: data[name] for name in names if name in data}
    if "steps" in values:
        values["steps"] = _steps_from_json(values["steps"])
    return cls(**values)


def coerce(interventions) -> tuple[Intervention, ...]:
    """A tuple of interventions from interventions or their dicts (None: empty)."""
    if interventions is None:
        return ()
    if isinstance(interventions, Clamp | Ablate | SetBias | dict):
        interventions = [interventions]
    if isinstance(interventions, str) or not isinstance(interventions, Iterable):
        raise ValueError(
            f"interventions must be a list of Clamp, Ablate or SetBias, got {interventions!r}"
        )
    result = []
    for index, item in enumerate(interventions):
        try:
            result.append(from_dict(item))
        except ValueError as error:
            raise ValueError(f"interventions[{index}]: {error}") from None
    return tuple(result)


def check_interventions(interventions, config) -> tuple[Intervention, ...]:
    """Interventions that fit the engine ``config`` (an ``EngineConfig``), as a tuple.

    ValueError naming the intervention and the argument: a gate the engine kind does not have,
    a unit or layer out of range.
    """
    checked = coerce(interventions)
    gates = GATE_NAMES[config.kind]
    for index, item in enumerate(checked):
        where = f"interventions[{index}] ({type(item).__name__})"
        gate = getattr(item, "gate", None)
        if gate is not None and gate not in gates:
            raise ValueError(
                f"{where}: gate {gate!r} is not a gate of the {config.kind.upper()} "
                f"(it has {', '.join(gates)})"
            )
        if item.units is not None and item.units[-1] >= config.hidden_size:
            raise ValueError(
                f"{where}: units: unit {item.units[-1]} is out of range; the engine has "
                f"{config.hidden_size} units (0 to {config.hidden_size - 1})"
            )
        if item.layer is not None and item.layer >= config.num_layers:
            raise ValueError(
                f"{where}: layer {item.layer} is out of range; the engine has "
                f"{config.num_layers} layer{'s' if config.num_layers > 1 else ''}"
            )
    return checked


# ----------------------------------------------------------------------- the compiled plan


@dataclass
class LayerPlan:
    """One layer's interventions as masks over (time, units), for the stepper and the
    gradient flow's recursion. Masks hold for every sequence of the batch."""

    bias: list[tuple[str, np.ndarray, float]]  # (gate, unit indices, value), in order
    clamp_masks: dict[str, np.ndarray]  # gate -> (T, H) bool
    clamp_values: dict[str, np.ndarray]  # gate -> (T, H) float64 (meaningful under the mask)
    ablate: np.ndarray | None  # (T, H) bool

    @property
    def empty(self) -> bool:
        return not self.bias and not self.clamp_masks and self.ablate is None


def _step_mask(steps, length: int) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    if steps is None:
        mask[:] = True
    elif isinstance(steps, slice):
        mask[steps] = True
    else:
        picked = np.asarray([s for s in steps if s < length], dtype=int)
        mask[picked] = True
    return mask


def _unit_index(units, size: int) -> np.ndarray:
    return np.arange(size) if units is None else np.asarray(units, dtype=int)


def plan_interventions(interventions, config, steps: int) -> list[LayerPlan]:
    """Per layer of ``config``, the masks of ``interventions`` over ``steps`` time steps."""
    checked = check_interventions(interventions, config)
    size = config.hidden_size
    plans = [LayerPlan([], {}, {}, None) for _ in range(config.num_layers)]
    for item in checked:
        layers = range(config.num_layers) if item.layer is None else (item.layer,)
        units = _unit_index(item.units, size)
        for k in layers:
            plan = plans[k]
            if isinstance(item, SetBias):
                plan.bias.append((item.gate, units, item.value))
                continue
            region = np.zeros((steps, size), dtype=bool)
            region[np.ix_(_step_mask(item.steps, steps), units)] = True
            if not region.any():
                continue
            if isinstance(item, Ablate):
                plan.ablate = region if plan.ablate is None else plan.ablate | region
                continue
            if item.gate not in plan.clamp_masks:
                plan.clamp_masks[item.gate] = np.zeros((steps, size), dtype=bool)
                plan.clamp_values[item.gate] = np.zeros((steps, size))
            plan.clamp_masks[item.gate] |= region
            plan.clamp_values[item.gate][region] = item.value
    return plans


def gate_block(kind: str, gate: str) -> int:
    """Index of ``gate``'s H-sized block in PyTorch's stacked weights and biases."""
    return GATE_NAMES[kind].index(gate)


# ----------------------------------------------------------------------- presets


def memory_unit(trace, marked_steps, layer: int = 0) -> int:
    """The unit that holds the memory: the one whose state changes most across the marked
    steps (for the adding problem, where the marker is 1), summed over the batch.

    The LSTM's cell state c carries the memory; for GRU and RNN the hidden state h. The change
    at step t is |s_t - s_{t-1}| (s_{-1} = 0). ``marked_steps`` is a list of steps, a (time,)
    or a (batch, time) boolean mask (each sequence of the batch its own marks).
    """
    states = trace.cell if trace.cell is not None else trace.hidden
    layers, batch, steps, _ = states.shape
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < layers:
        raise ValueError(f"layer must be an integer from 0 to {layers - 1}, got {layer!r}")
    marks = np.asarray(marked_steps)
    if marks.dtype == bool:
        if marks.shape not in ((steps,), (batch, steps)):
            raise ValueError(
                f"marked_steps as a mask must have shape ({steps},) or ({batch}, {steps}), "
                f"got {marks.shape}"
            )
        mask = np.broadcast_to(marks, (batch, steps))
    else:
        picked = _steps(list(np.atleast_1d(marks).tolist()))
        if picked[-1] >= steps:
            raise ValueError(f"marked_steps: step {picked[-1]} is past the end ({steps} steps)")
        mask = np.zeros((batch, steps), dtype=bool)
        mask[:, list(picked)] = True
    if not mask.any():
        raise ValueError("marked_steps must mark at least one step")
    s = states[layer].astype(np.float64)
    change = np.abs(np.diff(s, axis=1, prepend=0.0))  # (batch, time, units)
    return int(np.argmax(change[mask].sum(axis=0)))
