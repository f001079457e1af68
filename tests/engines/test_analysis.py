"""Memory timescales, the RNN's spectral radius, the stable state-space projection, the chrono
initialisation, and the analyses riding along with the trainer's probe frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engines.analysis import (
    ANALYSIS_KINDS,
    StableProjection,
    check_analysis_kinds,
    keep_gate,
    memory_timescales,
    sorted_timescales,
    spectral_radius,
)
from engines.commands import RequestProbe, SetAnalyses
from engines.config import EngineConfig
from engines.engine import build_engine, create_engine
from engines.interventions import Clamp
from engines.jacobians import product_norms, singular_values
from engines.live_analysis import LiveAnalysis
from engines.probe import probe_states
from engines.probe_schedule import ProbeSchedule
from engines.tasks.registry import create_task
from engines.training import Trainer, TrainingConfig, run_training

# ------------------------------------------------------------------------------ timescales


def test_timescale_of_a_constant_gate():
    """A unit that keeps 90 % of its state per step forgets over ~10 steps."""
    gate = np.empty((2, 50, 3))
    gate[..., 0], gate[..., 1], gate[..., 2] = 0.9, 0.0, 0.5
    np.testing.assert_allclose(memory_timescales(gate), [10.0, 1.0, 2.0])


def test_timescale_uses_the_mean_over_the_probe_and_stays_finite_at_one():
    gate = np.stack([np.full(4, 0.8), np.full(4, 1.0)], axis=-1)  # (time 4, units 2)
    gate[:2, 0] = 0.6  # mean 0.7 for unit 0
    tau = memory_timescales(gate)
    assert tau[0] == pytest.approx(1 / 0.3)
    assert math.isfinite(tau[1]) and tau[1] >= 1e5


def test_sorted_timescales_longest_first_with_their_units():
    values, units = sorted_timescales(np.array([2.0, 50.0, 1.0, 7.0]))
    np.testing.assert_array_equal(values, [50.0, 7.0, 2.0, 1.0])
    np.testing.assert_array_equal(units, [1, 3, 0, 2])


def test_keep_gates_per_kind():
    assert (keep_gate("lstm"), keep_gate("gru"), keep_gate("rnn")) == ("forget", "update", None)
    with pytest.raises(ValueError, match="kind must be one of"):
        keep_gate("transformer")


def test_spectral_radius_of_scaled_identity_and_rotation():
    assert spectral_radius(0.5 * np.eye(4)) == pytest.approx(0.5)
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    # Complex eigenvalues 0.9 e^{+-0.3i}: the radius, not the real parts.
    assert spectral_radius(0.9 * rotation) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="square"):
        spectral_radius(np.zeros((2, 3)))


# ----------------------------------------------------------------------------- state space


def _rotating_trajectory(theta: float, steps: int = 60) -> np.ndarray:
    """A loop in the plane of units 0 and 1 whose long axis points at angle ``theta``."""
    t = np.linspace(0, 2 * np.pi, steps, endpoint=False)
    long_axis = np.array([np.cos(theta), np.sin(theta), 0.0])
    short_axis = np.array([-np.sin(theta), np.cos(theta), 0.0])
    return np.outer(3 * np.cos(t), long_axis) + np.outer(np.sin(t), short_axis) + 0.1


def test_projection_is_the_first_two_principal_components():
    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((80, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    projection = StableProjection()
    points = projection.project(hidden)
    assert points.shape == (80, 2)
    centred = hidden - hidden.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    np.testing.assert_allclose((points**2).sum(axis=0), singular[:2] ** 2, rtol=1e-10)
    np.testing.assert_allclose(projection.explained, singular[:2] ** 2 / (singular**2).sum())


def test_projection_does_not_flip_between_nearby_frames():
    """The long axis turns by 3 degrees a frame, half a turn in all. A fresh PCA per frame
    flips its sign on the way (which sign is an arbitrary convention); the stable projection
    moves each frame's picture only as much as the trajectory moved."""
    stable = StableProjection()
    jumps_stable, jumps_fresh = [], []
    previous_stable = previous_fresh = None
    for frame in range(61):
        hidden = _rotating_trajectory(np.radians(3 * frame))
        points = stable.project(hidden)
        fresh = StableProjection().project(hidden)
        if previous_stable is not None:
            jumps_stable.append(np.abs(points - previous_stable).max())
            jumps_fresh.append(np.abs(fresh - previous_fresh).max())
        previous_stable, previous_fresh = points, fresh
    # 3 degrees on a radius of 3: at most ~0.16 between frames.
    assert max(jumps_stable) < 0.2
    assert max(jumps_fresh) > 2.0  # a flip: the test can fail


def test_projection_keeps_its_axes_when_two_components_trade_places():
    """Two directions of nearly equal variance whose order swaps between two frames: the
    axes stay with their directions (no quarter turn of the picture)."""
    t = np.linspace(0, 2 * np.pi, 100, endpoint=False)

    def frame(a, b):
        return np.stack([a * np.cos(t), b * np.sin(t), 0.01 * np.cos(3 * t)], axis=1)

    projection = StableProjection()
    first = projection.project(frame(1.01, 1.0))
    second = projection.project(frame(1.0, 1.01))
    assert np.abs(second - first).max() < 0.05
    assert projection.explained[0] < projection.explained[1]  # axis 0 now the smaller one
    fresh = StableProjection().project(frame(1.0, 1.01))
    assert np.abs(fresh - first).max() > 0.5  # a fresh PCA turns the picture


def test_projection_of_a_standing_state_and_bad_input():
    projection = StableProjection()
    np.testing.assert_array_equal(projection.project(np.ones((5, 3))), np.zeros((5, 2)))
    np.testing.assert_array_equal(projection.explained, [0.0, 0.0])
    assert projection.project(np.arange(4.0)[:, None]).shape == (4, 2)  # one unit
    with pytest.raises(ValueError, match="hidden must have shape"):
        projection.project(np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        projection.project(np.full((3, 2), np.nan))


# ---------------------------------------------------------------------------------- chrono


def _effective_bias(engine, layer: int = 0) -> np.ndarray:
    _, _, bias_ih, bias_hh = engine.layer_parameters(layer)
    return (bias_ih + bias_hh).detach().numpy()


def test_chrono_lstm_forget_bias_in_range_and_input_bias_its_negative():
    t_max = 50
    config = EngineConfig("lstm", 2, 200, 1, num_layers=2, init="chrono", chrono_t_max=t_max)
    engine = build_engine(config, seed=0)
    for layer in range(2):
        bias = _effective_bias(engine, layer).reshape(4, 200)  # i, f, g, o
        forget, inputs = bias[1], bias[0]
        assert forget.min() >= 0.0 and forget.max() <= math.log(t_max - 1) + 1e-6
        np.testing.assert_allclose(inputs, -forget, atol=1e-6)
        # log U(1, T_max - 1): exp(b_f) spreads over the whole interval.
        spread = np.exp(forget)
        assert spread.min() < 3 and spread.max() > t_max - 4
        assert abs(spread.mean() - t_max / 2) < 4
        # bias_hh's chrono slices are zero: the effective bias is bias_ih's.
        bias_hh = engine.layer_parameters(layer)[3].detach().numpy().reshape(4, 200)
        assert np.all(bias_hh[:2] == 0.0)


def test_chrono_gru_update_bias_in_range_rest_as_default():
    config = EngineConfig("gru", 2, 100, 1, init="chrono", chrono_t_max=20)
    chrono = build_engine(config, seed=5)
    default = build_engine(EngineConfig("gru", 2, 100, 1), seed=5)
    update = _effective_bias(chrono).reshape(3, 100)[1]  # r, z, n
    assert update.min() >= 0.0 and update.max() <= math.log(19) + 1e-6
    assert update.std() > 0.3  # spread, not one value
    for mine, theirs in zip(
        chrono.state_dict().values(), default.state_dict().values(), strict=True
    ):
        assert mine.shape == theirs.shape
    ih, hh = (chrono.layer_parameters(0)[i].detach().numpy().reshape(3, 100) for i in (2, 3))
    ih0, hh0 = (default.layer_parameters(0)[i].detach().numpy().reshape(3, 100) for i in (2, 3))
    np.testing.assert_array_equal(ih[[0, 2]], ih0[[0, 2]])  # reset and candidate untouched
    np.testing.assert_array_equal(hh[[0, 2]], hh0[[0, 2]])
    np.testing.assert_array_equal(
        chrono.layer_parameters(0)[1].detach().numpy(),
        default.layer_parameters(0)[1].detach().numpy(),
    )


def test_chrono_spreads_the_memory_timescales_over_two_to_t_max():
    """With the weights silenced, the gates are their biases: tau = 1 + U(1, T_max - 1)."""
    for kind in ("lstm", "gru"):
        engine = create_engine(kind, 2, 64, 1, init="chrono", chrono_t_max=40, seed=1)
        with torch.no_grad():
            engine.layer_parameters(0)[0].zero_()
            engine.layer_parameters(0)[1].zero_()
        trace = engine.trace(torch.zeros(1, 10, 2))
        tau = memory_timescales(trace.gates[keep_gate(kind)][0])
        assert tau.min() >= 2.0 - 1e-3 and tau.max() <= 40.0 + 1e-3
        assert tau.max() > 30 and tau.min() < 5


def test_chrono_is_reproducible_with_a_seed():
    config = EngineConfig("lstm", 2, 16, 1, init="chrono", chrono_t_max=30)
    first, second = build_engine(config, seed=3), build_engine(config, seed=3)
    np.testing.assert_array_equal(_effective_bias(first), _effective_bias(second))


def test_chrono_config_is_validated_by_name():
    with pytest.raises(ValueError, match="chrono_t_max >= 2"):
        EngineConfig("lstm", 2, 8, 1, init="chrono")
    with pytest.raises(ValueError, match="chrono_t_max >= 2"):
        EngineConfig("gru", 2, 8, 1, init="chrono", chrono_t_max=1)
    with pytest.raises(ValueError, match="LSTM or a GRU"):
        EngineConfig("rnn", 2, 8, 1, init="chrono", chrono_t_max=10)
    with pytest.raises(ValueError, match="chrono_t_max must be an integer"):
        EngineConfig("lstm", 2, 8, 1, chrono_t_max=True)
    with pytest.raises(ValueError, match="chrono_t_max must be an integer"):
        EngineConfig("lstm", 2, 8, 1, chrono_t_max=-1)
    config = EngineConfig("lstm", 2, 8, 1, init="chrono", chrono_t_max=12)
    assert EngineConfig.from_dict(config.to_dict()) == config
    # Files written before chrono existed still load.
    old = {"kind": "lstm", "input_size": 2, "hidden_size": 8, "output_size": 1}
    assert EngineConfig.from_dict(old).chrono_t_max == 0


# --------------------------------------------------------------------------- live analyses


def test_set_analyses_names_the_unknown_kind():
    assert SetAnalyses(["jacobians", "state_space"]).kinds == {"jacobians", "state_space"}
    assert SetAnalyses().kinds == frozenset()
    with pytest.raises(ValueError, match="unknown analysis 'gradients'"):
        SetAnalyses({"gradients"})
    with pytest.raises(ValueError, match="set of analysis names"):
        check_analysis_kinds("jacobians")
    assert set(ANALYSIS_KINDS) == {"jacobians", "timescales", "state_space"}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_live_analysis_keys_shapes_and_values(kind):
    engine = create_engine(kind, 3, 6, 1, num_layers=2, seed=30)
    x = torch.randn(2, 9, 3, generator=torch.Generator().manual_seed(31))
    layers, _ = probe_states(engine, x)
    result = LiveAnalysis(ANALYSIS_KINDS).compute(engine, layers)
    jac = engine.jacobians(x[:1])  # the analyses are of the first sequence
    size = 12 if kind == "lstm" else 6
    assert jac.shape[-1] == size
    assert result["singular_values"].shape == (2, 9, 1)
    np.testing.assert_allclose(
        result["singular_values"][..., 0], singular_values(jac[:, 0], 1)[..., 0], rtol=1e-4
    )
    assert result["product_norms"].shape == (2, 9)
    np.testing.assert_allclose(result["product_norms"], product_norms(jac[:, 0]), rtol=1e-4)
    if kind == "rnn":
        assert "timescales" not in result
        expected = [spectral_radius(engine.layer_parameters(k)[1].detach().numpy()) for k in (0, 1)]
        np.testing.assert_allclose(result["spectral_radius"], expected)
    else:
        assert "spectral_radius" not in result
        trace = engine.trace(x)
        gate = trace.gates[keep_gate(kind)]
        np.testing.assert_allclose(
            result["timescales"], [memory_timescales(gate[k, 0]) for k in (0, 1)], rtol=1e-6
        )
    assert result["state_space"].shape == (2, 9, 2)
    assert result["state_space_explained"].shape == (2, 2)
    assert all(isinstance(v, np.ndarray) for v in result.values())  # plain numpy for the pipe


def test_live_analysis_computes_only_what_is_asked():
    engine = create_engine("lstm", 3, 6, 1, seed=32)
    layers, _ = probe_states(engine, torch.randn(1, 5, 3))
    analysis = LiveAnalysis({"timescales"})
    assert set(analysis.compute(engine, layers)) == {"timescales"}
    assert analysis.split("lstm") == (frozenset({"timescales"}), frozenset())
    assert LiveAnalysis({"timescales"}).split("rnn") == (frozenset(), frozenset({"timescales"}))
    assert LiveAnalysis().compute(engine, layers) is None


def _trainer(kind="lstm", length=12):
    task = create_task("adding", length)
    config = TrainingConfig(batch_size=8, test_size=16, probe_size=1, eval_every=5)
    return Trainer.create(EngineConfig(kind, task.input_size, 8, task.output_size), task, config)


def test_trainer_frames_carry_the_analyses_asked_for():
    trainer = _trainer()
    run = run_training(trainer, steps=30)
    assert next(run).probe.analysis is None  # nothing asked: nothing computed
    frame = run.send(SetAnalyses(ANALYSIS_KINDS)).probe  # the next snapshot is probed
    assert frame is not None
    assert set(frame.analysis) == {
        "singular_values",
        "product_norms",
        "timescales",
        "state_space",
        "state_space_explained",
    }
    assert frame.analysis["timescales"].shape == (1, 8)
    assert frame.analysis["state_space"].shape == (1, 12, 2)
    frame = run.send(SetAnalyses({"state_space"})).probe
    assert set(frame.analysis) == {"state_space", "state_space_explained"}
    frame = run.send(SetAnalyses(frozenset())).probe
    assert frame.analysis is None


def test_bad_analysis_kinds_are_refused_by_the_trainer_not_the_run():
    trainer = _trainer()
    with pytest.raises(ValueError, match="unknown analysis"):
        trainer.set_analyses({"spectrum"})


def test_costly_analyses_follow_their_schedule_cheap_ones_every_frame():
    class Clock:
        now = 0.0

        def __call__(self):
            self.now += 0.001
            return self.now

    trainer = _trainer()
    trainer.set_analyses(ANALYSIS_KINDS)
    schedule = ProbeSchedule(rate_hz=1000.0, max_fraction=1.0)  # a trace frame every step
    analysis_schedule = ProbeSchedule(rate_hz=20.0, max_fraction=1.0)
    snaps = list(
        run_training(
            trainer,
            steps=60,
            schedule=schedule,
            clock=Clock(),
            analysis_schedule=analysis_schedule,
        )
    )
    frames = [s.probe for s in snaps if s.probe is not None]
    assert all("state_space" in f.analysis and "timescales" in f.analysis for f in frames)
    with_jacobians = [f for f in frames if "singular_values" in f.analysis]
    assert 2 <= len(with_jacobians) < len(frames) / 2


def test_state_space_axes_stay_put_between_frames_of_a_run():
    trainer = _trainer(length=20)
    trainer.set_analyses({"state_space"})
    every_step = ProbeSchedule(rate_hz=1e6, max_fraction=1.0)
    snaps = run_training(trainer, steps=40, schedule=every_step)
    frames = [s.probe for s in snaps if s.probe is not None]
    assert len(frames) >= 20
    for before, after in zip(frames, frames[1:], strict=False):
        a, b = before.analysis["state_space"][0], after.analysis["state_space"][0]
        # One optimizer step apart: each axis moves a little, it never mirrors.
        for axis in range(2):
            assert np.dot(a[:, axis], b[:, axis]) > 0.5 * np.dot(a[:, axis], a[:, axis])


def test_analyses_under_interventions_use_the_altered_run():
    trainer = _trainer()
    trainer.set_analyses({"jacobians"})
    trainer.set_interventions([Clamp("forget", 1.0), Clamp("input", 0.0)])
    frame = trainer.add_analysis(trainer.probe(with_gradients=False))
    # The cell path is the identity: nothing forgets along it, at any distance.
    assert np.all(frame.analysis["product_norms"] >= 1.0 - 1e-6)


def test_views_opened_while_paused_are_filled_at_once_whatever_the_schedule():
    trainer = _trainer()
    sparse = ProbeSchedule(rate_hz=1e-6, max_fraction=1.0)  # due once, then not for ages
    run = run_training(trainer, start_paused=True, analysis_schedule=sparse)
    next(run)
    first = run.send(SetAnalyses({"jacobians"})).probe
    assert "singular_values" in first.analysis
    assert run.send(RequestProbe()).probe.analysis is None  # the schedule holds it back
    again = run.send(SetAnalyses({"jacobians", "state_space"})).probe
    assert {"singular_values", "state_space"} <= set(again.analysis)
