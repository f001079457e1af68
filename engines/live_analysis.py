"""The "why it forgets" analyses of one probe, as the trainer attaches them to a frame.

Only what the visible views need is computed (``engines.commands.SetAnalyses``), on the probe
sequence the views show (sample 0 of the probe batch), from the states the probe already has.
What has to persist between frames lives here, on the trainer: the Jacobian spectra's
iteration vectors (``engines.jacobians.SpectrumTracker``, so each frame continues the last
one's iterations) and each layer's ``StableProjection`` (so the state-space axes never flip).

``LiveAnalysis.compute`` returns a dict of plain numpy (``ProbeFrame.analysis``):

=========================  ===================  ====================================================
key                        shape, dtype         what
=========================  ===================  ====================================================
``singular_values``        (layers, T, 1) f32   largest singular value of ds_t/ds_{t-1} per step
``product_norms``          (layers, T) f64      ||ds_{T-1}/ds_{T-1-d}||_2 at d = 1 .. T (index d-1)
``timescales``             (layers, H) f64      tau = 1/(1 - mean keep gate) per unit, unit order
                                                (LSTM forget gate, GRU update gate)
``spectral_radius``        (layers,) f64        max |eig W_hh| (RNN; in place of ``timescales``)
``state_space``            (layers, T, 2) f32   the trajectory on its two principal axes
``state_space_explained``  (layers, 2) f64      fraction of the variance on each axis
=========================  ===================  ====================================================

"jacobians" gives the first two, "timescales" the next (by kind), "state_space" the last two.

Costs differ by orders of magnitude, so the trainer splits them (``split``): the state space
and the gated timescales cost ~0.5 ms and ride along with every trace frame (inside the trace
budget); the Jacobian spectra (~5-10 ms for an LSTM of 32 units over 50 steps on the 2-core
CPU, O(T S^3) for the products) and the RNN's eigenvalues run on their own, sparser schedule
(``engines.probe_schedule.analysis_schedule``).
"""

from __future__ import annotations

import numpy as np
import torch

from engines.analysis import (
    StableProjection,
    check_analysis_kinds,
    keep_gate,
    memory_timescales,
    spectral_radius,
)
from engines.jacobians import SpectrumTracker, step_jacobians
from engines.probe import LayerStates
from engines.threads import single_threaded_numpy_blas


class LiveAnalysis:
    """The analyses asked for, and what they keep from frame to frame."""

    def __init__(self, kinds=frozenset()) -> None:
        self.kinds: frozenset[str] = check_analysis_kinds(kinds)
        self._trackers: list[SpectrumTracker] = []
        self._projections: list[StableProjection] = []

    def set_kinds(self, kinds) -> None:
        self.kinds = check_analysis_kinds(kinds)

    def reset(self) -> None:
        """Forget the iteration vectors and the projection axes (a new run)."""
        self._trackers, self._projections = [], []

    def split(self, engine_kind: str) -> tuple[frozenset[str], frozenset[str]]:
        """(the asked-for analyses cheap enough for every frame, the costly ones)."""
        costly = {"jacobians"} | ({"timescales"} if keep_gate(engine_kind) is None else set())
        return self.kinds - costly, self.kinds & costly

    def compute(
        self,
        engine,
        layers: list[LayerStates],
        kinds=None,
        sample: int = 0,
        params: list | None = None,
        plans: list | None = None,
    ) -> dict | None:
        """The analyses ``kinds`` (default: all asked for) of probe states ``layers`` (as
        ``engines.probe.probe_states`` gives them) for one ``sample``; None when there is
        nothing to compute. ``params``/``plans``: the run's parameters and intervention plans
        per layer when the probe ran under interventions (``engines.stepper.SteppedStates``),
        else the engine's own."""
        wanted = self.kinds if kinds is None else check_analysis_kinds(kinds)
        if not wanted:
            return None
        single_threaded_numpy_blas()  # see engines.threads
        kind = engine.config.kind
        count = len(layers)
        if len(self._trackers) != count:
            self._trackers = [SpectrumTracker() for _ in range(count)]
            self._projections = [StableProjection() for _ in range(count)]
        picked = [_one_sample(layer, sample) for layer in layers]
        result: dict[str, np.ndarray] = {}
        if "jacobians" in wanted:
            largest, norms = [], []
            for index, layer in enumerate(picked):
                layer_params = engine.layer_parameters(index) if params is None else params[index]
                plan = None if plans is None else plans[index]
                with torch.no_grad():
                    jac = step_jacobians(kind, layer, layer_params, plan)[0]
                values, products = self._trackers[index].update(jac.float().cpu().numpy())
                largest.append(values)
                norms.append(products)
            result["singular_values"] = np.stack(largest)[..., None].astype(np.float32)
            result["product_norms"] = np.stack(norms)
        if "timescales" in wanted:
            gate = keep_gate(kind)
            if gate is None:
                result["spectral_radius"] = np.array(
                    [
                        spectral_radius(_numpy(engine.layer_parameters(index)[1]))
                        for index in range(count)
                    ]
                )
            else:
                result["timescales"] = np.stack(
                    [memory_timescales(_numpy(layer.gates[gate])) for layer in picked]
                )
        if "state_space" in wanted:
            points, explained = [], []
            for projection, layer in zip(self._projections, picked, strict=True):
                points.append(projection.project(_numpy(layer.hidden[0])))
                explained.append(projection.explained.copy())
            result["state_space"] = np.stack(points).astype(np.float32)
            result["state_space_explained"] = np.stack(explained)
        return result


def _one_sample(layer: LayerStates, sample: int) -> LayerStates:
    pick = slice(sample, sample + 1)
    return LayerStates(
        inputs=layer.inputs[pick],
        hidden=layer.hidden[pick],
        cell=None if layer.cell is None else layer.cell[pick],
        gates={name: value[pick] for name, value in layer.gates.items()},
    )


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()
