"""The ``reexpose`` command line: :func:`main` (console script and ``python -m reexposure``)."""

from .main import main

__all__ = ["main"]
