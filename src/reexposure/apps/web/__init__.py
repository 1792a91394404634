"""The web app: ``reexpose serve``. See :mod:`reexposure.apps.web.app`."""

from __future__ import annotations

__all__ = ["create_app", "WebSettings"]


def __getattr__(name: str):  # lazy: importing the package must not import FastAPI or torch
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
