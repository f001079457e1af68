"""The gate lab's plain values: unit lists typed as text, the presets, one-line summaries.

Interventions travel as the engines' ``to_dict`` form (``engines.interventions``), written here
by hand because widgets never import the engines::

    {"type": "clamp", "gate": "forget", "value": 1.0, "units": None | [..],
     "steps": None | {"start": a, "stop": b} | [..], "layer": None | k}
    {"type": "ablate", "units": ..., "steps": ..., "layer": ...}
    {"type": "set_bias", "gate": ..., "value": ..., "units": ..., "layer": ...}
"""

from __future__ import annotations

import re

ACTIONS = {"clamp": "Clamp a gate", "ablate": "Silence units", "set_bias": "Override a bias"}

#: name -> (engine kind or None for any, button text, the intervention or None when it needs
#: the run's data: the controller answers ``preset_requested``).
PRESETS: dict[str, tuple[str | None, str, dict | None]] = {
    "forget_open": ("lstm", "Forget gate stuck open (f = 1)", {"gate": "forget", "value": 1.0}),
    "no_input": ("lstm", "No new input (i = 0)", {"gate": "input", "value": 0.0}),
    "output_shut": ("lstm", "Output shut (o = 0)", {"gate": "output", "value": 0.0}),
    "never_update": ("gru", "GRU never updates (z = 1)", {"gate": "update", "value": 1.0}),
    "memory_unit": (None, "Silence the memory unit", None),
}

#: The slider's range per gate when clamping (a gate can only take its activation's values),
#: and for a replaced bias.
CLAMP_RANGES = {
    "input": (0.0, 1.0),
    "forget": (0.0, 1.0),
    "output": (0.0, 1.0),
    "reset": (0.0, 1.0),
    "update": (0.0, 1.0),
    "candidate": (-1.0, 1.0),
    "preactivation": (-3.0, 3.0),
}
BIAS_RANGE = (-10.0, 10.0)

_PIECE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_units(text: str, hidden_size: int) -> list[int] | None:
    """``"all"`` or nothing -> None (every unit); ``"0-3, 7"`` -> [0, 1, 2, 3, 7].

    ValueError saying which piece is wrong: not a number or range, a reversed range, a unit
    past ``hidden_size - 1``.
    """
    text = text.strip()
    if text.lower() in ("", "all", "*"):
        return None
    units: set[int] = set()
    text = re.sub(r"\s*[-–]\s*", "-", text)  # "0 - 3" and "0–3" read as "0-3"
    for piece in filter(None, re.split(r"[,;\s]+", text)):
        match = _PIECE.match(piece)
        if match is None:
            raise ValueError(f"units: {piece!r} is not a unit or a range like 0-3")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise ValueError(f"units: the range {piece!r} runs backwards")
        if high >= hidden_size:
            raise ValueError(
                f"units: unit {high} is out of range; there are {hidden_size} units "
                f"(0 to {hidden_size - 1})"
            )
        units.update(range(low, high + 1))
    if not units:
        return None
    return sorted(units)


def format_units(units: list[int] | None, hidden_size: int | None = None) -> str:
    """The text ``parse_units`` reads back: ``"all"`` or ranges, ``"0-3, 7"``."""
    if units is None or (hidden_size is not None and list(units) == list(range(hidden_size))):
        return "all"
    values = sorted(set(int(u) for u in units))
    pieces, start = [], None
    for index, unit in enumerate(values):
        if start is None:
            start = unit
        last = index + 1 == len(values) or values[index + 1] != unit + 1
        if last:
            pieces.append(str(start) if start == unit else f"{start}-{unit}")
            start = None
    return ", ".join(pieces)


def format_steps(steps) -> str:
    if steps is None:
        return "every step"
    if isinstance(steps, dict):
        start, stop = steps.get("start", 0), steps.get("stop")
        return f"steps {start}–end" if stop is None else f"steps {start}–{stop - 1}"
    return "steps " + format_units(list(steps))


def describe(item: dict) -> str:
    """One line for the list of interventions."""
    kind = item.get("type")
    layer = item.get("layer")
    where = [
        "units " + format_units(item.get("units")),
        format_steps(item.get("steps")) if kind != "set_bias" else "every step",
        "every layer" if layer is None else f"layer {layer + 1}",
    ]
    if kind == "clamp":
        head = f"Clamp {item['gate']} = {item['value']:.2f}"
    elif kind == "set_bias":
        head = f"Bias of {item['gate']} = {item['value']:.2f}"
    else:
        head = "Silence"
    return head + " · " + " · ".join(where)
