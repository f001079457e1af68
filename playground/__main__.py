"""``python -m playground``: the same as the ``seq-playground`` command."""

import sys

from playground.cli import main

sys.exit(main())
