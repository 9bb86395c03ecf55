"""``glacierscale evaluate`` (comes with the model issue)."""

from __future__ import annotations

import argparse

from glacierscale.cli._common import not_available

HELP = "IoU per class, ablations and calibration on a simulated scene set (not available yet)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help=HELP, description=HELP + ".")
    p.add_argument("--checkpoint", default="default")
    p.add_argument("--scenes", required=True)
    p.add_argument("--ablation", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=not_available("model evaluation issue: multi-sensor ViT-U-Net evaluation"))
