"""Running out of memory, on CUDA or the CPU: telling it from other errors, and what to tell
the user instead of the allocator's text (a smaller batch, hidden size or sequence; on CUDA,
the CPU). Shared by the training loop, the trainer process and the command line."""

from __future__ import annotations

import torch

#: What PyTorch's CPU allocator says when malloc fails (POSIX, then Windows); it raises a
#: plain RuntimeError, unlike CUDA's torch.cuda.OutOfMemoryError.
_CPU_OUT_OF_MEMORY = (
    "DefaultCPUAllocator: can't allocate memory",
    "DefaultCPUAllocator: not enough memory",
)


class OutOfMemoryAdvice(RuntimeError):
    """Running out of memory (CUDA or CPU) where no run is there to end with an "error"
    snapshot (``Trainer.create``): ``str(error)`` is the advice for the user, without the
    allocator's text (which stays on ``__cause__``)."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure (CUDA or CPU), not any other RuntimeError."""
    return isinstance(error, torch.cuda.OutOfMemoryError | OutOfMemoryAdvice) or (
        isinstance(error, RuntimeError) and any(m in str(error) for m in _CPU_OUT_OF_MEMORY)
    )


def out_of_memory_advice(
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    when: str = "",
) -> str:
    """What to tell the user when ``device`` ran out of memory ``when`` ("at step 12",
    "building the run"): a smaller batch (``batch_size`` is the one now), hidden size or
    sequence, and on CUDA the CPU. Any of the three may be unknown (None, "")."""
    try:
        kind = torch.device(device).type if device is not None else None
    except (RuntimeError, TypeError):
        kind = None
    subject = f"{device} ran" if device is not None else "Ran"
    batch = f"a smaller batch (now {batch_size})" if batch_size is not None else "a smaller batch"
    elsewhere = ", or train on the CPU" if kind == "cuda" else ""
    return (
        f"{subject} out of memory{' ' + when if when else ''}. Try {batch}, a smaller hidden "
        f"size or a shorter sequence{elsewhere}."
    )
