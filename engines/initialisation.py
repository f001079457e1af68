"""Weight initialisations a user of this field expects to compare.

- ``default``: PyTorch's uniform(-1/sqrt(H), 1/sqrt(H)).
- ``orthogonal``: every H x H block of the recurrent matrix orthogonal (Saxe et al. 2014),
  which keeps the linearised recurrence norm-preserving at the start.
- ``identity``: every recurrent block the identity and the biases zero (Le, Jaitly & Hinton
  2015, "IRNN"); for LSTM/GRU the same per-block identity.

The LSTM forget-gate bias is then set on ``bias_ih`` only, with ``bias_hh``'s forget slice
zeroed, so the effective bias b_ih + b_hh equals what the user asked for.
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
        if config.kind == "lstm":
            forget = slice(hidden, 2 * hidden)
            bias_ih[forget] = config.forget_bias
            bias_hh[forget] = 0.0
