"""The memory tasks: each sample is built as its definition says, sampling is deterministic per
seed, the declared memoryless baselines match what a memoryless predictor really scores, and bad
arguments are refused with a message that names them."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from engines.tasks import (
    TASKS,
    AddingTask,
    Batch,
    CopyTask,
    DelayedRecallTask,
    SequenceTask,
    TemporalOrderTask,
    TextTask,
    WaveformTask,
    create_task,
    default_length,
    length_range,
    task_options,
)
from engines.tasks.temporal_order import CLASSES, SYMBOLS, relevant_windows
from engines.tasks.text import load_bundled_text
from engines.tasks.waveform import FREQUENCY_RANGE, KINDS

LARGE = 20_000  # samples for the empirical baselines


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def log_probs(p: torch.Tensor) -> torch.Tensor:
    """Logits of a fixed predictive distribution (impossible classes get a huge negative)."""
    return torch.log(p.clamp_min(1e-30))


def small_tasks() -> list:
    """One small instance of every task, the user sequence in all its forms included."""
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.normal(size=(60, 2)), axis=0)
    symbols = rng.integers(0, 5, size=60)
    return [
        AddingTask(12),
        CopyTask(7, n_symbols=4, n_remember=3),
        DelayedRecallTask(5, n_symbols=3),
        TemporalOrderTask(30),
        WaveformTask(16, kind="mixed"),
        TextTask(16),
        SequenceTask(values=values, objective="next", window=9),
        SequenceTask(values=values, objective="recall", delay=4, window=6),
        SequenceTask(symbols=symbols, objective="next", window=9),
        SequenceTask(symbols=symbols, n_symbols=7, objective="recall", delay=2, window=5),
    ]


# --- the contract every task honours ---------------------------------------------------------
@pytest.mark.parametrize("task", small_tasks(), ids=lambda t: f"{t.name}-{t.describe()['options']}")
def test_batch_matches_the_declared_shapes_and_is_deterministic(task):
    batch = task.sample(5, gen(1))
    steps = task.sequence_length
    assert isinstance(batch, Batch) and len(batch) == 5
    assert batch.inputs.shape == (5, steps, task.input_size)
    assert batch.inputs.dtype == torch.float32
    assert len(task.input_names) == task.input_size
    if task.loss_kind == "mse":
        assert batch.targets.shape == (5, steps, task.output_size)
        assert batch.targets.dtype == torch.float32
    else:
        assert batch.targets.shape == (5, steps)
        assert batch.targets.dtype == torch.int64
        assert int(batch.targets.min()) >= 0 and int(batch.targets.max()) < task.output_size
    for mask in (batch.mask, batch.metric_mask):
        assert mask.shape == (5, steps) and mask.dtype == torch.bool and bool(mask.any())
    assert all(t.device.type == "cpu" for t in (batch.inputs, batch.targets, batch.mask))

    again = task.sample(5, gen(1))
    for a, b in zip(
        (batch.inputs, batch.targets, batch.mask, batch.metric_mask),
        (again.inputs, again.targets, again.mask, again.metric_mask),
        strict=True,
    ):
        assert torch.equal(a, b)
    other = task.sample(5, gen(2))
    assert not (
        torch.equal(batch.inputs, other.inputs) and torch.equal(batch.targets, other.targets)
    )

    outputs = torch.zeros(5, steps, task.output_size)
    assert math.isfinite(float(task.loss(outputs, batch)))
    assert math.isfinite(task.metric(outputs, batch))


def test_sampling_uses_only_the_given_generator():
    task = AddingTask(10)
    torch.manual_seed(0)
    first = task.sample(3, gen(5))
    torch.manual_seed(1)
    second = task.sample(3, gen(5))
    assert torch.equal(first.inputs, second.inputs)


# --- adding ----------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [2, 7, 20])
def test_adding_has_one_marker_in_each_half_and_targets_their_sum(length):
    task = AddingTask(length)
    batch = task.sample(2000, gen(3))
    values, markers = batch.inputs[..., 0], batch.inputs[..., 1]
    half = length // 2
    assert bool(((values >= 0) & (values < 1)).all())
    assert torch.equal(markers[:, :half].sum(1), torch.ones(2000))
    assert torch.equal(markers[:, half:].sum(1), torch.ones(2000))
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    # Every step of each half is used as a marker position (uniform placement).
    assert bool((markers.sum(0) > 0).all())
    expected = (values * markers).sum(1)
    assert torch.allclose(batch.targets[:, -1, 0], expected)
    assert bool((batch.targets[:, :-1] == 0).all())
    only_last = torch.zeros_like(batch.mask)
    only_last[:, -1] = True
    assert torch.equal(batch.mask, only_last) and torch.equal(batch.metric_mask, only_last)


def test_adding_baseline_is_the_mse_of_always_predicting_one():
    task = AddingTask(20)
    batch = task.sample(LARGE, gen(4))
    ones = torch.ones(LARGE, task.sequence_length, 1)
    assert task.baseline_loss == pytest.approx(1 / 6)
    assert float(task.loss(ones, batch)) == pytest.approx(task.baseline_loss, abs=0.006)
    assert task.metric(ones, batch) == pytest.approx(task.baseline_metric, abs=0.006)
    # 1 is the best constant: the empirical mean of the target.
    assert float(batch.targets[:, -1].mean()) == pytest.approx(1.0, abs=0.01)


# --- copy ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("delay", "n_symbols", "n_remember"), [(1, 8, 10), (15, 8, 10), (6, 3, 4)])
def test_copy_layout_symbols_blanks_delimiter_then_recall(delay, n_symbols, n_remember):
    task = CopyTask(delay, n_symbols=n_symbols, n_remember=n_remember)
    r = n_remember
    assert task.sequence_length == delay + 2 * r
    batch = task.sample(500, gen(5))
    assert bool((batch.inputs.sum(-1) == 1).all())  # one-hot at every step
    categories = batch.inputs.argmax(-1)
    symbols = categories[:, :r]
    delimiter = n_symbols + 1
    assert bool(((symbols >= 1) & (symbols <= n_symbols)).all())
    assert bool((categories[:, r : r + delay - 1] == 0).all())
    assert bool((categories[:, r + delay - 1] == delimiter).all())
    assert bool((categories[:, r + delay :] == 0).all())
    assert int((categories == delimiter).sum()) == 500
    assert bool((batch.targets[:, :-r] == 0).all())
    assert torch.equal(batch.targets[:, -r:], symbols)
    assert bool(batch.mask.all())
    assert bool(batch.metric_mask[:, -r:].all()) and not bool(batch.metric_mask[:, :-r].any())


def test_copy_baseline_is_the_best_memoryless_per_step_predictor():
    task = CopyTask(10)
    batch = task.sample(LARGE, gen(6))
    assert task.baseline_loss == pytest.approx(10 * math.log(8) / 30)
    # The optimal predictor without memory knows only the step: it outputs, at each step, the
    # frequencies of the targets at that step.
    counts = torch.nn.functional.one_hot(batch.targets, task.output_size).float().mean(0)
    outputs = log_probs(counts).expand(LARGE, -1, -1)
    assert float(task.loss(outputs, batch)) == pytest.approx(task.baseline_loss, rel=0.003)
    assert task.metric(outputs, batch) == pytest.approx(task.baseline_metric, abs=0.01)


# --- delayed recall --------------------------------------------------------------------------
def test_delayed_recall_asks_for_the_cue_at_the_go_signal():
    task = DelayedRecallTask(9, n_symbols=5)
    batch = task.sample(1000, gen(7))
    assert task.sequence_length == 10
    symbol_channels, go = batch.inputs[..., :5], batch.inputs[..., 5]
    assert bool((symbol_channels[:, 0].sum(-1) == 1).all())
    assert not bool(symbol_channels[:, 1:].any())
    assert bool((go[:, -1] == 1).all()) and not bool(go[:, :-1].any())
    assert torch.equal(batch.targets[:, -1], symbol_channels[:, 0].argmax(-1))
    assert bool(batch.mask[:, -1].all()) and not bool(batch.mask[:, :-1].any())
    assert len(batch.targets[:, -1].unique()) == 5


def test_delayed_recall_baseline_is_a_uniform_guess():
    task = DelayedRecallTask(3, n_symbols=6)
    batch = task.sample(LARGE, gen(8))
    uniform = torch.zeros(LARGE, task.sequence_length, 6)
    assert float(task.loss(uniform, batch)) == pytest.approx(task.baseline_loss, rel=1e-6)
    assert task.baseline_loss == pytest.approx(math.log(6))
    assert task.metric(uniform, batch) == pytest.approx(task.baseline_metric, abs=0.01)


# --- temporal order --------------------------------------------------------------------------
def test_temporal_order_windows_follow_the_paper_and_scale():
    assert relevant_windows(100) == ((10, 20), (50, 60))
    assert relevant_windows(200) == ((20, 40), (100, 120))
    for length in (10, 11, 37, 1000):
        (lo1, hi1), (lo2, hi2) = relevant_windows(length)
        assert 1 <= lo1 <= hi1 < lo2 <= hi2 <= length - 2


@pytest.mark.parametrize("length", [100, 37, 10])
def test_temporal_order_sequences_and_labels(length):
    task = TemporalOrderTask(length)
    batch = task.sample(2000, gen(9))
    symbols = batch.inputs.argmax(-1)
    assert bool((batch.inputs.sum(-1) == 1).all())
    x, y = SYMBOLS.index("X"), SYMBOLS.index("Y")
    assert bool((symbols[:, 0] == SYMBOLS.index("E")).all())
    assert bool((symbols[:, -1] == SYMBOLS.index("B")).all())
    middle = symbols[:, 1:-1]
    relevant = (middle == x) | (middle == y)
    assert bool((relevant.sum(1) == 2).all())
    assert bool((middle[~relevant] < 4).all())  # a, b, c, d elsewhere
    (lo1, hi1), (lo2, hi2) = relevant_windows(length)
    for row in range(2000):
        t1, t2 = (relevant[row].nonzero().flatten() + 1).tolist()
        assert lo1 <= t1 <= hi1 and lo2 <= t2 <= hi2
        order = "".join(SYMBOLS[int(symbols[row, t])] for t in (t1, t2))
        assert CLASSES[int(batch.targets[row, -1])] == order
    classes = torch.bincount(batch.targets[:, -1], minlength=4).float() / 2000
    assert torch.allclose(classes, torch.full((4,), 0.25), atol=0.04)


def test_temporal_order_baseline_is_a_uniform_guess():
    task = TemporalOrderTask(20)
    batch = task.sample(LARGE, gen(10))
    uniform = torch.zeros(LARGE, 20, 4)
    assert float(task.loss(uniform, batch)) == pytest.approx(math.log(4), rel=1e-6)
    assert task.baseline_loss == pytest.approx(math.log(4))
    assert task.metric(uniform, batch) == pytest.approx(task.baseline_metric, abs=0.01)


# --- waveform --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_waveform_targets_are_the_next_values_and_persistence_is_the_baseline(kind):
    task = WaveformTask(50, kind=kind)
    batch = task.sample(LARGE, gen(11))
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    assert bool((batch.inputs.abs() <= 1).all()) and bool(batch.mask.all())
    persistence = batch.inputs  # predict the current value as the next
    assert float(task.loss(persistence, batch)) == pytest.approx(task.baseline_loss, rel=0.03)
    assert task.metric(persistence, batch) == pytest.approx(task.baseline_metric, rel=0.03)


def test_waveform_shapes_and_frequency_range():
    f_lo, f_hi = FREQUENCY_RANGE
    square = WaveformTask(60, kind="square").sample(500, gen(12)).inputs[..., 0]
    assert set(square.unique().tolist()) == {-1.0, 1.0}
    saw = WaveformTask(60, kind="sawtooth").sample(500, gen(12)).inputs[..., 0]
    rises = saw[:, 1:] - saw[:, :-1]
    rises = rises[rises > 0]
    assert float(rises.min()) >= 2 * f_lo - 1e-5 and float(rises.max()) <= 2 * f_hi + 1e-5
    mixed = WaveformTask(60, kind="mixed").sample(3000, gen(13)).inputs[..., 0]
    is_square = ((mixed == 1) | (mixed == -1)).all(1).float().mean()
    assert float(is_square) == pytest.approx(1 / 3, abs=0.04)


# --- text ------------------------------------------------------------------------------------
def test_bundled_text_is_loaded_without_its_header():
    text = load_bundled_text()
    assert len(text.encode("utf-8")) >= 8000
    assert not text.startswith("#") and "Alice" in text
    task = TextTask(30)
    assert task.vocabulary == tuple(sorted(set(text)))
    assert task.input_size == task.output_size == len(task.vocabulary)


def test_text_windows_are_consecutive_characters_of_the_text():
    task = TextTask(25)
    batch = task.sample(50, gen(14))
    for row in range(50):
        seen = task.decode(batch.inputs[row].argmax(-1))
        following = task.decode(batch.targets[row])
        assert seen[1:] == following[:-1]
        assert (seen + following[-1]) in task.text


def test_text_baseline_is_the_unigram_entropy():
    task = TextTask(20)
    counts = Counter(task.text)
    p = np.array([counts[c] for c in task.vocabulary], dtype=float) / len(task.text)
    plain_entropy = float(-(p * np.log(p)).sum())
    assert task.baseline_loss == pytest.approx(plain_entropy, abs=0.01)
    assert task.baseline_metric == pytest.approx(p.max(), abs=0.002)

    batch = task.sample(5000, gen(15))
    empirical = torch.bincount(batch.targets.flatten(), minlength=task.output_size).float()
    empirical /= empirical.sum()
    outputs = log_probs(empirical).expand(5000, 20, -1)
    assert float(task.loss(outputs, batch)) == pytest.approx(task.baseline_loss, abs=0.02)
    assert task.metric(outputs, batch) == pytest.approx(task.baseline_metric, abs=0.01)


def test_text_baseline_is_exact_for_short_texts():
    """With few windows the ends of the text are seen less often; the baseline accounts for it."""
    text = "aaaaab"
    task = TextTask(3, text=text)
    targets = [text[o + 1 : o + 4] for o in range(len(text) - 3)]  # every window once
    counts = Counter("".join(targets))
    n = sum(counts.values())
    entropy = -sum(c / n * math.log(c / n) for c in counts.values())
    assert task.baseline_loss == pytest.approx(entropy)
    assert task.baseline_metric == pytest.approx(max(counts.values()) / n)
    assert task.vocabulary == ("a", "b")


# --- the user's sequence ---------------------------------------------------------------------
def test_user_values_next_windows_and_persistence_baseline():
    x = np.cumsum(np.random.default_rng(1).normal(size=(40, 2)), axis=0)
    task = SequenceTask(values=x, objective="next", window=10)
    assert task.loss_kind == "mse" and task.sequence_length == 10 and task.length == 10
    batch = task.sample(4000, gen(16))
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    data = torch.from_numpy(x.astype(np.float32))
    for row in range(20):
        start = int(torch.nonzero((data == batch.inputs[row, 0]).all(1))[0])
        assert torch.equal(batch.inputs[row], data[start : start + 10])
    # Exact expectation over every window offset, each once.
    exact = np.mean([((x[o + 1 : o + 11] - x[o : o + 10]) ** 2).mean() for o in range(40 - 10)])
    assert task.baseline_loss == pytest.approx(exact, rel=1e-5)
    assert float(task.loss(batch.inputs, batch)) == pytest.approx(task.baseline_loss, rel=0.05)


def test_user_values_recall_layout_and_mean_baseline():
    x = np.sin(np.arange(50) / 3.0)
    task = SequenceTask(values=x, objective="recall", delay=4, window=8)
    assert task.sequence_length == 20 and task.length == 4
    assert task.input_names == ("x", "cue")
    batch = task.sample(3000, gen(17))
    shown, cue = batch.inputs[..., 0], batch.inputs[..., 1]
    assert not bool(shown[:, 8:].any())
    assert not bool(cue[:, :12].any()) and bool((cue[:, 12:] == 1).all())
    assert torch.equal(batch.targets[:, 12:, 0], shown[:, :8])
    assert bool(batch.mask[:, 12:].all()) and not bool(batch.mask[:, :12].any())
    mean = torch.tensor(task.mean, dtype=torch.float32).expand(3000, 20, 1)
    assert float(task.loss(mean, batch)) == pytest.approx(task.baseline_loss, rel=0.05)
    whole = SequenceTask(values=x, objective="recall", window=50)
    assert whole.baseline_loss == pytest.approx(float(np.var(x)))
    assert torch.equal(
        whole.sample(2, gen(0)).targets[:, -50:, 0], whole.sample(2, gen(9)).targets[:, -50:, 0]
    )


def test_user_symbols_next_and_recall():
    symbols = np.array([0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 3])
    task = SequenceTask(symbols=symbols, objective="next", window=4)
    assert task.loss_kind == "cross_entropy" and task.metric_kind == "accuracy"
    assert task.input_size == task.output_size == 4
    counts = Counter(t for o in range(len(symbols) - 4) for t in symbols[o + 1 : o + 5].tolist())
    n = sum(counts.values())
    assert task.baseline_loss == pytest.approx(
        -sum(c / n * math.log(c / n) for c in counts.values())
    )
    assert task.baseline_metric == pytest.approx(max(counts.values()) / n)
    batch = task.sample(200, gen(18))
    assert torch.equal(batch.inputs.argmax(-1)[:, 1:], batch.targets[:, :-1])

    recall = SequenceTask(symbols=symbols, n_symbols=6, objective="recall", delay=3, window=5)
    batch = recall.sample(200, gen(19))
    assert recall.input_size == 7 and recall.output_size == 6
    assert torch.equal(batch.targets[:, 8:], batch.inputs[:, :5, :6].argmax(-1))
    uniform_over_seen = log_probs(torch.tensor(recall.unigram, dtype=torch.float32))
    outputs = uniform_over_seen.expand(200, recall.sequence_length, -1)
    assert float(recall.loss(outputs, batch)) == pytest.approx(recall.baseline_loss, rel=0.1)


def test_user_sequence_probe_batch_starts_at_the_first_step():
    x = np.arange(30, dtype=float)
    task = SequenceTask(values=x, objective="next", window=8)
    probe = task.probe_batch()
    assert len(probe) == 1 and probe.inputs.shape == (1, 8, 1)
    assert probe.inputs[0, :, 0].tolist() == list(range(8))
    full = task.probe_batch(full=True)
    assert full.inputs[0, :, 0].tolist() == list(range(29))
    assert full.targets[0, :, 0].tolist() == list(range(1, 30))
    recall = SequenceTask(values=x, objective="recall", delay=2, window=30)
    assert recall.probe_batch().targets[0, -30:, 0].tolist() == list(range(30))


# --- the registry ----------------------------------------------------------------------------
def test_registry_builds_every_task_and_round_trips_its_options():
    assert set(TASKS) == {"adding", "copy", "delayed_recall", "temporal_order", "waveform", "text"}
    for name, cls in TASKS.items():
        lo, hi = length_range(name)
        assert lo <= default_length(name) <= hi
        task = create_task(name, default_length(name))
        assert isinstance(task, cls) and task.name == name and task.length == default_length(name)
        assert create_task(name, lo).length == lo and create_task(name, hi).length == hi
        for bad in (lo - 1, hi + 1):
            with pytest.raises(ValueError, match="length|delay"):
                create_task(name, bad)
        rebuilt = create_task(name, task.length, **task.options())
        assert rebuilt.describe() == task.describe()
    square = create_task("waveform", 30, kind="square")
    assert square.kind == "square" and "kind" in task_options("waveform")


def test_registry_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="unknown task 'nope'; choose one of: adding, copy"):
        create_task("nope", 10)
    with pytest.raises(ValueError, match="colour.*accepted options: n_symbols, n_remember"):
        create_task("copy", 10, colour="red")
    with pytest.raises(ValueError, match="unknown task"):
        length_range("nope")


# --- argument checks -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: AddingTask(-5), "length"),
        (lambda: AddingTask(1), "length"),
        (lambda: AddingTask(2.5), "length"),
        (lambda: AddingTask(True), "length"),
        (lambda: CopyTask(0), "length"),
        (lambda: CopyTask(10, n_symbols=1), "n_symbols"),
        (lambda: CopyTask(10, n_remember=0), "n_remember"),
        (lambda: DelayedRecallTask(0), "delay"),
        (lambda: DelayedRecallTask(5, n_symbols=0), "n_symbols"),
        (lambda: TemporalOrderTask(9), "length"),
        (lambda: WaveformTask(1), "length"),
        (lambda: WaveformTask(10, kind="triangle"), "kind"),
        (lambda: TextTask(0), "length"),
        (lambda: TextTask(10, text="short"), "length"),
        (lambda: TextTask(1, text="a"), "text"),
        (lambda: TextTask(1, text=b"bytes"), "text"),
        (lambda: SequenceTask(values=[1.0]), "values"),
        (lambda: SequenceTask(values=[1.0, float("nan"), 2.0]), "values"),
        (lambda: SequenceTask(values=np.zeros((4, 2, 2))), "values"),
        (lambda: SequenceTask(values=[1.0, 2.0], objective="later"), "objective"),
        (lambda: SequenceTask(values=[1.0, 2.0], delay=-1), "delay"),
        (lambda: SequenceTask(values=[1.0, 2.0, 3.0], window=3), "window"),
        (lambda: SequenceTask(values=[1.0, 2.0, 3.0], objective="recall", window=4), "window"),
        (lambda: SequenceTask(values=[1.0, 2.0], names=("a", "b")), "names"),
        (lambda: SequenceTask(), "values"),
        (lambda: SequenceTask(values=[1.0, 2.0], symbols=[0, 1]), "symbols"),
        (lambda: SequenceTask(symbols=[0.5, 1.0]), "symbols"),
        (lambda: SequenceTask(symbols=[0, -1, 2]), "symbols"),
        (lambda: SequenceTask(symbols=[0, 4, 2], n_symbols=3), "n_symbols"),
    ],
)
def test_bad_arguments_are_refused_by_name(build, argument):
    with pytest.raises(ValueError, match=argument):
        build()


def test_bad_batch_size_is_refused_by_name():
    with pytest.raises(ValueError, match="batch_size"):
        AddingTask(10).sample(0, gen())
