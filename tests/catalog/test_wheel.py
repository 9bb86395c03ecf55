"""The provider YAMLs ship in the wheel: an installed glacierscale, away from the checkout, knows its providers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ITEM = REPO.parent / "shared" / "data" / "real" / "stac-items" / "earth-search-v1" / "sentinel-2-l2a" / \
    "S2A_13TDE_20231008_0_L2A.json"


@pytest.mark.slow
def test_installed_wheel_finds_providers_and_inspects_a_real_item(tmp_path: Path) -> None:
    if not ITEM.is_file():
        pytest.skip(f"real STAC item {ITEM} is not on this machine")
    wheels, target, cwd = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    cwd.mkdir()
    # no build isolation: the build needs no network (setuptools comes from the venv)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(REPO)], check=True, capture_output=True, cwd=cwd)
    wheel = next(wheels.glob("glacierscale-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, cwd=cwd)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import glacierscale, json; from glacierscale.catalog.provider import load_provider, provider_names; "
            "print(json.dumps([glacierscale.__file__, provider_names(), load_provider('earth-search').name]))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, cwd=cwd)
    where, names, name = json.loads(out.stdout)
    assert Path(where).is_relative_to(target)
    assert {"earth-search", "planetary-computer", "local"} <= set(names) and name == "earth-search"
    inspect = subprocess.run([sys.executable, "-m", "glacierscale", "catalog", "inspect", str(ITEM)],
                             capture_output=True, text=True, env=env, cwd=cwd)
    assert inspect.returncode == 0, inspect.stderr
    parsed = json.loads(inspect.stdout)
    assert parsed["provider"] == "earth-search" and parsed["usable"] is True
