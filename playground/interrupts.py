"""Ctrl+C and SIGTERM as a request to stop, never as an exception in the middle of a write.

A job scheduler sends SIGTERM at a time limit; a user presses Ctrl+C. Either may come at any
moment: while torch is still being imported, between two training steps, or while the run
folder is being written. Python's own handling raises KeyboardInterrupt wherever the
interpreter happens to be (a traceback during imports, half a save) and SIGTERM kills the
process outright (nothing saved). So ``install`` replaces both with a handler that only
records the signal; the training loop looks at ``requested()`` between steps, stops, writes a
consistent run folder and exits with ``exit_code()``: 130 for SIGINT, 143 for SIGTERM, as a
shell reports a process ended by them.

A process started in the background by a shell inherits SIGINT ignored (so that Ctrl+C in the
terminal does not reach it): that is kept, only SIGTERM is taken then. Standard library only:
this is installed before torch is imported.
"""

from __future__ import annotations

import signal

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
_received: list[int] = []
_previous: dict[int, object] = {}


def _record(signum, frame) -> None:
    _received.append(signum)


def install() -> None:
    """Take SIGINT (unless it is ignored) and SIGTERM; call from the main thread."""
    for signum in EXIT_CODES:
        current = signal.getsignal(signum)
        if signum == signal.SIGINT and current == signal.SIG_IGN:
            continue
        if current is _record:
            continue
        _previous[signum] = current
        signal.signal(signum, _record)


def restore() -> None:
    """Put back the handlers ``install`` replaced (after a command, or before the window
    opens: the app handles its signals itself) and forget what was received."""
    for signum, handler in list(_previous.items()):
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        del _previous[signum]
    _received.clear()


def installed() -> bool:
    return bool(_previous)


def requested() -> bool:
    """True once SIGINT or SIGTERM arrived (the run should stop at the next step)."""
    return bool(_received)


def request(signum: int = signal.SIGINT) -> None:
    """Ask to stop as if ``signum`` had arrived (a KeyboardInterrupt caught elsewhere)."""
    _received.append(signum)


def first_signal() -> int | None:
    return _received[0] if _received else None


def exit_code(default: int = 130) -> int:
    """130 for SIGINT, 143 for SIGTERM: the first signal that came decides."""
    signum = first_signal()
    return EXIT_CODES.get(signum, default) if signum is not None else default


def describe() -> str:
    signum = first_signal()
    return "stopped by SIGTERM" if signum == signal.SIGTERM else "stopped by Ctrl+C"
