"""Does a weights file fit the current setup? The differences, each as a sentence a user can
answer and the settings change that would answer it.

File ▸ Load Weights… loads into what the setup panel describes. Kind, hidden size and layers
are settings, so a mismatch there is offered as a fix ("this file has 64 hidden units, the
setup 32: use 64?"). Input and output sizes come from the task, not from a setting: a network
that reads 8 channels cannot read the adding problem's 2, and no setting changes that, so the
sentence says so and carries no fix. Fixes use the setup's own keys (``engine``, ``hidden``,
``layers``, as in ``resources.default_settings``). Initialisation settings (init, forget bias)
are not compared: loaded weights replace what they would have made.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.config import EngineConfig

_KIND_NAMES = {"rnn": "an RNN", "lstm": "an LSTM", "gru": "a GRU"}


@dataclass(frozen=True)
class Difference:
    """One way a file's engine differs from the setup's.

    ``setting`` is the setup key (``engine``, ``hidden``, ``layers``) or ``input_size`` /
    ``output_size`` for what the task fixes; ``fix`` the settings change that removes the
    difference, None where no setting can.
    """

    setting: str
    file_value: object
    setup_value: object
    sentence: str
    fix: dict | None

    @property
    def fixable(self) -> bool:
        return self.fix is not None


#: (config field, setup key, sentence(file value, setup value, task name), settable) in the
#: order a user would settle them; a difference in a settable field offers ``{key: file value}``.
_FIELDS = (
    (
        "kind",
        "engine",
        lambda a, b, _task: (
            f"this file holds {_KIND_NAMES[a]}, the setup {_KIND_NAMES[b]}: use {a.upper()}?"
        ),
        True,
    ),
    (
        "hidden_size",
        "hidden",
        lambda a, b, _task: f"this file has {_count(a, 'hidden unit')}, the setup {b}: use {a}?",
        True,
    ),
    (
        "num_layers",
        "layers",
        lambda a, b, _task: f"this file has {_count(a, 'layer')}, the setup {b}: use {a}?",
        True,
    ),
    (
        "input_size",
        "input_size",
        lambda a, b, task: (
            f"this file's network reads {_count(a, 'input')} per step, but {task} "
            f"gives {b}: no setting changes that (the task decides its inputs); choose a "
            f"task or a sequence with {a} input channels"
        ),
        False,
    ),
    (
        "output_size",
        "output_size",
        lambda a, b, task: (
            f"this file's read-out gives {_count(a, 'output')}, but {task} needs {b}: "
            "no setting changes that (the task decides its outputs); choose a task with "
            f"{a} outputs"
        ),
        False,
    ),
)


def config_differences(
    file_config: EngineConfig, setup_config: EngineConfig, task: str | None = None
) -> list[Difference]:
    """What differs between the engine in a file and the one the setup would build, in the
    order a user would settle them (kind, hidden, layers, then the task's sizes); empty when the
    file loads as it is. ``task`` names the task in sentences (e.g. its title)."""
    task_name = f"the task {task!r}" if task else "the task"
    found: list[Difference] = []
    for field, setting, sentence, settable in _FIELDS:
        a, b = getattr(file_config, field), getattr(setup_config, field)
        if a != b:
            fix = {setting: a} if settable else None
            found.append(Difference(setting, a, b, sentence(a, b, task_name), fix))
    return found


def settings_fix(differences: list[Difference]) -> dict | None:
    """All the fixes together as one settings change, or None when some difference has none
    (the file cannot be loaded into this task whatever the settings)."""
    merged: dict = {}
    for difference in differences:
        if difference.fix is None:
            return None
        merged.update(difference.fix)
    return merged


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
