"""Long curves drawn fast: peak downsampling to the pixel width and clipping to the view.

A 100,000-step curve handed to Qt whole costs ~150 ms per paint; 8 channels freeze the window
for over a second on every repaint. Reduced to about two points per pixel column (each
column's min and max), the same picture costs a few milliseconds, and zoomed in to fewer
steps than pixels every sample is drawn as it is. Only the drawing is reduced: the data a
curve holds (``getOriginalDataset``) stay exact.

Three pyqtgraph habits need care, and the helpers here take it:

- ``PlotItem.addItem`` gives each data item the plot's downsampling defaults (off), so a
  curve configured before it was added loses its settings: :func:`add_curve`,
  :func:`configure_plot`;
- the reduction is recomputed when the view *range* changes, not when the view is resized:
  :func:`redownsample_on_resize`;
- peak downsampling joins every bin's min to the next bin's max, two strokes across a noisy
  band per bin: :class:`PeakCurve` alternates the order and halves the paint;
- it reduces whole bins only and drops the samples left over at the end (the last step's
  value, often the largest gradient, would vanish): :class:`PeakCurve` draws them as one
  more bin.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

#: Bins per pixel column of a peak-downsampled curve; each bin draws its min and its max.
#: Half a bin per column is cheaper still but shows moire seams in a noisy band.
PEAK_BINS_PER_PIXEL = 1.0


def configure_curve(curve: pg.PlotDataItem) -> None:
    """Draw only what is in view, at most about two points per pixel column.

    Without this a 100,000-step curve costs ~150 ms per paint (8 of them over a second):
    pyqtgraph hands every segment to Qt. Peak downsampling keeps each bin's minimum and
    maximum, so spikes survive; zoomed in far enough, the exact samples are drawn. The data
    the curve holds (``getOriginalDataset``) stay exact; only ``getData`` is reduced.

    pyqtgraph's auto factor aims at ~5 bins per pixel, which "peak" doubles to 10 points
    (about 10,000 segments a curve, ~25 ms each for a noisy one); one bin per pixel column
    shows the same band at a fifth of the segments. With fewer visible steps than pixel
    columns nothing is reduced: every sample is drawn as it is.
    Call it after the curve was added to its plot (see :func:`configure_plot`).
    """
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    curve.opts["autoDownsampleFactor"] = PEAK_BINS_PER_PIXEL


class PeakCurve(pg.PlotDataItem):
    """A data item whose peak-downsampled bins alternate max-min and min-max.

    pyqtgraph draws each bin from its max to its min and then on to the next bin's max: two
    strokes across a noisy curve's band per bin. Alternating the order joins a min to the
    next min and a max to the next max, so the same picture (the same extremes, the same
    join across an edge between two bins) costs half the paint. Only the reduced picture
    changes (``getData``); the data (``getOriginalDataset``) and full-zoom drawing do not.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.opts["autoDownsampleFactor"] = PEAK_BINS_PER_PIXEL

    def _getDisplayDataset(self):  # pyqtgraph's hook; the reduction itself stays pyqtgraph's
        cached = self._datasetDisplay
        dataset = super()._getDisplayDataset()
        if dataset is None or dataset is cached or not self._peak_reduced():
            return dataset
        if cached is not None and dataset.y is cached.y:  # reused, already alternated
            return dataset
        y = dataset.y
        if y.ndim == 1 and y.size >= 4 and y.size % 2 == 0 and y.flags.writeable:
            pairs = y.reshape(-1, 2)  # the peak branch builds y afresh: safe to change
            pairs[1::2] = pairs[1::2, ::-1].copy()
            dataset = self._with_tail(dataset)
        return dataset

    def _with_tail(self, dataset):
        """``dataset`` and one more bin for the samples pyqtgraph's peak branch leaves out.

        It reduces ``len // factor`` whole bins and drops the rest, up to a bin of the last
        samples: the gradient norm of the last step, usually the largest, would vanish.
        """
        mapped = self._datasetMapped
        factor = self._adsLastValue if self.opts["autoDownsample"] else self.opts["downsample"]
        if mapped is None or mapped.x is None or not isinstance(factor, int):
            return dataset
        x, y = mapped.x, mapped.y
        centre = int(np.searchsorted(x, dataset.x[-1]))  # the last bin's x is one of its samples
        if centre >= x.size or x[centre] != dataset.x[-1]:
            return dataset  # not the layout expected (x not increasing): leave it be
        start = centre - factor // 2 + factor  # the first sample after the last whole bin
        end = min(start + factor, x.size)  # the rest is under a bin (or off to the right)
        if start >= end:
            return dataset
        low, high = float(np.min(y[start:end])), float(np.max(y[start:end]))
        odd = (dataset.y.size // 2) % 2 == 1  # keep the alternation: odd bins run min-max
        tail_y = np.array([low, high] if odd else [high, low])
        connect = dataset.connect
        if isinstance(connect, np.ndarray):
            joined = self.opts["connect"]
            inside = bool(np.all(joined[start:end])) if isinstance(joined, np.ndarray) else True
            connect = np.concatenate([connect, [True, inside]])
        extended = type(dataset)(
            np.concatenate([dataset.x, np.full(2, x[end - 1])]),
            np.concatenate([dataset.y, tail_y]),
            dataset.xAllFinite,
            dataset.yAllFinite,
            connect,
        )
        self._datasetDisplay = extended  # what pyqtgraph reuses until the view changes
        return extended

    def _peak_reduced(self) -> bool:
        if self.opts["downsampleMethod"] != "peak":
            return False
        factor = self._adsLastValue if self.opts["autoDownsample"] else self.opts["downsample"]
        return isinstance(factor, int) and factor > 1


def add_curve(plot_item: pg.PlotItem, *args, **kwargs) -> PeakCurve:
    """A :class:`PeakCurve` (``PlotDataItem`` arguments) added to ``plot_item`` (and its legend
    when given a ``name``), downsampled and clipped to the view."""
    curve = PeakCurve(*args, **kwargs)
    plot_item.addItem(curve)
    configure_curve(curve)
    return curve


def configure_plot(plot_item: pg.PlotItem) -> None:
    """Make peak downsampling and clip-to-view the defaults of ``plot_item`` (its context
    menu then shows them ticked).

    ``PlotItem.addItem`` gives every data item the plot's defaults, which are off: a curve
    configured before it was added loses its settings there. Call :func:`configure_curve`
    after adding, or rely on these defaults.
    """
    plot_item.setDownsampling(auto=True, mode="peak")
    plot_item.setClipToView(True)
    redownsample_on_resize(plot_item.vb)


def redownsample_on_resize(vb: pg.ViewBox) -> None:
    """Recompute the downsampled curves of ``vb`` when its width changes.

    pyqtgraph picks the downsampling factor from the view's pixel width, but recomputes it
    only when the view *range* changes: a curve given its data before the window was laid
    out (when the view was ~60 px wide) stays at 60 bins across a 1,000-pixel plot.
    """
    if vb.property("redownsamples_on_resize"):
        return
    vb.setProperty("redownsamples_on_resize", True)
    widths = {"last": vb.width()}

    def on_resized(box: pg.ViewBox) -> None:
        width = box.width()
        if width == widths["last"]:
            return
        widths["last"] = width
        for item in box.addedItems:
            if isinstance(item, pg.PlotDataItem) and item.opts["autoDownsample"]:
                item.viewRangeChanged(box, box.viewRange(), [True, False])

    vb.sigResized.connect(on_resized)
