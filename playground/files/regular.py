"""Refuse at once what is not a regular file (a FIFO called ``x.csv``, a device, a folder)
before reading it: opening a FIFO waits for a writer, so the window would freeze for good.

The check lives in ``engines.regular_files`` (standard library only), because the engines'
weights loader needs it too and engines may not import playground; use it from here in the app
and the command line::

    from playground.files.regular import NotRegularFileError, check_regular_file

    try:
        check_regular_file(path, "experiment file")
    except NotRegularFileError as error:  # a ValueError; str(error) names the file
        window.show_error(str(error))
"""

from engines.regular_files import (
    NotRegularFileError,
    check_regular_file,
    file_kind,
    read_regular_file,
)

__all__ = ["NotRegularFileError", "check_regular_file", "file_kind", "read_regular_file"]
