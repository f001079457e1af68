"""numpy's BLAS kept to one thread while torch trains.

The gradient flow runs a few small numpy matmuls per time step. numpy's OpenBLAS spreads
them over its own threads, which then spin waiting for more work while torch's OpenMP
threads want the same cores for the next training step. Measured on the 2-core CPU (GRU,
128 units x 100 steps): a gradient-flow probe took 16 ms instead of 2 ms, and a probed step
cost 6 ms more than an unprobed one instead of 1.5 ms. One BLAS thread for numpy makes the
probe cost what it measures; torch's own thread pool is left alone.
"""

from __future__ import annotations

import functools


@functools.cache
def single_threaded_numpy_blas() -> bool:
    """Limit numpy's OpenBLAS to one thread, once per process. False where that cannot be
    done (no threadpoolctl, as on the GPU machine, or no OpenBLAS loaded): nothing changes."""
    try:
        import numpy  # noqa: F401  (load numpy's BLAS so threadpoolctl can find it)
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return False
    openblas = ThreadpoolController().select(internal_api="openblas")
    if not openblas.lib_controllers:
        return False
    openblas.limit(limits=1)
    return True
