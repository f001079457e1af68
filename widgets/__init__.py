"""Qt + pyqtgraph views and controls. They take numpy arrays and plain values and emit signals
with plain values; they never import torch or the engines."""

import pyqtgraph as pg

# Every view hands pyqtgraph (rows, columns) arrays: rows are units, columns are time steps.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
