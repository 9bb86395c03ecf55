"""Soak: hundreds of unit-years through the whole run with a fault every 20 items; the archive must equal a clean run's.

    .venv/bin/python benchmarks/soak.py [--workdir soak-work] [--regions 20] [--years 2016:2025] [--json FILE]

Simulates ``--regions`` small regions (256 px at 10 m each, one 128 px × 20 m work unit, Sentinel-2 twice and
Sentinel-1 once a year, DEM) and serves their COGs from a loopback HTTP server (``AssetServer``), so every read
goes over HTTP with the provider's read timeout (5 s here). Then, each as its own ``glacierscale run`` process:

1. the reference: an uninterrupted run into its own archive, cube store and state;
2. the soak: the same items into another archive, with one fault per 20 items, in turn a read timeout (the
   item's Sentinel-2 red band stalls 8 s once), a corrupt asset (its green band served as garbage), a killed
   inference actor (SIGKILL by pid), and once a killed driver (its process group, SIGKILL), which is rerun
   and resumes; the corrupt assets are then repaired and the run is repeated with ``--retry-failed``.

Items are counted by cube markers; faults fire when the count passes their position. Every 2 s the harness
samples each process of the run (driver, GCS, raylet, task workers, actors) with psutil. Printed: items/hour,
faults and how each was recovered, peak memory per process role early and late in the run, and whether the
archive's table equals the reference's. Only processes this script started are ever signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

TILE_PX, RES_M, REGION_PX = 128, 20.0, 256  # one work unit per region: 2.56 km, 128 px at 20 m
READ_TIMEOUT_S, STALL_S = 5, 8.0
COLUMNS = ["glacier_id", "year", "area_km2", "debris_km2", "observed_fraction", "quality"]


@dataclass
class Fault:
    kind: str  # timeout | corrupt | actor | driver
    position: int  # fires when this many items have passed the cube stage
    unit_id: str = ""
    year: int = 0
    assets: list[str] = field(default_factory=list)
    fired_s: float | None = None
    note: str = ""


def build_catalog(work: Path, regions: int, years: list[int]) -> Path:
    """Simulate the regions once (kept in ``work/regions``) and return the merged folder ``work/catalog``
    (items with ids suffixed per region, hrefs still local files; one inventory of every glacier)."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    from glacierscale.simulate import RegionSpec, simulate

    cat = work / "catalog"  # merged anew each time (hrefs local), from regions simulated once
    listings: dict[str, list[str]] = {}
    outlines = []
    glaciers: dict[str, list[str]] = {}
    for k in range(regions):
        out = work / "regions" / f"r{k:02d}"
        spec = RegionSpec(center_lon=8.0 + 0.05 * k, center_lat=46.6, size_px=REGION_PX, years=tuple(years),
                          s2_per_year=2, s1_per_year=1, seed=100 + k, name=f"soak{k:02d}", grid_m=TILE_PX * RES_M)
        if not (out / "inventory.gpkg").is_file():
            t0 = time.perf_counter()
            simulate(spec, out, sensors=("s2", "s1", "dem"), progress=False)
            print(f"simulated region {k + 1}/{regions} in {time.perf_counter() - t0:.0f} s", flush=True)
        for listing in out.glob("*/items.ndjson"):
            coll = listing.parent.name
            (cat / coll).mkdir(parents=True, exist_ok=True)
            if not (cat / coll / "collection.json").exists():
                (cat / coll / "collection.json").write_text((listing.parent / "collection.json").read_text())
            for line in listing.read_text().splitlines():
                if line.strip():
                    item = json.loads(line)
                    item["id"] = f"{item['id']}_r{k:02d}"
                    listings.setdefault(coll, []).append(json.dumps(item))
        sim = json.loads((out / "simulation.json").read_text())
        inv = gpd.read_file(out / "inventory.gpkg")
        inside = inv.to_crs(epsg=int(sim["epsg"])).within(box(*sim["bounds"]))
        outlines.append(inv[inside.to_numpy()])  # glaciers wholly inside the imagery: one work unit per region
        glaciers[f"r{k:02d}"] = [str(g) for g in outlines[-1]["glacier_id"]]
    for coll, lines in listings.items():
        (cat / coll / "items.ndjson").write_text("\n".join(lines) + "\n")
    (cat / "regions.json").write_text(json.dumps(glaciers))
    gpd.GeoDataFrame(pd.concat(outlines, ignore_index=True), crs=outlines[0].crs).to_file(cat / "inventory.gpkg")
    return cat


def write_configs(work: Path, cat: Path, years: list[int]) -> dict[str, Path]:
    """Write the provider (local asset keys, read over HTTP with a 5 s timeout) and the two run configs."""
    from glacierscale.config import load_yaml

    root = Path(__file__).resolve().parents[1]
    provider = load_yaml(root / "catalogs" / "local.yaml")
    provider.update(name="soak-http", access="anonymous-https", read_timeout_s=READ_TIMEOUT_S)
    (work / "soak-http.yaml").write_text(yaml.safe_dump(provider))
    out = {}
    for name in ("reference", "soak"):
        cfg = {"name": f"soak-{name}", "catalog": {"url": str(cat), "provider": str(work / "soak-http.yaml")},
               "inventory": str(cat / "inventory.gpkg"), "years": years, "archive": str(work / name / "archive"),
               "cube_store": str(work / name / "cubes"), "selection": {"max_scenes": 2},
               "grid": {"resolution": RES_M, "tile_size": TILE_PX, "margin_m": 0, "overlap_px": 0},
               "stream": {"batch_items": 10, "backoff_s": 0.5, "max_attempts": 3}}
        out[name] = work / f"{name}.yaml"
        out[name].write_text(yaml.safe_dump(cfg))
    return out


class Sampler(threading.Thread):
    """Samples RSS of a run's processes (the driver and its descendants) every ``every_s`` seconds."""

    def __init__(self, every_s: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.every_s, self.driver = every_s, None  # type: ignore[var-annotated]
        self.rows: list[tuple[float, str, int, str, float]] = []  # t, phase, pid, role, rss MB
        self.loads: list[float] = []
        self.phase = ""
        self.t0 = time.monotonic()
        self.stop = threading.Event()

    @staticmethod
    def role(cmd: str) -> str:
        for key, role in (("InferenceWorker", "inference actor"), ("ThresholdWorker", "inference actor"),
                          ("gcs_server", "gcs_server"), ("raylet", "raylet"), ("dashboard", "ray dashboard/agent"),
                          ("log_monitor", "ray log monitor"), ("runtime_env", "ray dashboard/agent"),
                          ("ray::", "task worker"), ("default_worker", "task worker")):
            if key in cmd:
                return role
        return "driver" if "glacierscale" in cmd else "other"

    def run(self) -> None:
        import psutil

        while not self.stop.wait(self.every_s):
            self.loads.append(os.getloadavg()[0])
            drv = self.driver
            if drv is None or drv.poll() is not None:
                continue
            try:
                procs = [psutil.Process(drv.pid), *psutil.Process(drv.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            t = time.monotonic() - self.t0
            for p in procs:
                try:
                    role = "driver" if p.pid == drv.pid else self.role(" ".join(p.cmdline()))
                    if role in ("driver", "other") and p.pid != drv.pid:
                        role = f"other ({p.name()})"
                    self.rows.append((t, self.phase, p.pid, role, p.memory_info().rss / 2**20))
                except psutil.Error:
                    pass

    def summary(self, phase: str) -> dict[str, dict[str, Any]]:
        """Per role: the largest RSS of one process (MB) in each quarter of the phase, overall, and how many."""
        rows = [r for r in self.rows if r[1] == phase]
        if not rows:
            return {}
        t0, t1 = min(r[0] for r in rows), max(r[0] for r in rows)
        span = max(t1 - t0, 1e-9)
        out: dict[str, dict[str, Any]] = {}
        for role in sorted({r[3] for r in rows}):
            mine = [r for r in rows if r[3] == role]
            quarters = [[r[4] for r in mine if q <= min(3, int(4 * (r[0] - t0) / span)) < q + 1] for q in range(4)]
            out[role] = {"peak_mb": round(max(r[4] for r in mine), 1),
                         "peak_mb_by_quarter": [round(max(q), 1) if q else None for q in quarters],
                         "processes": len({r[2] for r in mine})}
        return out


def start_run(config: Path, sampler: Sampler, phase: str, *extra: str) -> subprocess.Popen[bytes]:
    """Start ``glacierscale run CONFIG`` as its own process group (a kill takes it and the Ray it started)."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    code = f"import sys; from glacierscale.cli import main; sys.exit(main(['run', {str(config)!r}, '--quiet', *{list(extra)!r}]))"
    log = (config.parent / f"{phase}.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, env=env, stdout=log, stderr=log)
    sampler.driver, sampler.phase = proc, phase
    return proc


def cube_markers(store: Path) -> int:
    return sum(1 for _ in store.glob("*/*.json")) if store.is_dir() else 0


def status(config: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", "import sys; from glacierscale.cli import main; "
                          f"sys.exit(main(['status', {str(config)!r}, '--json']))"], capture_output=True, text=True)
    return dict(json.loads(out.stdout)) if out.stdout.strip().startswith("{") else {"error": out.stderr[-500:]}


def kill_actor(proc: subprocess.Popen[bytes]) -> str:
    """SIGKILL one inference actor among the descendants of this soak's driver; return what was killed."""
    import psutil

    for p in psutil.Process(proc.pid).children(recursive=True):
        try:
            if "InferenceWorker" in " ".join(p.cmdline()):
                p.send_signal(signal.SIGKILL)
                return f"pid {p.pid}"
        except psutil.Error:
            continue
    return "no actor found"


def kill_driver(proc: subprocess.Popen[bytes]) -> str:
    """SIGKILL the driver's process group and any of its descendants left outside it."""
    import psutil

    tree = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for p in tree:
        with contextlib.suppress(psutil.Error):
            p.send_signal(signal.SIGKILL)
    return f"driver pid {proc.pid} and {len(tree)} Ray processes"


def plan_faults(config: Path, cat: Path, n_faults: int, every: int) -> list[Fault]:
    """Return the faults in order: kinds in turn (timeout, corrupt, actor), the driver kill once, mid-run."""
    from glacierscale.config import load_run_config
    from glacierscale.pipeline.context import plan_run

    cfg = load_run_config(config)
    _, units = plan_run(cfg)
    keys = [(u.unit_id, y) for y in cfg.years for u in units]  # the order the driver submits items in
    kinds = ["timeout", "corrupt", "actor"]
    faults = []
    for j in range(n_faults):
        kind = "driver" if j == n_faults // 2 else kinds[(j - (j > n_faults // 2)) % 3]
        pos = every // 2 + every * j
        unit_id, year = keys[min(pos, len(keys) - 1)]
        faults.append(Fault(kind, pos, unit_id, year))
    s2 = [json.loads(line) for line in (cat / "sentinel-2-l2a" / "items.ndjson").read_text().splitlines() if line]
    by_unit = {u.unit_id: u for u in units}
    regions = json.loads((cat / "regions.json").read_text())
    for f in faults:
        if f.kind in ("timeout", "corrupt"):
            band = "red" if f.kind == "timeout" else "green"
            region = next(r for r, ids in regions.items() if set(ids) & set(by_unit[f.unit_id].glacier_ids))
            f.assets = [it["assets"][band]["href"] for it in s2
                        if it["id"].endswith(f"_{region}") and it["properties"]["datetime"].startswith(str(f.year))]
    return faults


def drive(config: Path, store: Path, sampler: Sampler, phase: str, faults: list[Fault], t0: float,
          *extra: str) -> tuple[int | None, float]:
    """Run one ``glacierscale run`` process to its end, firing the process faults when their item count is passed;
    return (exit code, None when the driver was killed; seconds)."""
    proc = start_run(config, sampler, phase, *extra)
    start, last_print = time.monotonic(), 0.0
    while proc.poll() is None:
        time.sleep(0.5)
        done = cube_markers(store)
        if time.monotonic() - last_print > 30:
            last_print = time.monotonic()
            print(f"  [{phase}] {time.monotonic() - start:5.0f} s: {done} items through the cube stage, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        for f in faults:
            if f.fired_s is None and f.kind in ("actor", "driver") and done >= f.position:
                f.fired_s = round(time.monotonic() - t0, 1)
                if f.kind == "actor":
                    f.note = f"killed inference actor {kill_actor(proc)} at {done} items"
                else:
                    f.note = f"killed {kill_driver(proc)} at {done} items"
                    return None, time.monotonic() - start
                break
    return proc.returncode, time.monotonic() - start


def table(archive: Path) -> Any:
    from glacierscale.archive import open_archive

    return open_archive(str(archive)).table()[COLUMNS].sort_values(["glacier_id", "year"]).reset_index(drop=True)


def main() -> None:
    import shutil
    from urllib.parse import unquote

    import pandas as pd

    from glacierscale.catalog.asset_server import AssetServer, serve_catalog_over_http

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", default="soak-work")
    ap.add_argument("--regions", type=int, default=20, help="simulated regions = work units (default 20)")
    ap.add_argument("--years", default="2016:2025", help="FIRST:LAST (default 2016:2025: 10 years)")
    ap.add_argument("--every", type=int, default=20, help="items per induced fault (default 20)")
    ap.add_argument("--json", help="write the report here too")
    args = ap.parse_args()
    first, last = (int(v) for v in args.years.split(":"))
    years = list(range(first, last + 1))
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    cat = build_catalog(work, args.regions, years)
    configs = write_configs(work, cat, years)
    for name in ("reference", "soak"):
        shutil.rmtree(work / name, ignore_errors=True)
        for log in work.glob(f"{name}*.log"):
            log.unlink()
    from glacierscale.config import load_run_config
    from glacierscale.pipeline.context import plan_run

    n_items = len(plan_run(load_run_config(configs["soak"]))[1]) * len(years)
    sampler = Sampler()
    sampler.start()
    report: dict[str, Any] = {"items": n_items, "regions": args.regions, "years": [first, last],
                              "unit": f"{TILE_PX} px x {RES_M:.0f} m", "read_timeout_s": READ_TIMEOUT_S,
                              "scenes_per_year": {"s2": 2, "s1": 1}, "phases": {}}
    with AssetServer(work) as server:
        serve_catalog_over_http(cat, server)
        t0 = time.monotonic()
        code, secs = drive(configs["reference"], work / "reference" / "cubes", sampler, "reference", [], t0)
        report["phases"]["reference"] = {"exit": code, "seconds": round(secs, 1)}
        print(f"reference: exit {code} in {secs:.0f} s", flush=True)
        faults = plan_faults(configs["soak"], cat, n_items // args.every, args.every)
        for f in faults:
            for href in f.assets:
                rel = unquote(href.split("/", 3)[3])
                if f.kind == "timeout":
                    server.stall(rel, STALL_S, times=1)
                else:
                    server.faults.corrupt.add(rel)
        t0 = time.monotonic()
        soak_s, phase = 0.0, 1
        while True:
            code, secs = drive(configs["soak"], work / "soak" / "cubes", sampler, f"soak-{phase}", faults, t0)
            soak_s += secs
            report["phases"][f"soak-{phase}"] = {"exit": code, "seconds": round(secs, 1)}
            print(f"soak run {phase}: exit {code} in {secs:.0f} s", flush=True)
            if code is not None:
                break
            phase += 1  # the driver was killed: rerun, which resumes
        before_retry = status(configs["soak"])
        server.faults.corrupt.clear()  # the provider fixed its files
        code, secs = drive(configs["soak"], work / "soak" / "cubes", sampler, "soak-retry", [], t0, "--retry-failed")
        soak_s += secs
        report["phases"]["soak-retry"] = {"exit": code, "seconds": round(secs, 1)}
        print(f"soak --retry-failed: exit {code} in {secs:.0f} s", flush=True)
        report["asset_server"] = {"stalls_served": server.served.stalls, "corrupt_responses": server.served.corrupt,
                                  "status_counts": dict(server.served.status)}
    sampler.stop.set()
    after = status(configs["soak"])
    ref, soak = table(work / "reference" / "archive"), table(work / "soak" / "archive")
    try:
        pd.testing.assert_frame_equal(ref, soak)
        equal = True
    except AssertionError:
        equal = False
    ref_s = report["phases"]["reference"]["seconds"]
    failed_first = [(f["unit_id"], f["year"], f["reason"][:160]) for f in before_retry.get("failures", [])]
    report.update({
        "faults": [asdict(f) for f in faults],
        "failed_before_retry": failed_first, "failed_after_retry": after.get("failures", []),
        "items_per_hour": {"reference": round(n_items / ref_s * 3600), "soak": round(n_items / soak_s * 3600)},
        "soak_seconds": round(soak_s, 1),
        "memory_mb": {ph: sampler.summary(ph) for ph in report["phases"]},
        "table_rows": {"reference": len(ref), "soak": len(soak)}, "tables_equal": equal,
        "load_average": {"start": [round(v, 2) for v in load0], "end": [round(v, 2) for v in os.getloadavg()],
                         "mean_1min_during": round(sum(sampler.loads) / max(1, len(sampler.loads)), 2),
                         "max_1min_during": round(max(sampler.loads, default=0.0), 2)},
    })
    text = json.dumps(report, indent=1, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    pd.DataFrame(sampler.rows, columns=["t_s", "phase", "pid", "role", "rss_mb"]).to_csv(work / "memory.csv", index=False)


if __name__ == "__main__":
    main()
