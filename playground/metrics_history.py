"""The whole metrics history of a run: every training step's loss and gradient norm, and
every evaluation, in append-only numpy columns (the views read slices, never copies)."""

from __future__ import annotations

import numpy as np

from playground.run_folder import MetricsTable


class _Growing:
    """An append-only numeric column with amortised growth (views read slices, no copies)."""

    def __init__(self, dtype) -> None:
        self._data = np.zeros(256, dtype=dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=self._data.dtype).ravel()
        end = self._n + len(values)
        if end > len(self._data):
            grown = np.zeros(max(end, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : end] = values
        self._n = end

    def values(self) -> np.ndarray:
        view = self._data[: self._n]
        view.flags.writeable = False
        return view

    def clear(self) -> None:
        self._n = 0


class MetricsHistory:
    """Every training step's loss and gradient norm, and every evaluation, in order."""

    def __init__(self) -> None:
        self._train = [_Growing(np.int64), _Growing(np.float64), _Growing(np.float64)]
        self._eval = [_Growing(np.int64), _Growing(np.float64), _Growing(np.float64)]

    def clear(self) -> None:
        for column in (*self._train, *self._eval):
            column.clear()

    def add_train(self, steps, losses, grad_norms) -> None:
        for column, values in zip(self._train, (steps, losses, grad_norms), strict=True):
            column.extend(values)

    def add_eval(self, steps, losses, metrics) -> None:
        """Evaluations at steps already evaluated (a resumed run re-evaluates) are skipped."""
        steps = np.asarray(steps, dtype=np.int64).ravel()
        keep = np.ones(len(steps), bool)
        if len(self._eval[0]) and len(steps):
            keep = ~np.isin(steps, self._eval[0].values())
        for column, values in zip(self._eval, (steps, losses, metrics), strict=True):
            column.extend(np.asarray(values).ravel()[keep])

    @property
    def train_steps(self) -> np.ndarray:
        return self._train[0].values()

    @property
    def train_losses(self) -> np.ndarray:
        return self._train[1].values()

    @property
    def grad_norms(self) -> np.ndarray:
        return self._train[2].values()

    @property
    def eval_steps(self) -> np.ndarray:
        return self._eval[0].values()

    @property
    def eval_losses(self) -> np.ndarray:
        return self._eval[1].values()

    @property
    def eval_metrics(self) -> np.ndarray:
        return self._eval[2].values()

    def __len__(self) -> int:
        return len(self._train[0])

    def last_step(self) -> int:
        steps = [c.values()[-1] for c in (self._train[0], self._eval[0]) if len(c)]
        return int(max(steps)) if steps else 0

    def rows(self) -> list[tuple]:
        """metrics.csv rows: one per step trained or evaluated, steps ascending."""
        by_step: dict[int, list] = {}
        for s, loss, norm in zip(self.train_steps, self.train_losses, self.grad_norms, strict=True):
            by_step[int(s)] = [float(loss), None, None, _finite_or_none(norm)]
        for s, loss, metric in zip(
            self.eval_steps, self.eval_losses, self.eval_metrics, strict=True
        ):
            row = by_step.setdefault(int(s), [None, None, None, None])
            row[1], row[2] = float(loss), _finite_or_none(metric)
        return [(s, *by_step[s]) for s in sorted(by_step)]

    @classmethod
    def from_table(cls, table: MetricsTable) -> MetricsHistory:
        history = cls()
        trained = ~np.isnan(table.train_loss)
        history.add_train(table.step[trained], table.train_loss[trained], table.grad_norm[trained])
        evaluated = ~np.isnan(table.test_loss)
        history.add_eval(
            table.step[evaluated], table.test_loss[evaluated], table.test_metric[evaluated]
        )
        return history


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
