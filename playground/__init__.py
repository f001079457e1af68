"""The application: main window, training controller, files and command line.

Importing this package loads no Qt: the command line and the trainer process must run on
machines without it. Qt is imported only where a window is made.
"""

__version__ = "0.1.0"
