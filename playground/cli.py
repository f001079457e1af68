"""The ``seq-playground`` command: open the app, or train, sweep and export headless.

    seq-playground [FILE_OR_RUN_DIR ...] [--task adding --length 100 --engine lstm ...]
    seq-playground train --task adding --length 100 --engine lstm --steps 2000 --out RUN_DIR
    seq-playground train --resume RUN_DIR --steps 4000        (continue it, bit for bit)
    seq-playground train --config RUN_DIR --out RUN_DIR2      (run it again)
    seq-playground train --weights FILE --steps 0 --out RUN_DIR    (evaluate saved weights)
    seq-playground horizon --engines rnn,lstm,gru --lengths 10,25,50 --jobs 2 --out DIR
    seq-playground export RUN_DIR --out FIGURES

This module is only the entry point (``playground.cli:main``, ``python -m playground``):
nothing imports it. The options live in ``playground.options``, the run folder's format in
``playground.run_folder``, the commands in ``train_command``, ``horizon`` and
``export_command``. The signal handlers go in first, before torch is imported, so Ctrl+C and
SIGTERM at any moment stop the command cleanly (exit 130 / 143, no traceback). Every failure
is one line on stderr: exit 2 for a bad option, 1 for a failed write or a diverged run.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``seq-playground`` and ``python -m playground``; returns the exit status."""
    from playground import interrupts

    interrupts.install()
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        interrupts.restore()


def _main(argv: list[str]) -> int:
    from playground import interrupts
    from playground.options import EXIT_USAGE, UsageError, fail

    try:
        if argv and argv[0] in COMMANDS:
            return COMMANDS[argv[0]](argv[1:])
        return _app(argv)
    except UsageError as error:
        fail(str(error))
        return EXIT_USAGE
    except OSError as error:  # a full disk, a folder that went away: one line, not a traceback
        from playground.run_writer import RunWriteError

        if isinstance(error, RunWriteError):
            fail(f"{error}; the files written before are intact")
        else:
            fail(f"{error.filename or ''} {error.strerror or error}".strip())
        return 1
    except SystemExit as exit_:  # --help and --version
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:  # only where the handler could not be installed
        interrupts.request()
        return interrupts.exit_code()


def _train(argv: list[str]) -> int:
    from playground.train_command import run

    return run(argv)


def _horizon(argv: list[str]) -> int:
    from playground.horizon import run

    return run(argv)


def _export(argv: list[str]) -> int:
    from playground.option_checks import parse_list
    from playground.options import UsageError, export_parser, fail, parse_size

    args = export_parser().parse_args(argv)
    try:
        from playground.export_command import run_export
    except ModuleNotFoundError as error:
        if error.name != "playground.export_command":
            raise
        fail("'seq-playground export' is not available in this installation yet")
        return 1
    views = None
    if args.views is not None:
        views = parse_list("--views", args.views) if args.views.strip() else []
    extra = {}  # only what was given: the exporter's own defaults otherwise
    if args.size is not None:
        extra["size"] = parse_size(args.size)
    for key in ("dpi", "fps", "max_frames"):
        if getattr(args, key) is not None:
            extra[key] = getattr(args, key)
    if args.sweep:
        extra["sweep"] = True
    if args.from_step is not None or args.to_step is not None:
        extra["steps"] = (args.from_step, args.to_step)
    try:
        code = run_export(
            args.run_dir,
            args.out,
            format=args.format,
            views=views,
            step=args.step,
            animate=args.animate,
            **extra,
        )
    except ValueError as error:  # a bad folder, view name or step: named by the exporter
        raise UsageError(str(error)) from None
    return int(code or 0)


def _app(argv: list[str]) -> int:
    from pathlib import Path

    from playground import interrupts
    from playground.option_checks import validate_app_settings
    from playground.options import APP_SETTINGS, PROG, UsageError, app_parser, fail

    args = app_parser().parse_args(argv)
    settings = {
        key: getattr(args, key) for key in APP_SETTINGS.split() if getattr(args, key) is not None
    }
    for key in ("engine", "optimizer", "init", "device"):
        if key in settings:
            settings[key] = str(settings[key]).strip().lower()
    validate_app_settings(settings)
    files = []
    for name in args.files:
        if not Path(name).exists():
            raise UsageError(f"argument FILE: {name}: no such file or folder")
        files.append(str(Path(name).resolve()))
    if interrupts.requested():  # Ctrl+C before the window opened: do not open it
        return interrupts.exit_code()
    try:
        from playground.app import launch
    except ImportError as error:
        fail(
            f"the window cannot open ({error}); it needs PySide6 and pyqtgraph. "
            f"'{PROG} train' and '{PROG} horizon' work without them."
        )
        return 1
    # The window installs its own handlers once Qt is up; until then ours record a signal
    # (``interrupts.requested()``), so Ctrl+C while Qt loads prints no traceback either.
    return int(launch(settings, args.autostart, files) or 0)


COMMANDS = {"train": _train, "horizon": _horizon, "export": _export}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
