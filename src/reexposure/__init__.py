"""reexposure: change the exposure of a photo after it was taken.

Public API (see README): :func:`reconstruct` (photo -> relative radiance) and
:func:`reexpose` (radiance, EV -> photo).
"""

__version__ = "0.1.0"
