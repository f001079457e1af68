"""Next-character prediction on real text.

Character-level language modelling is where recurrent nets first showed long-range memory on
natural data (Elman 1990, "Finding Structure in Time"; Graves 2013, "Generating Sequences With
Recurrent Neural Networks"; Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding
Recurrent Networks", whose LSTM cells tracked quotes and line lengths). Words, quotes and
brackets give dependencies at many time scales, unlike the synthetic tasks' single gap.

The bundled text is the first chapter of Lewis Carroll's "Alice's Adventures in Wonderland"
(1865, public domain), ``resources/text/alice.txt``; any other string can be passed instead.
"""

from __future__ import annotations

import importlib.resources

import numpy as np
import torch

from engines.tasks._common import (
    TaskBase,
    check_batch_size,
    check_int,
    entropy_nats,
    one_hot,
    weighted_unigram,
    window_coverage,
)
from engines.tasks.base import Batch

BUNDLED_TEXT = "alice.txt"
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def load_bundled_text(filename: str = BUNDLED_TEXT) -> str:
    """A text from ``resources/text``, without its header (the leading lines that start with
    "#", naming the source and its public-domain status) and the blank lines after it."""
    package = importlib.resources.files("resources")
    raw = package.joinpath("text").joinpath(filename).read_text(encoding="utf-8")
    lines = raw.splitlines(keepends=True)
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        start += 1
    return "".join(lines[start:]).lstrip("\r\n")


def display_name(char: str) -> str:
    """A printable label for a character (space, newline and other invisibles made visible)."""
    if char in _VISIBLE:
        return _VISIBLE[char]
    return char if char.isprintable() else repr(char)[1:-1]


class TextTask(TaskBase):
    """Windows of ``length + 1`` consecutive characters at uniformly random offsets: the input
    is the first ``length`` characters one-hot over the vocabulary (the sorted set of the
    text's characters), the target at every step the index of the next character.

    ``baseline_loss`` is the unigram entropy of the text in nats, the cross-entropy of the best
    memoryless predictor (always the character frequencies); ``baseline_metric`` the frequency
    of the most common character, its accuracy. Both are exact for the sampled windows: a
    character is counted as often as the windows cover it as a target, which differs from the
    plain counts only near the ends of the text.
    """

    name = "text"
    title = "Next character (text)"
    loss_kind = "cross_entropy"
    metric_kind = "accuracy"
    length_label = "length"
    min_length = 1
    max_length = 2000
    default_length = 100

    def __init__(self, length: int = 100, text: str | None = None) -> None:
        self.user_text = text is not None
        if text is None:
            text = load_bundled_text()
        if not isinstance(text, str) or len(text) < 2:
            raise ValueError(
                f"text must be a string of at least 2 characters, got {_describe_text(text)}"
            )
        self.length = check_int("length", length, self.min_length, self.max_length)
        if self.length > len(text) - 1:
            raise ValueError(
                f"length must be at most {len(text) - 1} for a text of {len(text)} characters "
                f"(a window needs length + 1 characters), got {self.length}"
            )
        self.text = text
        self.vocabulary: tuple[str, ...] = tuple(sorted(set(text)))
        self._index = {char: i for i, char in enumerate(self.vocabulary)}
        encoded = np.fromiter((self._index[c] for c in text), dtype=np.int64, count=len(text))
        self._encoded = torch.from_numpy(encoded)

        self.sequence_length = self.length
        self.input_size = self.output_size = len(self.vocabulary)
        self.input_names = tuple(display_name(c) for c in self.vocabulary)
        weights = window_coverage(len(text) - 1, self.length)
        self.unigram = weighted_unigram(encoded[1:], weights, len(self.vocabulary))
        self.baseline_loss = entropy_nats(self.unigram)
        self.baseline_metric = float(self.unigram.max())

    def options(self) -> dict:
        return {"text": self.text} if self.user_text else {}

    def encode(self, text: str) -> torch.Tensor:
        """Character indices (int64) of ``text``; ValueError for characters not in the vocabulary."""
        unknown = sorted(set(text) - set(self._index))
        if unknown:
            raise ValueError(f"text has characters not in the vocabulary: {unknown!r}")
        return torch.tensor([self._index[c] for c in text], dtype=torch.int64)

    def decode(self, indices) -> str:
        """The characters of a sequence of vocabulary indices."""
        return "".join(self.vocabulary[int(i)] for i in indices)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        batch_size = check_batch_size(batch_size)
        n_offsets = len(self.text) - self.length
        offsets = torch.randint(0, n_offsets, (batch_size, 1), generator=generator)
        chars = self._encoded[offsets + torch.arange(self.length + 1)]
        mask = torch.ones(batch_size, self.length, dtype=torch.bool)
        return Batch(
            inputs=one_hot(chars[:, :-1], self.input_size),
            targets=chars[:, 1:].contiguous(),
            mask=mask,
            metric_mask=mask.clone(),
        )


def _describe_text(text: object) -> str:
    if isinstance(text, str):
        return f"{len(text)} characters"
    return type(text).__name__
