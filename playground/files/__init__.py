"""Files the user brings or takes away. numpy and the standard library only (no Qt, no torch),
so the headless command line can read them on a machine without a display."""

from playground.files.regular import NotRegularFileError, check_regular_file
from playground.files.sequences import (
    MAX_CHANNELS,
    MAX_STEPS,
    MIN_STEPS,
    SUFFIXES,
    SequenceData,
    SequenceLoadError,
    load_sequence,
    save_sequence_csv,
)

__all__ = [
    "MAX_CHANNELS",
    "MAX_STEPS",
    "MIN_STEPS",
    "NotRegularFileError",
    "SUFFIXES",
    "SequenceData",
    "SequenceLoadError",
    "check_regular_file",
    "load_sequence",
    "save_sequence_csv",
]
