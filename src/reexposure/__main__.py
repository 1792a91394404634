"""``python -m reexposure``: the same as the ``reexpose`` command."""

import sys

from .apps.cli import main

if __name__ == "__main__":
    sys.exit(main())
