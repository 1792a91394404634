"""``reexpose serve``: the web app (:func:`reexposure.apps.web.app.create_app`) under uvicorn.

The web modules are imported when the command runs (they need the ``web`` extra).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..web.app import WebSettings

__all__ = ["register", "settings_from_args", "serve"]


def _positive_int(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 0..65535, got {value}")
    return value


EPILOG = """\
examples:
  reexpose serve                         # http://127.0.0.1:8000, shipped model and samples
  reexpose serve --port 8080 --model runs/exp1/generator.safetensors
  reexpose serve --host 0.0.0.0 --max-upload-mb 20 --max-pixels 24e6 --queue 2

Open the printed address in a browser, drop a photo (or pick a sample), and drag the EV slider:
the page renders every exposure itself. Downloads (re-exposed JPEG, EXR radiance, sweep MP4) are
rendered on the server at full resolution. Uploads stay in memory and are forgotten --ttl seconds
after their last use. There is no authentication: bind to 127.0.0.1 (the default) unless you
trust the network.
"""


def settings_from_args(args: argparse.Namespace) -> WebSettings:
    from ..web.app import WebSettings

    """:class:`WebSettings` from parsed ``reexpose serve`` arguments."""
    return WebSettings(model=args.model, max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                       max_pixels=args.max_pixels, queue=args.queue, ttl=args.ttl, job_timeout=args.timeout,
                       max_jobs=args.max_jobs)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``reexpose serve``."""
    p = subparsers.add_parser(
        "serve", help="start the web app (drop a photo, drag an exposure slider)",
        description="Start the reexposure web app: upload a photo or pick a sample, then change its "
                    "exposure in the browser, with the clipped highlights reconstructed.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_port, default=8000, help="port (default: %(default)s)")
    p.add_argument("--model", metavar="PATH", default=None,
                   help="generator weights (.safetensors); default: the shipped model")
    p.add_argument("--max-upload-mb", type=_positive_float, default=50.0, metavar="MB",
                   help="largest accepted upload in MiB (default: %(default)g)")
    p.add_argument("--max-pixels", type=_positive_int, default=50_000_000, metavar="N",
                   help="largest accepted photo in pixels, e.g. 24e6 (default: %(default)d)")
    p.add_argument("--queue", type=_positive_int, default=4, metavar="N",
                   help="reconstructions queued or running at once; more get HTTP 503 (default: %(default)d)")
    p.add_argument("--ttl", type=_positive_float, default=1800.0, metavar="S",
                   help="seconds an upload and its results are kept after last use (default: %(default)g)")
    p.add_argument("--timeout", type=_positive_float, default=600.0, metavar="S",
                   help="seconds one reconstruction may run (default: %(default)g)")
    p.add_argument("--max-jobs", type=_positive_int, default=16, metavar="N",
                   help="jobs kept in memory; the least recently used finished job is dropped (default: %(default)d)")
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    """Handler of ``reexpose serve``: build the app and run uvicorn until interrupted."""
    import uvicorn

    from ..web.app import create_app

    app = create_app(settings_from_args(args))  # a bad --model raises ModelError: exit 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"reexpose: warning: listening on {args.host}: anyone who can reach this address can "
              "upload photos (there is no authentication)", file=sys.stderr)
    print(f"reexpose: serving on http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}/",
          file=sys.stderr)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", server_header=False)
    except OSError as exc:  # e.g. port in use
        raise OSError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0
