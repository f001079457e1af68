"""Weight initialisations a user of this field expects to compare.

- ``default``: PyTorch's uniform(-1/sqrt(H), 1/sqrt(H)).
- ``orthogonal``: every H x H block of the recurrent matrix orthogonal (Saxe et al. 2014),
  which keeps the linearised recurrence norm-preserving at the start.
- ``identity``: every recurrent block the identity and the biases zero (Le, Jaitly & Hinton
  2015, "IRNN"); for LSTM/GRU the same per-block identity.
- ``chrono`` (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?"): PyTorch's
  weights, and gate biases that spread the units' memory timescales over 2 .. T_max
  (``config.chrono_t_max``, the longest dependency expected, e.g. the sequence length). A
  unit keeping a fraction sigma(b) of its state per step remembers for about
  1 / (1 - sigma(b)) steps; b = log(u) with u ~ U(1, T_max - 1) gives exactly 1 + u. LSTM:
  forget bias b_f = log U(1, T_max - 1) per unit and input bias b_i = -b_f (the paper's
  choice: a unit that keeps much writes little). GRU: its update gate z plays the forget
  gate's part (h_t = (1 - z) n + z h_{t-1}, z keeps), so b_z = log U(1, T_max - 1); the GRU
  has no separate input gate, (1 - z) already writes less where z keeps more.

The LSTM forget-gate bias (and chrono's biases) are then set on ``bias_ih`` only, with
``bias_hh``'s slice zeroed, so the effective bias b_ih + b_hh equals what was asked for. Under
``chrono`` the ``forget_bias`` setting is not used.
"""

from __future__ import annotations

import torch
from torch import nn

from engines.config import GATE_BLOCKS, EngineConfig


@torch.no_grad()
def initialise(core: nn.RNNBase, config: EngineConfig) -> None:
    hidden = config.hidden_size
    blocks = GATE_BLOCKS[config.kind]
    for layer in range(config.num_layers):
        weight_hh = getattr(core, f"weight_hh_l{layer}")
        bias_ih = getattr(core, f"bias_ih_l{layer}")
        bias_hh = getattr(core, f"bias_hh_l{layer}")
        if config.init == "orthogonal":
            for block in range(blocks):
                nn.init.orthogonal_(weight_hh[block * hidden : (block + 1) * hidden])
        elif config.init == "identity":
            for block in range(blocks):
                weight_hh[block * hidden : (block + 1) * hidden].copy_(torch.eye(hidden))
            bias_ih.zero_()
            bias_hh.zero_()
        if config.init == "chrono":
            _chrono(config.kind, hidden, config.chrono_t_max, bias_ih, bias_hh)
        elif config.kind == "lstm":
            forget = slice(hidden, 2 * hidden)
            bias_ih[forget] = config.forget_bias
            bias_hh[forget] = 0.0


def chrono_biases(hidden: int, t_max: int, generator: torch.Generator | None = None):
    """log U(1, T_max - 1) for ``hidden`` units (float32): the keep-gate biases of chrono."""
    if t_max < 2:
        raise ValueError(f"chrono_t_max must be >= 2, got {t_max!r}")
    uniform = 1.0 + (t_max - 2.0) * torch.rand(hidden, generator=generator)
    return torch.log(uniform)


def _chrono(kind: str, hidden: int, t_max: int, bias_ih, bias_hh) -> None:
    keep = chrono_biases(hidden, t_max).to(bias_ih)
    if kind == "lstm":  # PyTorch's chunk order i, f, g, o
        slots = ((slice(0, hidden), -keep), (slice(hidden, 2 * hidden), keep))
    elif kind == "gru":  # r, z, n
        slots = ((slice(hidden, 2 * hidden), keep),)
    else:
        raise ValueError("init 'chrono' sets gate biases: it needs an LSTM or a GRU")
    for where, value in slots:
        bias_ih[where] = value
        bias_hh[where] = 0.0
