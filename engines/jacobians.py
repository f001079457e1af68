"""Why the gradient vanishes: the step Jacobians ds_t/ds_{t-1}, exactly, and their spectra.

Backpropagation through time multiplies the step Jacobians J_t = ds_t/ds_{t-1}; where their
norms sit below one the product shrinks geometrically with the distance (Pascanu, Mikolov &
Bengio 2013). The state s is h for the RNN and the GRU and (h, c) for the LSTM, ordered h then
c, so the LSTM's J_t is 2H x 2H with the cell-path block dc_t/dc_{t-1} = diag(f_t): the
forget gate can hold it at one, which is how the LSTM escapes.

The Jacobians come in closed form from the probed states and gates (as ``engines.gradient_flow``
uses them), batched over time, and are checked against autograd. Per layer, with the layer's
input held fixed: layer k's input at step t is layer k-1's h_t, which does not depend on layer
k's state, so the partial derivative is also the total one. ``J[..., 0, :, :]`` is the step
from the zero initial state s_{-1}.

Under interventions (``engines.interventions``) the states come from the stepper: a clamped gate
is a constant there, so its factor ``sigma'(a)`` is masked to zero, and an ablated unit (its h
and c forced to 0) has zero rows.

Spectra: ``singular_values`` and ``product_norms`` exactly (an SVD each); for the live view
``SpectrumTracker`` finds the largest singular value per step and the product norms
iteratively in numpy, continuing from frame to frame at a bounded cost per frame.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engines.probe import LayerStates, probe_states
from engines.stepper import stepped_states

#: Products of Jacobians held at once (floats), so memory stays bounded for long sequences.
_PRODUCT_FLOATS = 4 * 2**20


def state_size(kind: str, hidden_size: int) -> int:
    """S: H for the RNN and the GRU, 2H for the LSTM (h then c)."""
    return 2 * hidden_size if kind == "lstm" else hidden_size


def _shifted(values: torch.Tensor) -> torch.Tensor:
    """s_{t-1} for every t (batch, time, H), with s_{-1} = 0."""
    return torch.cat((torch.zeros_like(values[:, :1]), values[:, :-1]), dim=1)


def _free(plan, gate: str, like: torch.Tensor) -> torch.Tensor | float:
    """1 where ``gate`` follows its pre-activation, 0 where an intervention clamps it."""
    if plan is None or gate not in plan.clamp_masks:
        return 1.0
    mask = torch.as_tensor(plan.clamp_masks[gate], device=like.device)
    return (~mask).to(like.dtype)  # (T, H): broadcasts over the batch


def _rows(scale: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """diag(scale) @ weight for every (batch, time): (B, T, H) x (H, H') -> (B, T, H, H')."""
    return scale.unsqueeze(-1) * weight


def _diag(values: torch.Tensor) -> torch.Tensor:
    return torch.diag_embed(values)


def step_jacobians(kind: str, layer: LayerStates, params, plan=None) -> torch.Tensor:
    """ds_t/ds_{t-1} of one layer for every sequence and step, (batch, time, S, S).

    ``params`` is the layer's (weight_ih, weight_hh, bias_ih, bias_hh) as the run used them
    (with bias edits under interventions); ``plan`` an ``engines.interventions.LayerPlan`` or
    None. Rows index s_t, columns s_{t-1}.
    """
    _, weight_hh, _, bias_hh = params
    hidden = layer.hidden
    size = hidden.shape[-1]
    h_prev = _shifted(hidden)
    gates = layer.gates
    if kind == "rnn":
        slope = (1 - hidden.square()) * _free(plan, "preactivation", hidden)
        jac = _rows(slope, weight_hh)
    elif kind == "gru":
        r, z, n = gates["reset"], gates["update"], gates["candidate"]
        w_hr, w_hz, w_hn = weight_hh.split(size)
        hn = h_prev @ w_hn.T + bias_hh[2 * size :]  # W_hn h_{t-1} + b_hn, inside the reset
        dr = r * (1 - r) * _free(plan, "reset", r)
        dz = z * (1 - z) * _free(plan, "update", z)
        dn = (1 - n.square()) * _free(plan, "candidate", n)
        # h_t = (1 - z) n + z h_{t-1};  n = tanh(a_n + r * (W_hn h_{t-1} + b_hn))
        dn_dh = _rows(dn * r, w_hn) + _rows(dn * hn * dr, w_hr)
        jac = _rows((h_prev - n) * dz, w_hz) + (1 - z).unsqueeze(-1) * dn_dh + _diag(z)
    elif kind == "lstm":
        i, f, g, o = (gates[name] for name in ("input", "forget", "candidate", "output"))
        w_hi, w_hf, w_hg, w_ho = weight_hh.split(size)
        cell = layer.cell
        c_prev = _shifted(cell)
        tanh_c = torch.tanh(cell)
        di = i * (1 - i) * _free(plan, "input", i)
        df = f * (1 - f) * _free(plan, "forget", f)
        dg = (1 - g.square()) * _free(plan, "candidate", g)
        do = o * (1 - o) * _free(plan, "output", o)
        # c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)
        dc_dh = _rows(c_prev * df, w_hf) + _rows(g * di, w_hi) + _rows(i * dg, w_hg)
        through_c = o * (1 - tanh_c.square())
        dh_dh = _rows(tanh_c * do, w_ho) + through_c.unsqueeze(-1) * dc_dh
        top = torch.cat((dh_dh, _diag(through_c * f)), dim=-1)
        bottom = torch.cat((dc_dh, _diag(f)), dim=-1)
        jac = torch.cat((top, bottom), dim=-2)
    else:
        raise ValueError(f"kind must be one of rnn, lstm, gru, got {kind!r}")
    if plan is not None and plan.ablate is not None:
        keep = (~torch.as_tensor(plan.ablate, device=jac.device)).to(jac.dtype)
        if kind == "lstm":
            keep = torch.cat((keep, keep), dim=-1)  # h and c both silenced
        jac = jac * keep.unsqueeze(-1)
    return jac


def layer_jacobians(engine, x: torch.Tensor, interventions=None, validate: bool = True):
    """Per layer, ds_t/ds_{t-1} as torch tensors (batch, time, S, S) on the engine's device.

    Without interventions the states come from the probe (the fused kernel, in parallel over
    time); with them, from the stepper (``engines.stepper.stepped_states``).
    """
    kind = engine.config.kind
    with torch.no_grad():
        if interventions:
            run = stepped_states(engine, x, interventions, validate=validate)
            return [
                step_jacobians(kind, layer, params, plan)
                for layer, params, plan in zip(run.layers, run.params, run.plans, strict=True)
            ]
        layers, _ = probe_states(engine, x, validate=validate)
        return jacobians_from_states(engine, layers)


def jacobians_from_states(engine, layers: list[LayerStates]) -> list[torch.Tensor]:
    """``layer_jacobians`` for states already probed (the trainer's cached probe)."""
    kind = engine.config.kind
    with torch.no_grad():
        return [
            step_jacobians(kind, layer, engine.layer_parameters(index))
            for index, layer in enumerate(layers)
        ]


def jacobians(engine, x: torch.Tensor, interventions=None) -> np.ndarray:
    """ds_t/ds_{t-1} for every layer, sequence and step: numpy (layers, batch, time, S, S),
    S = H (RNN, GRU) or 2H (LSTM, state ordered h then c)."""
    per_layer = layer_jacobians(engine, x, interventions)
    return torch.stack(per_layer).float().cpu().numpy()


# ----------------------------------------------------------------------------- spectra


def singular_values(matrices: torch.Tensor | np.ndarray, k: int | None = None) -> np.ndarray:
    """All (or the ``k`` largest) singular values of each matrix (..., S, S), descending,
    exactly (LAPACK through ``torch.linalg.svdvals``): (..., k)."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    values = torch.linalg.svdvals(torch.as_tensor(matrices)).cpu().numpy()
    return values if k is None else values[..., :k]


def product_norms(jac: torch.Tensor | np.ndarray) -> np.ndarray:
    """Spectral norm of the product of step Jacobians against the distance, exactly, float64.

    For each sequence of ``jac`` (..., T, S, S), entry d - 1 (d = 1 .. T) is
    ``|| J_{T-1} J_{T-2} ... J_{T-d} ||_2 = || ds_{T-1} / ds_{T-1-d} ||_2``: how strongly the
    last step's state depends on the state d steps back, which bounds how much of a loss at
    the end of the sequence reaches there (dL/ds_{T-1-d} = P_d^T dL/ds_{T-1}); d = T is the
    initial state. This is the curve of Pascanu et al. (2013): a straight line on a log axis
    where the gradient vanishes (or explodes) geometrically.

    The product is renormalised at every step and its scale kept as a logarithm, so a decay
    over many steps does not underflow before float64 does. One SVD per distance: for the
    live view :class:`SpectrumTracker` finds the same numbers by power iteration.
    """
    array = _as_sequences(jac)
    steps = array.shape[-3]
    out = np.zeros(array.shape[:-3] + (steps,), dtype=np.float64)
    for index in np.ndindex(*array.shape[:-3]):
        for d, (product, log_scale) in enumerate(_products(array[index].astype(np.float64))):
            out[index + (d,)] = _scaled(np.linalg.norm(product, 2), log_scale)
    return out


def _as_sequences(jac) -> np.ndarray:
    array = jac.detach().cpu().numpy() if isinstance(jac, torch.Tensor) else np.asarray(jac)
    if array.ndim < 3 or array.shape[-1] != array.shape[-2]:
        raise ValueError(f"jac must have shape (..., time, S, S), got {array.shape}")
    return array


def _products(jac: np.ndarray):
    """Yield (P_d / scale, log scale) for d = 1 .. T, P_d = J_{T-1} ... J_{T-d}; a product
    that reaches zero (or overflows) yields (zeros, -inf) from there on."""
    steps, size, _ = jac.shape
    product = np.eye(size, dtype=jac.dtype)
    log_scale = 0.0
    for d in range(1, steps + 1):
        if math.isfinite(log_scale):
            product = product @ jac[steps - d]
            scale = float(np.abs(product).max())
            if scale > 0 and math.isfinite(scale):
                product /= scale
                log_scale += math.log(scale)
            else:
                product, log_scale = np.zeros_like(product), -math.inf
        yield product, log_scale


def _scaled(value: float, log_scale: float) -> float:
    if not value > 0 or not math.isfinite(log_scale):
        return 0.0
    return float(value) * math.exp(log_scale)


class SpectrumTracker:
    """The live view's numbers for one layer, frame after frame: the largest singular value
    of every step's Jacobian and the product norms against the distance (as
    :func:`singular_values` and :func:`product_norms` define them), iteratively.

    An SVD of every step costs O(T S^3) (~10 ms for 50 steps of an LSTM of 32 units on the
    2-core CPU, ~0.2 s at 128 units). Here each matrix gets a few iterations of a locally
    optimal block method (LOBPCG with one vector, :func:`top_singular_values`): a few passes
    over the matrices per frame, each frame continuing from the vectors the previous one ended
    with. The network changes little between two frames, so the estimates converge over the
    frames at a bounded cost per frame. Estimates approach the true values from below.
    """

    def __init__(self, iterations: int = 4, tol: float = 1e-5) -> None:
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
        self.iterations = iterations
        self.tol = float(tol)
        self._steps: np.ndarray | None = None  # (T, S): per-step right singular vectors
        self._products: np.ndarray | None = None  # (T, S): per-distance ones

    def reset(self) -> None:
        self._steps = self._products = None

    def update(self, jac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(largest singular value per step (T,), product norm per distance (T,)) of one
        sequence's Jacobians ``jac`` (T, S, S)."""
        jac = _as_sequences(jac)
        if jac.ndim != 3:
            raise ValueError(f"jac must have shape (time, S, S), got {jac.shape}")
        steps, size, _ = jac.shape
        if self._steps is None or self._steps.shape != (steps, size):
            self._steps = self._products = None
        # A cold start (first frame, new shape) gets more iterations: it has no head start.
        iterations = self.iterations * (4 if self._steps is None else 1)
        largest, self._steps = top_singular_values(jac, self._steps, iterations, self.tol)
        chunk = max(1, min(steps, _PRODUCT_FLOATS // (size * size)))
        norms = np.zeros(steps, dtype=np.float64)
        vectors = np.empty((steps, size), dtype=jac.dtype)
        held, logs = [], []
        for d, (product, log_scale) in enumerate(_products(jac)):
            held.append(product)
            logs.append(log_scale)
            if len(held) == chunk or d == steps - 1:
                span = slice(d + 1 - len(held), d + 1)
                start = None if self._products is None else self._products[span]
                values, vectors[span] = top_singular_values(
                    np.stack(held), start, iterations, self.tol
                )
                norms[span] = [_scaled(v, g) for v, g in zip(values, logs, strict=True)]
                held, logs = [], []
        self._products = vectors
        return largest, norms


def top_singular_values(
    matrices: np.ndarray,
    start: np.ndarray | None = None,
    iterations: int = 200,
    tol: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """sigma_1 of every matrix of ``matrices`` (N, S, S) and its right singular vector.

    LOBPCG with a block of one on A^T A, batched: each iteration takes the best vector in the
    span of the current one, its residual and the previous step (a 3 x 3 Rayleigh-Ritz), which
    converges at the rate of Lanczos, far faster than the power method when the two largest
    singular values are close (as in an LSTM's Jacobians, sigma_2/sigma_1 ~ 0.97-0.99).
    One application of A^T A per iteration. ``start`` (N, S) continues earlier iterations
    (None: a fixed vector). A matrix stops iterating once the residual of A^T A is below
    ``tol`` times its estimate: the value's error is then of the order of tol^2 over the
    relative gap. Returns (values (N,) float64, vectors (N, S)).
    """
    matrices = np.asarray(matrices)
    count, size, _ = matrices.shape
    if start is None or np.shape(start) != (count, size):
        x = np.broadcast_to(_start(size, matrices.dtype), (count, size)).copy()
    else:
        x = _normalised(np.array(start, dtype=matrices.dtype))
    values = np.zeros(count)
    vectors = x.copy()
    # The working set: the matrices still iterating, compacted only when some converge.
    active = np.arange(count)
    a, gx = matrices, _gram(matrices, x)
    p = np.zeros_like(x)
    gp = np.zeros_like(x)
    for _ in range(max(1, int(iterations))):
        lam = np.einsum("ns,ns->n", x, gx)
        residual = gx - lam[:, None] * x
        moving = np.linalg.norm(residual, axis=-1) > tol * np.maximum(lam, 1e-30)
        if not moving.all():
            values[active], vectors[active] = lam, x
            if not moving.any():
                active = active[:0]
                break
            active = active[moving]
            a, x, gx, p, gp, residual, lam = (v[moving] for v in (a, x, gx, p, gp, residual, lam))
        # An orthonormal basis of span(x, r, p) and A^T A applied to it (p's image follows
        # by linear combination: one new application per iteration).
        q2, _ = _orthonormal(residual, (x,))
        gq2 = _gram(a, q2)
        along = (np.einsum("ns,ns->n", x, p), np.einsum("ns,ns->n", q2, p))
        q3, c3 = _orthonormal(p, (x, q2))
        safe = np.where(c3 > 0, c3, 1.0)[:, None]
        gq3 = (gp - along[0][:, None] * gx - along[1][:, None] * gq2) / safe
        gq3 = np.where(c3[:, None] > 0, gq3, 0.0)
        basis = np.stack((x, q2, q3), axis=1)  # (n, 3, S)
        images = np.stack((gx, gq2, gq3), axis=1)
        small = np.einsum("nis,njs->nij", basis, images).astype(np.float64)
        _, eigenvectors = np.linalg.eigh(0.5 * (small + np.swapaxes(small, 1, 2)))
        best = eigenvectors[:, :, -1].astype(matrices.dtype)  # the largest eigenvalue's
        best *= np.where(best[:, :1] < 0, -1, 1)  # keep the sign of x
        x = np.einsum("ni,nis->ns", best, basis)
        norm = np.linalg.norm(x, axis=-1, keepdims=True)
        x = x / norm
        gx = np.einsum("ni,nis->ns", best, images) / norm
        p = np.einsum("ni,nis->ns", best[:, 1:], basis[:, 1:])
        gp = np.einsum("ni,nis->ns", best[:, 1:], images[:, 1:])
    if active.size:
        values[active], vectors[active] = np.einsum("ns,ns->n", x, gx), x
    return np.sqrt(np.maximum(values, 0.0)), vectors


def _gram(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """A^T A v for each (A, v): two passes over the matrices."""
    image = np.matmul(matrices, vectors[..., None])  # (N, S, 1)
    return np.matmul(np.swapaxes(image, -1, -2), matrices)[:, 0]  # (A v)^T A


def _orthonormal(vectors: np.ndarray, against: tuple[np.ndarray, ...]):
    """``vectors`` orthogonalised against the unit vectors ``against`` (twice) and normalised;
    (result, norm before normalising). A vector with nothing left becomes zero."""
    scale = np.linalg.norm(vectors, axis=-1)
    for _ in range(2):
        for other in against:
            vectors = vectors - np.einsum("ns,ns->n", other, vectors)[:, None] * other
    norm = np.linalg.norm(vectors, axis=-1)
    alive = norm > 1e-6 * np.maximum(scale, 1e-30)
    out = np.where(alive[:, None], vectors / np.where(alive, norm, 1.0)[:, None], 0.0)
    return out.astype(vectors.dtype), np.where(alive, norm, 0.0)


def _start(size: int, dtype) -> np.ndarray:
    """A fixed start with a part along every direction (no singular vector is missed)."""
    vector = np.random.default_rng(0).standard_normal(size)
    return (vector / np.linalg.norm(vector)).astype(dtype)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
