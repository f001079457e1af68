"""The app's side of a comparison's trainer process.

Everything a ``TrainingController`` does — start, Pause/Resume/Step, learning rate and
clipping, pulling updates at display rate, checkpoint requests with ids, the reaper thread
that joins (or terminates, or kills) the child off the GUI thread — holds for the lockstep
trainer unchanged, so this controller is one: only the child's entry point
(``playground.compare_process.compare_main``) and what travels differ. Every command goes to
all engines; an update is a ``CompareUpdate``; a checkpoint reply is a list of Checkpoints.
"""

from __future__ import annotations

from playground.compare_process import compare_main
from playground.training_controller import TrainingController


class CompareController(TrainingController):
    """Owns the lockstep trainer process of a comparison. ``start(spec, autostart,
    resume)`` takes a ``playground.compare_spec.CompareSpec`` and, to continue, one
    Checkpoint per engine; states as TrainingController's."""

    process_target = staticmethod(compare_main)
