"""The archive on s3:// (icechunk's S3 client, staging through s3fs) against a real moto server on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from s3_server import moto_s3
from synthetic import plan, product, unit

from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run, read_tiles
from glacierscale.errors import ArchiveConflictError, ArchiveError, ArchiveNotFoundError

U1, U2, U3 = unit(400, 4000, ("G1",)), unit(401, 4000, ("G2",)), unit(402, 4000, ("G3",))
ARCH, STAGING = "s3://archive/alps", "s3://archive/staging"


def _writer(run_id: str, units: list, years: list[int]):
    w = open_run(ARCH, run_id, plan(run_id, units, years), staging=STAGING)
    w.checkpoint([w.stage(product(u, y, inputs=f"{run_id}-{u.unit_id}")) for u in units for y in years])
    return w


def _main() -> str:
    return open_archive(ARCH).snapshot


@pytest.fixture(scope="module")
def s3() -> object:
    with moto_s3("archive") as env:
        yield env


def test_s3_crash_before_publish_then_rerun_and_unreachable(s3: object) -> None:
    with pytest.raises(ArchiveNotFoundError):
        read_tiles("s3://archive/none")
    w = _writer("base", [U1], [2020])
    first = w.publish({})
    assert first == _main()
    _writer("crashy", [U2], [2020])  # checkpointed, never published: the driver died
    assert _main() == first and (U2.unit_id, 2020) not in read_tiles(ARCH)
    again = open_run(ARCH, "crashy", plan("crashy", [U2], [2020]), staging=STAGING)
    assert again.held()[(U2.unit_id, 2020)].run_id == "crashy"
    snap = again.publish({})
    assert snap == _main() and again.publish({}) is None
    table = open_archive(ARCH).table()
    assert sorted(table["glacier_id"]) == ["G1", "G2"]


def test_concurrent_runs_disjoint_both_land_overlapping_conflict_names_the_run(s3: object) -> None:
    a = _writer("alpha", [U1], [2022])
    b = _writer("beta", [U3], [2022])  # disjoint from alpha, started from the same main
    assert a.publish({}) is not None
    assert b.publish({}) is not None  # main moved: replayed onto alpha's snapshot
    tiles = read_tiles(ARCH)
    assert tiles[(U1.unit_id, 2022)].run_id == "alpha" and tiles[(U3.unit_id, 2022)].run_id == "beta"
    c = _writer("gamma", [U2], [2023])
    d = _writer("delta", [U2, U3], [2023])  # overlaps gamma on U2 2023
    assert c.publish({}) is not None
    before = _main()
    with pytest.raises(ArchiveConflictError, match=r"run delta conflicts with run gamma.*unit 32632_20m_64_401_4000 year 2023"):
        d.publish({})
    assert _main() == before
    assert read_tiles(ARCH)[(U2.unit_id, 2023)].run_id == "gamma"
    # nothing is lost: the retry (a new run deciding from the archive as it is now) lands delta's other item
    held = read_tiles(ARCH)
    retry = open_run(ARCH, "delta2", plan("delta2", [U2, U3], [2023]), staging=STAGING)
    todo = [u for u in (U2, U3) if (u.unit_id, 2023) not in held]
    assert todo == [U3]
    retry.checkpoint([retry.stage(product(u, 2023)) for u in todo])
    assert retry.publish({}) is not None
    assert read_tiles(ARCH)[(U3.unit_id, 2023)].run_id == "delta2"
    # or the loser lands its own values over the winner's on purpose
    assert d.publish({}, replace=True) is not None
    assert read_tiles(ARCH)[(U2.unit_id, 2023)].run_id == "delta"
    assert d.publish({}) is None


def test_s3_driver_killed_between_checkpoint_and_publish(s3: object) -> None:
    import subprocess
    import textwrap

    before = _main()
    here = Path(__file__).resolve().parent
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(here)!r})
        from synthetic import plan, product, unit
        from glacierscale.archive.run import open_run
        u = unit(403, 4000, ("G4",))
        w = open_run({ARCH!r}, "killed", plan("killed", [u], [2024]), staging={STAGING!r})
        w.checkpoint([w.stage(product(u, 2024))])
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)  # inherits moto's env
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert _main() == before
    u = unit(403, 4000, ("G4",))
    w = open_run(ARCH, "killed", plan("killed", [u], [2024]), staging=STAGING)
    assert w.held()[(u.unit_id, 2024)].run_id == "killed"
    snap = w.publish({})
    assert snap == _main() and w.publish({}) is None
    assert list(open_archive(ARCH).glacier("G4")["year"]) == [2024]


def test_s3_disjoint_runs_publishing_at_the_same_moment_both_land(s3: object) -> None:
    from concurrent.futures import ThreadPoolExecutor

    units = [unit(410 + k, 4001, (f"R{k}",)) for k in range(2)]
    writers = [_writer(f"race{k}", [u], [2025]) for k, u in enumerate(units)]
    with ThreadPoolExecutor(2) as pool:
        snaps = list(pool.map(lambda w: w.publish({}), writers))
    assert all(snaps) and _main() in snaps
    assert any("replayed onto" in h["message"] for h in open_archive(ARCH).history()[:2])  # the later one rebased
    tiles = read_tiles(ARCH)
    assert [tiles[(u.unit_id, 2025)].run_id for u in units] == ["race0", "race1"]
    assert sorted(open_archive(ARCH).in_bbox((-180, -90, 180, 90), 2025, 2025)["glacier_id"]) == ["R0", "R1"]


def test_unreachable_s3_is_an_error_not_an_empty_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    from glacierscale.catalog.server import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ArchiveError, match="cannot reach archive") as err:
        read_tiles("s3://archive/alps")
    assert not isinstance(err.value, ArchiveNotFoundError)
