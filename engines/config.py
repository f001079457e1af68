"""The engine's configuration: validated plain values that travel to files and processes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

KINDS = ("rnn", "lstm", "gru")
INITS = ("default", "orthogonal", "identity", "chrono")
MAX_LAYERS = 4
MAX_HIDDEN = 1024

#: Gate names per kind, in the order the trace lists them. LSTM and GRU follow PyTorch's
#: chunk order of the stacked weights (LSTM i, f, g, o; GRU r, z, n).
GATE_NAMES: dict[str, tuple[str, ...]] = {
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("reset", "update", "candidate"),
    "rnn": ("preactivation",),
}
#: How many H-sized blocks the stacked recurrent weights hold per kind.
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


@dataclass(frozen=True)
class EngineConfig:
    """Everything needed to rebuild an engine (weights aside)."""

    kind: str
    input_size: int
    hidden_size: int
    output_size: int
    num_layers: int = 1
    init: str = "default"
    forget_bias: float = 1.0
    #: Longest dependency the "chrono" init prepares for (Tallec & Ollivier 2018); 0 = not set.
    chrono_t_max: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        _check_int("input_size", self.input_size, 1, 100_000)
        _check_int("hidden_size", self.hidden_size, 1, MAX_HIDDEN)
        _check_int("output_size", self.output_size, 1, 100_000)
        _check_int("num_layers", self.num_layers, 1, MAX_LAYERS)
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not isinstance(self.forget_bias, int | float) or not math.isfinite(self.forget_bias):
            raise ValueError(f"forget_bias must be a finite number, got {self.forget_bias!r}")
        _check_int("chrono_t_max", self.chrono_t_max, 0, 10_000_000)
        if self.init == "chrono":
            if self.kind == "rnn":
                raise ValueError(
                    "init 'chrono' sets gate biases: it needs an LSTM or a GRU, not an RNN"
                )
            if self.chrono_t_max < 2:
                raise ValueError(
                    "init 'chrono' needs chrono_t_max >= 2 (the longest dependency to "
                    f"remember, e.g. the sequence length), got {self.chrono_t_max!r}"
                )

    @property
    def gate_names(self) -> tuple[str, ...]:
        return GATE_NAMES[self.kind]

    @property
    def has_cell(self) -> bool:
        return self.kind == "lstm"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EngineConfig:
        """Build from a JSON-like dict, ignoring keys this version does not know."""
        if not isinstance(data, dict):
            raise ValueError(f"engine config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        missing = {"kind", "input_size", "hidden_size", "output_size"} - data.keys()
        if missing:
            raise ValueError(f"engine config is missing {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in data.items() if k in known})
