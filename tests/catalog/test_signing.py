"""Planetary Computer signing at read time: tokens re-fetched before they expire, no signed URL ever recorded.

A token endpoint and a blob store stand in on loopback: the endpoint hands out SAS tokens that expire, the store
(``AssetServer``) refuses a read whose token is unknown or expired (403), as Azure does.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pystac
import pytest
import yaml
from sas_endpoint import TokenEndpoint

from glacierscale.catalog.access import SasSigner, unsigned_href, unsigned_item
from glacierscale.catalog.asset_server import AssetServer, serve_catalog_over_http
from glacierscale.config import load_yaml
from glacierscale.redact import redact
from glacierscale.simulate import SceneSet

PC_ITEMS = Path(__file__).resolve().parents[3] / "shared/data/real/stac-items/planetary-computer/sentinel-2-l2a-pc.json"


def test_a_token_is_fetched_again_before_it_expires(tokens: TokenEndpoint) -> None:
    now = [time.time()]
    signer = SasSigner(tokens.url, clock=lambda: now[0])
    href = "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/B02_10m.tif"
    first = signer.sign_href(href, "sentinel-2-l2a")
    assert signer.sign_href(href, "sentinel-2-l2a") == first and signer.fetched == 1  # cached
    now[0] += tokens.refresh_after_s + 1  # within REFRESH_BEFORE_S of its expiry: renewed before a read needs it
    second = signer.sign_href(first, "sentinel-2-l2a")  # an already signed href gets the new token, not two
    assert signer.fetched == 2 and second != first and second.count("sig=") == 1
    assert second.startswith(href + "?st=") and unsigned_href(second) == href
    assert tokens.requests == ["/api/sas/v1/token/sentinel-2-l2a"] * 2
    assert signer.sign_href("https://example.com/B02.tif", "sentinel-2-l2a") == "https://example.com/B02.tif"


@pytest.mark.skipif(not PC_ITEMS.is_file(), reason=f"real Planetary Computer items not found at {PC_ITEMS}")
def test_real_items_are_signed_for_reading_and_stored_unsigned(tokens: TokenEndpoint) -> None:
    items = json.loads(PC_ITEMS.read_text())
    signer = SasSigner(tokens.url)
    signed = [signer.sign_item(d) for d in items]
    b02 = signed[0]["assets"]["B02"]["href"]
    assert b02.startswith("https://sentinel2l2a01.blob.core.windows.net/") and "&sig=" in b02
    assert "sig=" not in items[0]["assets"]["B02"]["href"]  # the item itself is left as it was
    assert signer.fetched == 1  # one token for the collection's 4 items and their assets
    assert [unsigned_item(d) for d in signed] == items
    sig = next(iter(tokens.issued))
    assert pystac.Item.from_dict(signed[0]).assets["SCL"].href.endswith(sig)
    message = redact(f"CubeError: reading s2 bands failed: RuntimeError: Error reading from '{b02}': HTTP 403")
    assert sig not in message and "sig=REDACTED" in message and "B02_10m.tif?st=REDACTED" in message


@pytest.mark.slow
@pytest.mark.parametrize("tokens", [(12.0, 2.0)], indirect=True)
def test_a_run_signs_at_read_time_and_records_no_signature(scene_set: SceneSet, tmp_path: Path, tokens: TokenEndpoint,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The whole run over a blob store whose tokens expire 12 s after issue (renewed 2 s in, so a read has 10 s on a
    token, enough on two loaded cores; the run takes 14-40 s):
    every read carries a valid token, and no token reaches the selections, the ledger, the run record or the
    printed failure.

    One 2022 Sentinel-2 asset is served corrupt, so a failure naming a signed href is recorded.
    """
    from glacierscale.archive import open_archive
    from glacierscale.cli import main

    cat = tmp_path / "catalog"
    shutil.copytree(scene_set.root, cat)
    for listing in cat.glob("*/items.ndjson"):
        listing.write_text(listing.read_text().replace(str(scene_set.root), str(cat)))
    provider = load_yaml(Path(__file__).resolve().parents[2] / "catalogs" / "local.yaml")
    provider.update(name="pc-loopback", access="planetary-computer-sas", token_url=tokens.url,
                    sign_hosts=["127.0.0.1"], read_timeout_s=10)
    (tmp_path / "pc-loopback.yaml").write_text(yaml.safe_dump(provider))
    with AssetServer(cat) as blobs:
        assert serve_catalog_over_http(cat, blobs) > 0
        blobs.faults.authorize = lambda rel, query: tokens.valid(query)
        s2 = [json.loads(line) for line in (cat / "sentinel-2-l2a" / "items.ndjson").read_text().splitlines() if line]
        victim = next(it for it in s2 if it["properties"]["datetime"].startswith("2022"))["assets"]["green"]["href"]
        blobs.faults.corrupt.add(victim.split("/", 3)[3])
        cfg = {"name": "signed", "catalog": {"url": str(cat), "provider": str(tmp_path / "pc-loopback.yaml")},
               "inventory": str(cat / "inventory.gpkg"), "years": "2021:2022", "archive": str(tmp_path / "archive"),
               "cube_store": str(tmp_path / "cubes"), "selection": {"max_scenes": 4},
               "grid": {"resolution": 20, "tile_size": 128, "margin_m": 0, "overlap_px": 0},
               "stream": {"keep_selections": True, "backoff_s": 0.2}}
        (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
        t0 = time.monotonic()
        code = main(["run", str(tmp_path / "run.yaml"), "--quiet"])
        seconds = time.monotonic() - t0
        printed = capsys.readouterr()
    assert seconds > tokens.life_s, f"the run ({seconds:.0f} s) ended before a token expired: nothing was tested"
    assert blobs.served.status[403] == 0, "a read carried an expired or missing token"
    assert blobs.served.corrupt > 0 and len(tokens.issued) >= 2  # renewed during the run
    assert code == 1 and Path(victim).name in printed.out  # the corrupt 2022 asset fails its items, named
    assert set(open_archive(str(tmp_path / "archive")).table()["year"]) == {2021}
    assert main(["status", str(tmp_path / "run.yaml"), "--json"]) == 0
    status = capsys.readouterr().out
    failed = json.loads(status)["failures"]
    # recorded as its cause (not as a remote traceback), the signed href it named redacted
    assert failed and all(f["reason"].startswith("CubeError: reading s2 bands") and "sig=REDACTED" in f["reason"]
                          and f["file"] == victim for f in failed)
    selections = list((tmp_path / "state").rglob("selections/*/*.json"))
    assert selections and all("sig=" not in p.read_text() for p in selections)
    hrefs = [a["href"] for p in selections for its in json.loads(p.read_text())["items"].values()
             for it in its for a in it["assets"].values()]
    assert hrefs and all(h.startswith(blobs.url) and "?" not in h for h in hrefs)  # stored unsigned
    ledger = [pd.read_parquet(p).to_json() for p in (tmp_path / "state").rglob("*.parquet")]
    record = json.dumps(open_archive(str(tmp_path / "archive")).runs()["record"].tolist())
    written = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    issued = list(tokens.issued)
    assert ledger and "sig=REDACTED" in "".join(ledger)
    for text in (printed.out, printed.err, status, *ledger, record):
        assert not any(sig in text for sig in issued)
    assert not any(sig.encode() in written for sig in issued)


def test_a_bad_input_naming_a_signed_url_is_printed_redacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glacierscale.cli import main

    item = tmp_path / "item.json?st=2026-12-05&sp=rl&sig=TOPSECRET"
    assert main(["catalog", "inspect", str(item)]) == 2
    err = capsys.readouterr().err
    assert "TOPSECRET" not in err and "sig=REDACTED" in err and "item.json" in err
