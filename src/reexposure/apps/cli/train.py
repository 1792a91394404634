"""``reexpose train``: the training loop (:func:`reexposure.training.trainer.train`) from the command line.

The training modules are imported when the command runs (they pull in torch and tensorboard).
"""

from __future__ import annotations

import argparse
import logging
import os

__all__ = ["register"]


_EPILOG = """\
examples:
  reexpose train --config configs/cpu-small.yaml
  reexpose train --config configs/cpu-small.yaml out=runs/try steps=500 pairs.crop=96
  reexpose train --config configs/cpu-small.yaml --resume         # continue runs/cpu-small exactly
  reexpose train --config configs/cpu-small.yaml arch=expandnet expandnet.width=16 out=runs/expandnet
  reexpose train --config configs/full.yaml --vgg-weights ~/vgg19-dcbb9e9d.pth
  torchrun --nproc_per_node=4 -m reexposure train --config configs/full.yaml

Overrides are key=value (values parsed as YAML; nested keys with dots: pairs.crop=96,
generator.width=16, pairs.ev_range=[-2,2]). Unknown keys and wrong types are errors.
The run folder (out=) holds config.yaml, last.pt, model.safetensors (load it with --model),
log.jsonl, sheet_*.png and tb/ (tensorboard --logdir OUT/tb).
The perceptual loss (w_perc > 0) needs torchvision's vgg19-dcbb9e9d.pth in the torch hub cache
($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints) or --vgg-weights PATH."""


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", default=None,
                   help="config file (configs/cpu-small.yaml, configs/full.yaml); default: built-in defaults")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in out= from its last.pt exactly (same data order, optimiser, RNG)")
    p.add_argument("--vgg-weights", metavar="PATH", default=None,
                   help="torchvision vgg19 state dict for the perceptual loss (same as vgg_weights=PATH)")
    g = p.add_argument_group("messages")
    g.add_argument("-v", "--verbose", action="store_true", help="more messages; tracebacks on errors")
    g.add_argument("-q", "--quiet", action="store_true", help="only errors (no config, no progress bar)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: on unless --quiet)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``reexpose train``."""
    p = subparsers.add_parser(
        "train", help="train a model on a folder of HDR images (or resume a run)",
        description="Train the highlight-reconstruction generator on HDR images (.exr, .hdr, .pfm; "
                    "SingleHDR HDR-Synth / HDR-Real folders work as they are). Prints the effective "
                    "config, then trains with a progress bar; Ctrl-C or SIGTERM saves a checkpoint.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    """Handler of ``reexpose train``: errors are raised as one-line ``ValueError`` subclasses
    (``ConfigError``, ``DataError``) for :func:`reexposure.apps.cli.main.main` to print."""
    import yaml

    from ...training.config import to_dict
    from ...training.trainer import load_train_config, train

    overrides = list(args.overrides)
    if args.vgg_weights:
        overrides.append(f"vgg_weights={args.vgg_weights}")
    config = load_train_config(args.config, overrides)
    quiet = getattr(args, "quiet", False)
    if not quiet:
        logging.getLogger("reexposure.training.trainer").setLevel(logging.INFO)
    if int(os.environ.get("RANK", "0")) == 0 and not quiet:
        print("# effective config" + (f" ({args.config} + overrides)" if args.config else ""))
        print(yaml.safe_dump(to_dict(config), sort_keys=False).rstrip(), flush=True)
    progress = getattr(args, "progress", None)
    progress = (not quiet) if progress is None else progress
    out = train(config, resume=args.resume, progress=progress)
    if int(os.environ.get("RANK", "0")) == 0 and not quiet:
        print(f"run folder: {out} (model: {out / 'model.safetensors'})")
    return 0
