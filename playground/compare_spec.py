"""What a comparison trains: two or three engines on one task with one data seed.

A ``CompareSpec`` is one ``RunSpec`` per engine — the same task, data, optimizer, learning
rate, batch, clipping and seed, differing only in the engine's own settings
(:data:`ENGINE_KEYS`) — and a weights seed per engine. Plain picklable values: it crosses to
the trainer process as it is. Also here: exact parameter counts from PyTorch's layout, and
"match parameter counts", which picks hidden sizes that bring the engines within 5 % of a
reference engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.config import GATE_BLOCKS, MAX_HIDDEN
from playground.run_spec import RunSpec, UserSequence, merged_settings

#: The settings that may differ between the engines of a comparison; all others are shared.
ENGINE_KEYS = ("engine", "hidden", "layers", "init", "forget_bias")
MIN_ENGINES, MAX_ENGINES = 2, 3
MATCH_TOLERANCE = 0.05

#: Ready-made comparisons: name -> the engines' own settings (merged over the common ones).
PRESETS: dict[str, tuple[dict, ...]] = {
    "RNN vs LSTM vs GRU": ({"engine": "rnn"}, {"engine": "lstm"}, {"engine": "gru"}),
    "LSTM forget bias 0 vs 1": (
        {"engine": "lstm", "forget_bias": 0.0},
        {"engine": "lstm", "forget_bias": 1.0},
    ),
    "default vs orthogonal init": ({"init": "default"}, {"init": "orthogonal"}),
    "1 vs 2 layers": ({"layers": 1}, {"layers": 2}),
}


def parameter_count(
    kind: str, input_size: int, hidden: int, output_size: int, layers: int = 1
) -> int:
    """Trainable parameters of an engine, exactly as PyTorch lays them out.

    Per layer l, with G = 1 (RNN), 4 (LSTM) or 3 (GRU) stacked gate blocks and the layer's
    input size in_l (the task's inputs for layer 0, H above): weight_ih G*H*in_l, weight_hh
    G*H*H, bias_ih and bias_hh G*H each; then the read-out H*out + out.
    """
    if kind not in GATE_BLOCKS:
        raise ValueError(f"kind must be one of {', '.join(GATE_BLOCKS)}, got {kind!r}")
    blocks = GATE_BLOCKS[kind]
    total = 0
    for layer in range(layers):
        inputs = input_size if layer == 0 else hidden
        total += blocks * hidden * (inputs + hidden) + 2 * blocks * hidden
    return total + hidden * output_size + output_size


def engine_parameters(engine: dict, input_size: int, output_size: int) -> int:
    """``parameter_count`` of one engine's settings (keys as in ENGINE_KEYS)."""
    return parameter_count(
        str(engine["engine"]).lower(),
        input_size,
        int(engine["hidden"]),
        output_size,
        int(engine["layers"]),
    )


def match_hidden_sizes(
    engines: list[dict],
    input_size: int,
    output_size: int,
    reference: int = 0,
    tolerance: float = MATCH_TOLERANCE,
) -> list[int]:
    """Hidden sizes that bring every engine's parameter count within ``tolerance`` of the
    ``reference`` engine's (whose size is kept): the closest count wins.

    ValueError naming the engine when no hidden size (1 .. MAX_HIDDEN) comes close enough,
    e.g. an LSTM matched to a tiny RNN.
    """
    if not 0 <= reference < len(engines):
        raise ValueError(f"reference must index one of the {len(engines)} engines, got {reference}")
    target = engine_parameters(engines[reference], input_size, output_size)
    sizes = np.arange(1, MAX_HIDDEN + 1)
    result = []
    for index, engine in enumerate(engines):
        if index == reference:
            result.append(int(engine["hidden"]))
            continue
        counts = np.array(
            [
                engine_parameters({**engine, "hidden": int(h)}, input_size, output_size)
                for h in sizes
            ]
        )
        best = int(np.argmin(np.abs(counts - target)))
        if abs(counts[best] - target) > tolerance * target:
            raise ValueError(
                f"engine {index + 1} ({str(engine['engine']).upper()}, {engine['layers']} "
                f"layer(s)) cannot come within {tolerance:.0%} of {target} parameters: the "
                f"closest is {counts[best]} at hidden size {sizes[best]}"
            )
        result.append(int(sizes[best]))
    return result


def engine_labels(engines: list[dict]) -> list[str]:
    """Short names that tell the engines apart: the kind, and what differs between engines of
    the same kind ("LSTM · forget bias 0", "GRU · 2 layers"), or a number where nothing does."""
    kinds = [str(e["engine"]).upper() for e in engines]
    labels = []
    for index, (engine, kind) in enumerate(zip(engines, kinds, strict=True)):
        twins = [e for e, k in zip(engines, kinds, strict=True) if k == kind]
        if len(twins) == 1:
            labels.append(kind)
            continue
        parts = []
        for key, name in (("layers", "layers"), ("init", "init"), ("forget_bias", "forget bias")):
            if len({str(e.get(key)) for e in twins}) > 1:
                parts.append(f"{name} {_plain(engine.get(key))}")
        if len({e.get("hidden") for e in twins}) > 1:
            parts.append(f"hidden {engine.get('hidden')}")
        labels.append(f"{kind} · {', '.join(parts)}" if parts else f"{kind} #{index + 1}")
    return labels


def _plain(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class CompareSpec:
    """One RunSpec per engine (same data, own engine settings) and their weights seeds."""

    specs: tuple[RunSpec, ...]
    weights_seeds: tuple[int, ...]

    @classmethod
    def from_settings(
        cls,
        common: dict,
        engines: list[dict],
        weights_seeds: list[int] | None = None,
        sequence: UserSequence | None = None,
        probe_sequence: UserSequence | None = None,
        eval_every: int = 50,
    ) -> CompareSpec:
        """The engines' own settings merged over ``common``; weights seeds default to the data
        seed plus the engine's index (so the first engine's run is the single-run window's)."""
        base = merged_settings(common)
        specs = tuple(
            RunSpec(
                settings=merged_settings({**base, **{k: e[k] for k in ENGINE_KEYS if k in e}}),
                sequence=sequence,
                probe_sequence=probe_sequence,
                eval_every=eval_every,
            )
            for e in engines
        )
        if weights_seeds is None:
            weights_seeds = [int(base["seed"]) + i for i in range(len(specs))]
        return cls(specs, tuple(weights_seeds))

    @property
    def data_seed(self) -> int:
        return int(self.specs[0].settings["seed"])

    def engines(self) -> list[dict]:
        """Each engine's own settings."""
        return [{k: s.settings[k] for k in ENGINE_KEYS} for s in self.specs]

    def engine_labels(self) -> list[str]:
        return engine_labels([s.settings for s in self.specs])

    def validate(self):
        """The task, after checking everything cheap: 2 or 3 engines, one weights seed each,
        the same data for all, every spec possible. ValueError saying what is wrong."""
        count = len(self.specs)
        if not MIN_ENGINES <= count <= MAX_ENGINES:
            raise ValueError(
                f"a comparison holds {MIN_ENGINES} or {MAX_ENGINES} engines, got {count}"
            )
        if len(self.weights_seeds) != count:
            raise ValueError(
                f"weights_seeds must hold one seed per engine ({count}), got "
                f"{len(self.weights_seeds)}"
            )
        for seed in self.weights_seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"weights seeds must be non-negative integers, got {seed!r}")
        shared = [{k: v for k, v in s.settings.items() if k not in ENGINE_KEYS} for s in self.specs]
        for index, (spec, settings) in enumerate(zip(self.specs, shared, strict=True)):
            differs = sorted(k for k in settings if settings[k] != shared[0].get(k))
            if differs or spec.sequence is not self.specs[0].sequence:
                what = ", ".join(differs) or "its own sequence"
                raise ValueError(
                    f"engine {index + 1} trains on other data than engine 1 ({what}): the "
                    "engines of a comparison share everything but their engine settings"
                )
        task = self.specs[0].validate()
        for index, spec in enumerate(self.specs[1:], start=2):
            try:
                spec.engine_config(task)
            except ValueError as error:
                raise ValueError(f"engine {index}: {error}") from None
        return task

    def build_trainers(self, task) -> list:
        """One Trainer per engine: weights from its weights seed, data from the data seed."""
        from engines.training import Trainer

        return [
            Trainer.create(
                spec.engine_config(task),
                task,
                spec.training_config(),
                device=spec.settings["device"],
                probe_batch=spec.build_probe(task),
                weights_seed=seed,
            )
            for spec, seed in zip(self.specs, self.weights_seeds, strict=True)
        ]
