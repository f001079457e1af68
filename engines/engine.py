"""The recurrent engine: a fused ``torch.nn.RNN/LSTM/GRU`` core plus a linear read-out.

Training runs on the fused core (cuDNN on CUDA). Everything a view shows comes from
``trace`` (every state and gate, computed in parallel over time from the fused outputs) and
``gradient_flow`` (dL/dh_t through the recurrence, by the explicit BPTT recursion over the
probed gates); both live in
their own modules and only read the engine's parameters.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engines.config import EngineConfig
from engines.devices import resolve_device
from engines.gradient_flow import gradient_flow
from engines.initialisation import initialise
from engines.intervened_flow import intervened_gradient_flow
from engines.probe import probe, trace_from_states
from engines.stepper import stepped_states

_CORES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
_PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class RecurrentEngine(nn.Module):
    """``core`` (batch-first fused recurrent module) followed by ``readout`` at every step."""

    def __init__(self, config: EngineConfig, device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.config = config
        target = resolve_device(device)
        core_type = _CORES[config.kind]
        extra = {"nonlinearity": "tanh"} if config.kind == "rnn" else {}
        self.core = core_type(
            config.input_size,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            **extra,
        )
        self.readout = nn.Linear(config.hidden_size, config.output_size)
        initialise(self.core, config)
        self.to(target)
        self._layer_views: list[nn.RNNBase] = []

    # --- the hot path ------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, validate: bool = True, steps: slice | None = None
    ) -> torch.Tensor:
        """Read-out at every step, (batch, time, output_size), from zero initial state.

        ``validate=False`` skips the finiteness check of ``x`` (shape is always checked): the
        training loop feeds batches its tasks already validated, and on CUDA the check would
        make the CPU wait for the GPU every step.

        ``steps`` (a slice of the time axis) applies the read-out only there, giving
        (batch, len(steps), output_size): the training step of a task scored at some steps
        only (``Task.loss_steps``, e.g. the adding problem's last) skips the read-out, and its
        backward pass, everywhere else. The outputs there are the same, bit for bit.
        """
        self.check_input(x, finite=validate)
        hidden, _ = self.core(x)
        if steps is not None:
            hidden = hidden[:, steps]
        return self.readout(hidden)

    # --- introspection (see engines.probe and engines.gradient_flow) ---------------------
    def trace(self, x: torch.Tensor, interventions=None):
        """Every hidden state, cell state and gate of every layer and step, as numpy.

        ``interventions`` (``Clamp``, ``Ablate``, ``SetBias``; engines.interventions) alter
        the recurrence of this trace only, step by step (engines.stepper); none or an empty
        list is the fast path, unchanged. The weights are never touched.
        """
        if interventions:
            run = stepped_states(self, x, interventions)
            return trace_from_states(self.config.kind, run.layers, run.outputs)
        return probe(self, x)

    def gradient_flow(self, x: torch.Tensor, loss_fn, interventions=None):
        """Per-step norms of dL/dh_t (through the recurrence) and dL/dx_t for a probe batch;
        under ``interventions``, those of the altered recurrence (a clamped gate passes no
        gradient to its pre-activation)."""
        if interventions:
            return intervened_gradient_flow(self, x, loss_fn, interventions)
        return gradient_flow(self, x, loss_fn)

    def jacobians(self, x: torch.Tensor, interventions=None):
        """Step Jacobians ds_t/ds_{t-1}, numpy (layers, batch, time, S, S); s = h (RNN, GRU)
        or (h, c) (LSTM, S = 2H, h first). See engines.jacobians."""
        from engines.jacobians import jacobians

        return jacobians(self, x, interventions)

    # --- helpers ---------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.readout.weight.device

    def check_input(self, x: torch.Tensor, finite: bool = True) -> None:
        """Raise ValueError naming ``x`` when it is not (batch, time, input_size) and finite."""
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3:
            raise ValueError(f"x must have shape (batch, time, features), got {tuple(x.shape)}")
        if x.shape[-1] != self.config.input_size:
            raise ValueError(
                f"x has {x.shape[-1]} features per step; this engine expects "
                f"input_size={self.config.input_size}"
            )
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"x must hold at least one sample and one step, got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"x must be a floating-point tensor, got {x.dtype}")
        if finite and not bool(torch.isfinite(x).all()):
            raise ValueError("x contains NaN or infinite values; inputs must be finite")

    def layer_parameters(self, layer: int) -> tuple[torch.Tensor, ...]:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer, PyTorch's stacked layout."""
        return tuple(getattr(self.core, f"{name}_l{layer}") for name in _PARAM_NAMES)

    def layer_view(self, layer: int) -> nn.RNNBase:
        """A one-layer fused module that shares this layer's parameters (no copy).

        The fused core returns only its last layer's outputs; probing a lower layer runs
        that layer alone through the same fused kernel. The views are not submodules, so
        they add nothing to ``state_dict`` or the optimizer.
        """
        if len(self._layer_views) != self.config.num_layers or any(
            getattr(view, f"{name}_l0") is not own
            for index, view in enumerate(self._layer_views)
            for name, own in zip(_PARAM_NAMES, self.layer_parameters(index), strict=True)
        ):
            self._layer_views = [self._make_view(k) for k in range(self.config.num_layers)]
        return self._layer_views[layer]

    def _make_view(self, layer: int) -> nn.RNNBase:
        config = self.config
        in_size = config.input_size if layer == 0 else config.hidden_size
        extra = {"nonlinearity": "tanh"} if config.kind == "rnn" else {}
        view = _CORES[config.kind](
            in_size, config.hidden_size, num_layers=1, batch_first=True, device="meta", **extra
        )
        for name, own in zip(_PARAM_NAMES, self.layer_parameters(layer), strict=True):
            setattr(view, f"{name}_l0", own)
        return view

    def extra_repr(self) -> str:
        c = self.config
        return f"kind={c.kind}, init={c.init}" + (
            f", forget_bias={c.forget_bias}" if c.kind == "lstm" else ""
        )

    def __setstate__(self, state):  # pragma: no cover - pickling is not part of the API
        super().__setstate__(state)
        self._layer_views = []


def create_engine(
    kind: str,
    input_size: int,
    hidden_size: int,
    output_size: int,
    num_layers: int = 1,
    device: str | torch.device = "cpu",
    *,
    init: str = "default",
    forget_bias: float = 1.0,
    seed: int | None = None,
    chrono_t_max: int = 0,
) -> RecurrentEngine:
    """Build an engine; ``seed`` makes its initial weights reproducible.

    Raises ValueError naming the argument for an unknown kind, a size out of range, an
    unknown init, or a device that is not there (and why).
    """
    if isinstance(kind, str):
        kind = kind.lower()
    if isinstance(forget_bias, int | float) and not math.isfinite(forget_bias):
        raise ValueError(f"forget_bias must be a finite number, got {forget_bias!r}")
    config = EngineConfig(
        kind=kind,
        input_size=input_size,
        hidden_size=hidden_size,
        output_size=output_size,
        num_layers=num_layers,
        init=init,
        forget_bias=float(forget_bias),
        chrono_t_max=chrono_t_max,
    )
    return build_engine(config, device=device, seed=seed)


def build_engine(
    config: EngineConfig, device: str | torch.device = "cpu", seed: int | None = None
) -> RecurrentEngine:
    if seed is None:
        return RecurrentEngine(config, device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RecurrentEngine(config, device)
