"""``glacierscale doctor``: check Ray, GPUs, catalog, store and checkpoint before a big run."""

from __future__ import annotations

import argparse

HELP = "check the checkpoint, torch/GPUs, rustac, Ray and (with CONFIG) the catalog and archive"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help=HELP, description=HELP + ".")
    p.add_argument("config", nargs="?", help="run config YAML to check as well")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, fn: object) -> None:
        try:
            checks.append((name, True, str(fn())))  # type: ignore[operator]
        except Exception as err:
            checks.append((name, False, str(err)))

    def torch_info() -> str:
        import torch

        return f"torch {torch.__version__}, CUDA GPUs: {torch.cuda.device_count()}"

    def ckpt(location: str = "default") -> str:
        from glacierscale.model.checkpoint import load_checkpoint

        c = load_checkpoint(location)
        return f"{c.path} (model {c.model_hash}, bands {','.join(c.bands)})"

    def rustac() -> str:
        from glacierscale.catalog.server import rustac_binary

        return rustac_binary()

    def ray_info() -> str:
        import ray

        return f"ray {ray.__version__}"

    check("torch", torch_info)
    check("rustac", rustac)
    check("ray", ray_info)
    if args.config:
        from glacierscale.config import load_run_config
        from glacierscale.inventory.units import read_inventory

        cfg = load_run_config(args.config)
        check("checkpoint", lambda: ckpt(cfg.model.checkpoint))
        check("inventory", lambda: f"{len(read_inventory(cfg.inventory))} glaciers in {cfg.inventory}")
        check("catalog", lambda: _catalog(cfg.catalog.url))
    else:
        check("checkpoint", ckpt)
    width = max(len(c[0]) for c in checks)
    for name, ok, msg in checks:
        print(f"{'ok ' if ok else 'FAIL'} {name:<{width}}  {msg}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def _catalog(url: str) -> str:
    import pystac_client

    from glacierscale.pipeline import catalog_endpoint

    with catalog_endpoint(url) as api:
        colls = [c.id for c in pystac_client.Client.open(api).get_collections()]
    return f"{url}: {', '.join(colls)}"
