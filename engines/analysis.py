"""How long a network remembers, in numbers a lecturer draws: memory timescales per unit, the
RNN's spectral radius, and a 2-D view of the state space that holds still between frames.

Plain numpy on probed values (``engines.probe.Trace`` arrays or the trainer's probe states).

- **Timescales.** A gated unit with keep gate f holds a fraction f of its state per step, so a
  constant f forgets with time constant tau = 1 / (1 - f) (f^t = e^{-t / tau} for f near 1).
  The LSTM's keep gate is its forget gate f (c_t = f c_{t-1} + i g); the GRU's is its update
  gate z (h_t = (1 - z) n + z h_{t-1}). tau uses the mean gate over the probe sequence.
- **Spectral radius.** A tanh RNN linearised at 0 is h_t = W_hh h_{t-1}: its memory lasts
  while the largest |eigenvalue| of W_hh is near 1, and explodes above it.
- **State space.** The hidden-state trajectory projected on its first two principal
  components, with each frame's axes matched to the previous frame's (a principal axis is
  defined only up to sign, and two of similar variance can trade places), so training is seen
  as motion, not as the picture flipping.
"""

from __future__ import annotations

import numpy as np

#: The gate whose value is the fraction of the state kept per step, per kind (None: no gate).
KEEP_GATES: dict[str, str | None] = {"lstm": "forget", "gru": "update", "rnn": None}
#: A keep gate is capped this close to 1, so tau stays finite (at most 1 / this).
_GATE_CAP = 1e-6


def keep_gate(kind: str) -> str | None:
    """The name of ``kind``'s keep gate: "forget" (LSTM), "update" (GRU), None (RNN)."""
    if kind not in KEEP_GATES:
        raise ValueError(f"kind must be one of {', '.join(KEEP_GATES)}, got {kind!r}")
    return KEEP_GATES[kind]


def memory_timescales(gate: np.ndarray) -> np.ndarray:
    """tau = 1 / (1 - mean gate) per unit, float64 (H,), from the keep gate's values (..., H)
    over the probe sequence (every leading axis -- batch, time -- is averaged). tau is 1 for a
    gate at 0 (nothing kept), grows without bound as the mean gate nears 1 (capped at 1e6)."""
    values = np.asarray(gate, dtype=np.float64)
    if values.ndim < 1 or values.shape[-1] == 0 or values.size == 0:
        raise ValueError(f"gate must have shape (..., units) with values, got {values.shape}")
    mean = values.reshape(-1, values.shape[-1]).mean(axis=0)
    mean = np.clip(mean, 0.0, 1.0 - _GATE_CAP)
    return 1.0 / (1.0 - mean)


def sorted_timescales(timescales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(timescales longest first, the units they belong to)."""
    values = np.asarray(timescales, dtype=np.float64).ravel()
    order = np.argsort(-values, kind="stable")
    return values[order], order


def spectral_radius(weight_hh: np.ndarray) -> float:
    """max |eigenvalue| of a square recurrent matrix (for the RNN, W_hh)."""
    matrix = np.asarray(weight_hh, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ValueError(f"weight_hh must be a square matrix, got shape {matrix.shape}")
    return float(np.abs(np.linalg.eigvals(matrix)).max())


class StableProjection:
    """Project hidden-state trajectories (T, H) on their first two principal components,
    frame after frame, without the axes flipping.

    Each frame's components come from its own trajectory (centred on its mean). The first
    frame fixes the signs (each axis's largest loading positive); later frames match the
    previous frame's axes: if the two components traded places (their variances crossed),
    they are swapped back, and each axis takes the sign that agrees with the axis before. So
    axis 0 is the leading component until another overtakes it, and a slowly changing network
    gives a slowly moving picture. ``explained`` is the fraction of the variance each axis
    carries (axis 0 may then carry less than axis 1).
    """

    def __init__(self) -> None:
        self.components: np.ndarray | None = None  # (2, H): the axes, rows unit length
        self.mean: np.ndarray | None = None  # (H,)
        self.explained = np.zeros(2)

    def reset(self) -> None:
        self.components = self.mean = None
        self.explained = np.zeros(2)

    def project(self, hidden: np.ndarray) -> np.ndarray:
        """(T, 2) coordinates of the trajectory ``hidden`` (T, H) on this frame's axes."""
        states = np.asarray(hidden, dtype=np.float64)
        if states.ndim != 2 or states.shape[0] == 0 or states.shape[1] == 0:
            raise ValueError(f"hidden must have shape (time, units), got {states.shape}")
        if not np.isfinite(states).all():
            raise ValueError("hidden contains NaN or infinite values")
        mean = states.mean(axis=0)
        centred = states - mean
        _, singular, rows = np.linalg.svd(centred, full_matrices=False)
        axes = np.zeros((2, states.shape[1]))
        variance = np.zeros(2)
        count = min(2, rows.shape[0])
        axes[:count] = rows[:count]
        variance[:count] = singular[:count] ** 2
        axes, variance = self._align(axes, variance)
        total = float((singular**2).sum())
        self.components, self.mean = axes, mean
        self.explained = variance / total if total > 0 else np.zeros(2)
        return centred @ axes.T

    def _align(self, axes: np.ndarray, variance: np.ndarray):
        previous = self.components
        if previous is None or previous.shape != axes.shape:
            biggest = np.abs(axes).argmax(axis=1)
            signs = np.sign(axes[np.arange(2), biggest])
            return axes * np.where(signs == 0, 1.0, signs)[:, None], variance
        overlap = axes @ previous.T  # (new, old)
        if abs(overlap[1, 0]) + abs(overlap[0, 1]) > abs(overlap[0, 0]) + abs(overlap[1, 1]):
            axes, variance, overlap = axes[::-1], variance[::-1], overlap[::-1]
        signs = np.sign(np.diag(overlap))
        return axes * np.where(signs == 0, 1.0, signs)[:, None], variance.copy()


#: The analyses a trainer can attach to its probe frames (``engines.commands.SetAnalyses``),
#: one per "why it forgets" view.
ANALYSIS_KINDS = ("jacobians", "timescales", "state_space")


def check_analysis_kinds(kinds) -> frozenset[str]:
    """``kinds`` as a frozenset of known analysis names; ValueError naming the bad one."""
    if isinstance(kinds, str) or kinds is None:
        raise ValueError(
            f"kinds must be a set of analysis names ({', '.join(ANALYSIS_KINDS)}), got {kinds!r}"
        )
    try:
        checked = frozenset(kinds)
    except TypeError:
        raise ValueError(f"kinds must be a set of analysis names, got {kinds!r}") from None
    unknown = sorted(str(kind) for kind in checked - set(ANALYSIS_KINDS))
    if unknown:
        raise ValueError(
            f"unknown analysis {unknown[0]!r}; the analyses are {', '.join(ANALYSIS_KINDS)}"
        )
    return checked
