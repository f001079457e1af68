"""The training loop, shared by the app's trainer process, the command line and scripts.

``Trainer`` owns the engine, the task, the optimizer and the fixed held-out and probe sets;
``run_training`` drives it as a generator that yields a ``Snapshot`` after every step and
takes commands (``Pause``, ``Step``, ``SetLearningRate``, ...) through ``send`` between steps.
No threads here: whoever iterates decides where it runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from engines.commands import (
    Command,
    Pause,
    RequestProbe,
    Resume,
    SetAnalyses,
    SetClip,
    SetInterventions,
    SetLearningRate,
    Step,
    Stop,
)
from engines.config import EngineConfig
from engines.engine import RecurrentEngine, build_engine
from engines.gradient_flow import GradientFlow, gradient_flow
from engines.intervened_flow import intervened_gradient_flow
from engines.interventions import check_interventions
from engines.live_analysis import LiveAnalysis
from engines.out_of_memory import OutOfMemoryAdvice, is_out_of_memory, out_of_memory_advice
from engines.probe import Trace, probe_states, trace_from_states
from engines.probe_schedule import ProbeSchedule
from engines.stepper import SteppedStates, stepped_states
from engines.tasks.base import Batch, Task

OPTIMIZERS = ("adam", "sgd", "rmsprop")


class TrainingDiverged(RuntimeError):
    """The loss or the gradient stopped being finite; the message says what to try."""


@dataclass(frozen=True)
class TrainingConfig:
    optimizer: str = "adam"
    lr: float = 5e-3
    batch_size: int = 64
    clip: float = 1.0  # max gradient norm; 0 turns clipping off
    seed: int = 0
    eval_every: int = 50
    test_size: int = 512
    probe_size: int = 4

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        check_learning_rate(self.lr)
        check_clip(self.clip)
        for name, low in (
            ("batch_size", 1),
            ("eval_every", 1),
            ("test_size", 1),
            ("probe_size", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def check_learning_rate(lr) -> float:
    if (
        isinstance(lr, bool)
        or not isinstance(lr, int | float)
        or not (0 < lr <= 10)
        or not math.isfinite(lr)
    ):
        raise ValueError(f"learning rate must be a number in (0, 10], got {lr!r}")
    return float(lr)


def check_clip(clip) -> float:
    if (
        isinstance(clip, bool)
        or not isinstance(clip, int | float)
        or not math.isfinite(clip)
        or clip < 0
    ):
        raise ValueError(f"clip must be a finite number >= 0 (0 turns clipping off), got {clip!r}")
    return float(clip)


@dataclass(frozen=True)
class ProbeFrame:
    """What the views draw: the probe batch, its trace and its gradient flow (numpy)."""

    step: int
    inputs: np.ndarray  # (batch, time, input_size)
    targets: np.ndarray  # (batch, time, output_size) float, or (batch, time) class indices
    mask: np.ndarray  # (batch, time) bool: where the loss is taken
    trace: Trace
    gradients: GradientFlow | None
    # With interventions set (Trainer.set_interventions): ``trace`` and ``gradients`` are the
    # altered run's, ``reference`` the unaltered trace, the losses the probe batch's after and
    # before; ``interventions`` what was applied (to match a frame to the controls).
    reference: Trace | None = None
    probe_loss: float | None = None
    reference_loss: float | None = None
    interventions: tuple = ()
    # The "why it forgets" analyses asked for by SetAnalyses, as plain numpy keyed as in
    # engines.live_analysis (None: none computed for this frame; views keep the last).
    analysis: dict | None = None


@dataclass(frozen=True)
class Snapshot:
    """The state of a run after a step (or a command). Plain values and numpy only."""

    step: int
    state: str  # "running", "paused", "finished", "stopped" or "error"
    train_loss: float | None = None  # the loss of the step just taken, if one was
    grad_norm: float | None = None  # its gradient norm before clipping
    test_loss: float | None = None  # set when the held-out set was evaluated at this step
    test_metric: float | None = None
    lr: float = 0.0
    clip: float = 0.0
    elapsed: float = 0.0  # seconds spent training (pauses excluded)
    probe: ProbeFrame | None = None
    message: str = ""
    out_of_memory: bool = False  # an "error" that is running out of memory, not divergence

    @property
    def trained(self) -> bool:
        return self.train_loss is not None


def _make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.RMSprop(params, lr=lr)


class Trainer:
    """One training run: engine + task + optimizer + fixed held-out and probe batches."""

    def __init__(
        self,
        engine: RecurrentEngine,
        task: Task,
        config: TrainingConfig,
        probe_batch: Batch | None = None,
    ) -> None:
        if (
            engine.config.input_size != task.input_size
            or engine.config.output_size != task.output_size
        ):
            raise ValueError(
                f"engine sizes ({engine.config.input_size} in, {engine.config.output_size} out) "
                f"do not fit task {task.name!r} ({task.input_size} in, {task.output_size} out)"
            )
        self.engine = engine
        self.task = task
        self.config = config
        self.device = engine.device
        self.step = 0
        self.clip = config.clip
        self.optimizer = _make_optimizer(config.optimizer, engine.parameters(), config.lr)
        self._generator = torch.Generator().manual_seed(config.seed)
        held_out = torch.Generator().manual_seed(config.seed + 1_000_003)
        self.test_batch = task.sample(config.test_size, held_out).to(self.device)
        probe = probe_batch
        if probe is None and hasattr(task, "probe_batch"):
            probe = task.probe_batch()
        if probe is None:
            probe = Batch(
                *(
                    t[: config.probe_size]
                    for t in (
                        self.test_batch.inputs,
                        self.test_batch.targets,
                        self.test_batch.mask,
                        self.test_batch.metric_mask,
                    )
                )
            )
        self.probe_batch = probe.to(self.device)
        engine.check_input(self.probe_batch.inputs)  # once: the probes after it skip the check
        # What every frame shows of the fixed probe batch: made once, shared, read-only.
        self._probe_arrays = tuple(
            _read_only(t.cpu().numpy()) for t in (probe.inputs, probe.targets, probe.mask)
        )
        self._probed: tuple[int, tuple] = (-1, ())
        #: Applied to the probe only (never to training or the weights): see set_interventions.
        self.interventions: tuple = ()
        #: The analyses attached to probe frames (SetAnalyses) and their state between frames.
        self.analysis = LiveAnalysis()

    @classmethod
    def create(
        cls,
        engine_config: EngineConfig,
        task: Task,
        config: TrainingConfig,
        device: str = "cpu",
        probe_batch: Batch | None = None,
        weights_seed: int | None = None,
    ) -> Trainer:
        """Build the engine with the run's seed, so a seed fixes the whole run.

        ``weights_seed`` draws the initial weights from another seed while the batches, the
        held-out and the probe sets still come from ``config.seed`` (the data seed): engines
        compared side by side then see identical data, whatever their weights.
        """
        if weights_seed is None:
            weights_seed = config.seed
        elif (
            isinstance(weights_seed, bool) or not isinstance(weights_seed, int) or weights_seed < 0
        ):
            raise ValueError(f"weights_seed must be a non-negative integer, got {weights_seed!r}")
        try:
            engine = build_engine(engine_config, device=device, seed=weights_seed)
            return cls(engine, task, config, probe_batch)
        except RuntimeError as error:  # torch.cuda.OutOfMemoryError is one too
            if not is_out_of_memory(error):
                raise
            torch.cuda.empty_cache()
            raise OutOfMemoryAdvice(
                out_of_memory_advice(device, config.batch_size, "building the run")
            ) from error

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def set_lr(self, lr: float) -> None:
        lr = check_learning_rate(lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def set_clip(self, clip: float) -> None:
        self.clip = check_clip(clip)

    def train_step(self) -> tuple[float, float]:
        """One step of the optimizer; returns (loss, gradient norm before clipping)."""
        if not self.engine.training:  # evaluate() leaves it in eval mode
            self.engine.train()
        batch = self.task.sample(self.config.batch_size, self._generator).to(self.device)
        # The read-out only where the task takes its loss (the adding problem: the last step);
        # the same loss and gradients as the read-out everywhere, for less work.
        steps = getattr(self.task, "loss_steps", None)
        outputs = self.engine(batch.inputs, validate=False, steps=steps)  # tasks: finite inputs
        if steps is None:
            loss = self.task.loss(outputs, batch)
        else:
            loss = self.task.loss(outputs, batch, steps)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.engine.parameters() if p.grad is not None]
        max_norm = self.clip if self.clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        loss_value = float(loss.detach())
        self.step += 1
        if not math.isfinite(loss_value) or not math.isfinite(grad_norm):
            what = "loss" if not math.isfinite(loss_value) else "gradient norm"
            advice = (
                "turn on gradient clipping (e.g. clip 1.0)"
                if self.clip == 0
                else f"lower the clipping threshold (now {self.clip:g})"
            )
            raise TrainingDiverged(
                f"the {what} became {loss_value if what == 'loss' else grad_norm} at step "
                f"{self.step}: the gradients exploded. Try a lower learning rate "
                f"(now {self.lr:g}) or {advice}."
            )
        self.optimizer.step()
        return loss_value, grad_norm

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """(loss, metric) on the fixed held-out set."""
        self.engine.eval()
        outputs = self.engine(self.test_batch.inputs)
        loss = float(self.task.loss(outputs, self.test_batch))
        return loss, self.task.metric(outputs, self.test_batch)

    def set_interventions(self, interventions) -> None:
        """Alter the probe from now on by ``interventions`` (Clamp, Ablate, SetBias or their
        dicts; empty clears). ValueError naming what does not fit the engine."""
        self.interventions = check_interventions(interventions, self.engine.config)
        self._probed = (-1, ())

    def probe(self, with_gradients: bool = True) -> ProbeFrame:
        """The probe batch traced now; its states are kept so ``add_gradients`` at the same
        step does not compute them again."""
        if self.interventions:
            return self._probe_intervened(with_gradients)
        states = probe_states(self.engine, self.probe_batch.inputs, validate=False)
        self._probed = (self.step, states)
        inputs, targets, mask = self._probe_arrays
        return ProbeFrame(
            step=self.step,
            inputs=inputs,
            targets=targets,
            mask=mask,
            trace=trace_from_states(self.engine.config.kind, *states),
            gradients=self.gradient_flow() if with_gradients else None,
        )

    def gradient_flow(self) -> GradientFlow | None:
        """None for a probe without targets (a user's sequence shown on another task)."""
        batch = self.probe_batch
        if not bool(batch.mask.any()):
            return None
        step, states = self._probed
        if self.interventions:
            return intervened_gradient_flow(
                self.engine,
                batch.inputs,
                lambda out: self.task.loss(out, batch),
                self.interventions,
                run=states if step == self.step and isinstance(states, SteppedStates) else None,
            )
        return gradient_flow(
            self.engine,
            batch.inputs,
            lambda out: self.task.loss(out, batch),
            states=states if step == self.step else None,
        )

    def add_gradients(self, frame: ProbeFrame) -> ProbeFrame:
        return replace(frame, gradients=self.gradient_flow())

    def set_analyses(self, kinds) -> None:
        """Attach these analyses (engines.analysis.ANALYSIS_KINDS) to probe frames from now
        on; an empty set stops them. ValueError naming an unknown one."""
        self.analysis.set_kinds(kinds)

    def add_analysis(self, frame: ProbeFrame, kinds=None) -> ProbeFrame:
        """``frame`` with the analyses ``kinds`` (default: all that are set) merged into its
        ``analysis``, computed from the states of the probe just taken (under interventions,
        the altered run's)."""
        step, states = self._probed
        if step != self.step:
            return frame
        if isinstance(states, SteppedStates):
            layers, params, plans = states.layers, states.params, states.plans
        else:
            layers, params, plans = states[0], None, None
        result = self.analysis.compute(self.engine, layers, kinds, params=params, plans=plans)
        if not result:
            return frame
        return replace(frame, analysis={**(frame.analysis or {}), **result})

    def _probe_intervened(self, with_gradients: bool) -> ProbeFrame:
        """The altered probe (engines.stepper) beside the unaltered one, and both losses."""
        inputs_tensor = self.probe_batch.inputs
        states = probe_states(self.engine, inputs_tensor, validate=False)
        run = stepped_states(self.engine, inputs_tensor, self.interventions, validate=False)
        self._probed = (self.step, run)
        kind = self.engine.config.kind
        inputs, targets, mask = self._probe_arrays
        return ProbeFrame(
            step=self.step,
            inputs=inputs,
            targets=targets,
            mask=mask,
            trace=trace_from_states(kind, run.layers, run.outputs),
            gradients=self.gradient_flow() if with_gradients else None,
            reference=trace_from_states(kind, *states),
            probe_loss=self._probe_loss(run.outputs),
            reference_loss=self._probe_loss(states[1]),
            interventions=self.interventions,
        )

    @torch.no_grad()
    def _probe_loss(self, outputs: torch.Tensor) -> float | None:
        batch = self.probe_batch
        if not bool(batch.mask.any()):
            return None
        return float(self.task.loss(outputs, batch))

    # --- continuing a run exactly ----------------------------------------------------------
    def training_state(self) -> dict:
        """What a continued run needs besides the weights, as tensors and plain values
        (``torch.save``-able and readable with ``weights_only=True``): the step, the optimizer
        state, the batch generator's state, the learning rate and clipping in force.

        Restoring it into a trainer built from the same configs and weights continues the run
        bit for bit: the held-out and probe sets are rebuilt from the seed, and the batches
        come from the restored generator.
        """
        return {
            "step": int(self.step),
            "lr": self.lr,
            "clip": float(self.clip),
            "optimizer": _cpu_copy(self.optimizer.state_dict()),
            "generator": self._generator.get_state().clone(),
        }

    def load_training_state(self, state: dict) -> None:
        """Restore ``training_state()``; ValueError naming what does not fit."""
        if not isinstance(state, dict):
            raise ValueError(f"training state must be a mapping, got {type(state).__name__}")
        missing = {"step", "optimizer", "generator"} - state.keys()
        if missing:
            raise ValueError(f"training state is missing {', '.join(sorted(missing))}")
        step = state["step"]
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"training state has a bad step {step!r}")
        generator = state["generator"]
        if not isinstance(generator, torch.Tensor) or generator.dtype != torch.uint8:
            raise ValueError("training state has no valid random-generator state")
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            raise ValueError(
                f"the optimizer state does not fit this run ({self.config.optimizer}): {error}"
            ) from error
        try:
            self._generator.set_state(generator)
        except RuntimeError as error:
            raise ValueError(f"the random-generator state is not valid: {error}") from error
        self.step = step
        if "lr" in state:
            self.set_lr(float(state["lr"]))
        if "clip" in state:
            self.set_clip(float(state["clip"]))


def _cpu_copy(value):
    """A deep copy of a (nested) optimizer state with every tensor on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: _cpu_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_cpu_copy(item) for item in value)
    return value


def _read_only(array: np.ndarray) -> np.ndarray:
    array = array.view()
    array.flags.writeable = False
    return array


def out_of_memory_message(trainer: Trainer, when: str | None = None) -> str:
    """The advice for ``trainer``'s run (``when`` defaults to the step being trained)."""
    torch.cuda.empty_cache()
    return out_of_memory_advice(
        trainer.device,
        trainer.config.batch_size,
        f"at step {trainer.step + 1}" if when is None else when,
    )


def run_training(
    trainer: Trainer,
    steps: int | None = None,
    *,
    start_paused: bool = False,
    schedule: ProbeSchedule | None = None,
    gradient_schedule: ProbeSchedule | None = None,
    clock=time.perf_counter,
    analysis_schedule: ProbeSchedule | None = None,
) -> Generator[Snapshot, Command | None, None]:
    """Train, yielding a Snapshot after every step; ``send`` a Command between steps.

    The first snapshot (the trainer's current step: 0 for a new run) carries the network's
    evaluation and probe; a trainer already at ``steps`` yields only that, as "finished". A
    probe rides along when ``schedule`` says one is due or a ``RequestProbe`` arrived; it
    carries the gradient flow (the costlier part) when ``gradient_schedule`` is due too, or
    always where there is no ``gradient_schedule``. Analyses set by ``SetAnalyses`` ride
    along too: the cheap ones with every probe, the costly ones (Jacobian spectra) when
    ``analysis_schedule`` is due, or with every probe where there is none.
    While paused, each ``send`` applies its command and yields without training (a
    ``Step(n)`` trains n steps and stays paused). A diverging loss yields an "error"
    snapshot whose message says what to try, and ends the run; so does running out of memory
    (CUDA or CPU), in a training step, an evaluation or a probe (the step-0 one included).
    ``steps`` ends it as "finished" with a final evaluation and probe; ``Stop`` as "stopped".
    """
    run = _run_training(
        trainer,
        steps,
        start_paused=start_paused,
        schedule=schedule,
        gradient_schedule=gradient_schedule,
        clock=clock,
        analysis_schedule=analysis_schedule,
    )
    # Delegated by hand rather than ``yield from``: an evaluation or a probe that runs out of
    # memory ends the run with advice, as a training step does, with the time trained so far.
    elapsed = 0.0
    try:
        snap = next(run)
        while True:
            elapsed = snap.elapsed
            command = yield snap
            snap = run.send(command)
    except StopIteration:
        return
    except RuntimeError as error:  # torch.cuda.OutOfMemoryError is one too
        if not is_out_of_memory(error):
            raise
        yield Snapshot(
            step=trainer.step,
            state="error",
            lr=trainer.lr,
            clip=trainer.clip,
            elapsed=elapsed,
            message=out_of_memory_message(
                trainer, f"evaluating or probing the network at step {trainer.step}"
            ),
            out_of_memory=True,
        )
    finally:
        run.close()


def _run_training(
    trainer: Trainer,
    steps: int | None,
    *,
    start_paused: bool,
    schedule: ProbeSchedule | None,
    gradient_schedule: ProbeSchedule | None,
    clock,
    analysis_schedule: ProbeSchedule | None,
) -> Generator[Snapshot, Command | None, None]:
    """``run_training`` but for running out of memory outside a training step."""
    eval_every = trainer.config.eval_every
    state = "paused" if start_paused else "running"
    elapsed = 0.0
    probe_wanted = False
    analysis_forced = False  # the next probe carries every analysis asked for
    gradients_forced = False  # ... and the gradient flow (interventions just changed)
    pending_steps = 0

    def snapshot(state, loss=None, grad_norm=None, evaluate=False, probe=False, message=""):
        nonlocal analysis_forced, gradients_forced
        test_loss = test_metric = frame = None
        if evaluate:
            test_loss, test_metric = trainer.evaluate()
        if probe:
            start = clock()
            # Paused, a probe costs training nothing: it always carries the gradient flow,
            # so every view (the gate lab's altered run included) shows the same moment.
            with_gradients = (
                gradients_forced
                or state == "paused"
                or gradient_schedule is None
                or gradient_schedule.due(start)
            )
            gradients_forced = False
            frame = trainer.probe(with_gradients=False)
            cheap, costly = trainer.analysis.split(trainer.engine.config.kind)
            if cheap:  # inside the trace's own time: the trace schedule accounts for it
                frame = trainer.add_analysis(frame, cheap)
            middle = clock()
            if schedule is not None:
                schedule.record(start, middle)
            if with_gradients:
                frame = trainer.add_gradients(frame)
                if gradient_schedule is not None:
                    gradient_schedule.record(middle, clock())
            forced, analysis_forced = analysis_forced, False  # views just opened
            if costly and (forced or analysis_schedule is None or analysis_schedule.due(clock())):
                begun = clock()
                frame = trainer.add_analysis(frame, costly)
                if analysis_schedule is not None:
                    analysis_schedule.record(begun, clock())
        return Snapshot(
            step=trainer.step,
            state=state,
            train_loss=loss,
            grad_norm=grad_norm,
            test_loss=test_loss,
            test_metric=test_metric,
            lr=trainer.lr,
            clip=trainer.clip,
            elapsed=elapsed,
            probe=frame,
            message=message,
        )

    def apply_command(command) -> None:
        nonlocal state, pending_steps, probe_wanted, analysis_forced, gradients_forced
        if isinstance(command, Pause):
            state = "paused"
        elif isinstance(command, Resume):
            state = "running"
        elif isinstance(command, Step):
            pending_steps += max(0, int(command.count))
        elif isinstance(command, SetLearningRate):
            trainer.set_lr(command.lr)
        elif isinstance(command, SetClip):
            trainer.set_clip(command.clip)
        elif isinstance(command, RequestProbe):
            probe_wanted = True
        elif isinstance(command, SetInterventions):
            trainer.set_interventions(command.interventions)
            probe_wanted = gradients_forced = True  # show the consequence at once
        elif isinstance(command, SetAnalyses):
            trainer.set_analyses(command.kinds)
            probe_wanted = analysis_forced = True  # fill the views just opened, at once

    if steps is not None and trainer.step >= steps:  # nothing to train: evaluate only
        yield snapshot("finished", evaluate=True, probe=True)
        return
    command = yield snapshot(state, evaluate=True, probe=True)
    while True:
        message = ""
        if command is not None:
            try:
                apply_command(command)
            except ValueError as error:
                message = str(error)
            if isinstance(command, Stop):
                yield snapshot("stopped", probe=True)
                return
        if state == "paused" and pending_steps == 0:
            command = yield snapshot("paused", probe=probe_wanted, message=message)
            probe_wanted = False
            continue
        if state == "paused":
            pending_steps -= 1
        start = clock()
        try:
            loss, grad_norm = trainer.train_step()
        except TrainingDiverged as error:
            yield snapshot("error", message=str(error))
            return
        except RuntimeError as error:  # torch.cuda.OutOfMemoryError is one too
            if not is_out_of_memory(error):
                raise
            yield replace(
                snapshot("error", message=out_of_memory_message(trainer)), out_of_memory=True
            )
            return
        elapsed += clock() - start
        done = steps is not None and trainer.step >= steps
        now = clock()
        # A step taken while paused is always probed: the user wants to see its effect.
        due = (
            probe_wanted
            or done
            or state == "paused"
            or (schedule is not None and schedule.due(now))
        )
        probe_wanted = False
        evaluate = done or trainer.step % eval_every == 0
        if done:
            yield snapshot("finished", loss, grad_norm, evaluate=True, probe=True)
            return
        command = yield snapshot(
            state, loss, grad_norm, evaluate=evaluate, probe=due, message=message
        )
