"""Planetary Computer SAS signing against a token endpoint on loopback; GDAL options per access rule."""

from __future__ import annotations

import json
from pathlib import Path

import pystac
import pytest
from sas_endpoint import TokenEndpoint

from glacierscale.catalog.access import SasSigner, gdal_options, signer_for
from glacierscale.errors import CatalogError

ITEM = Path(__file__).resolve().parents[3] / "shared/data/real/stac-items/planetary-computer/sentinel-2-l2a-pc.json"


@pytest.mark.skipif(not ITEM.is_file(), reason=f"real Planetary Computer items not found at {ITEM}")
@pytest.mark.parametrize("tokens", [(3600.0, 3000.0, ("sentinel-2-l2a",))], indirect=True)
def test_blob_hrefs_are_signed_once_per_collection(tokens: TokenEndpoint) -> None:
    signer = SasSigner(tokens.url)
    items = [pystac.Item.from_dict(signer.sign_item(d)) for d in json.loads(ITEM.read_text())]
    href = items[0].assets["B02"].href
    sig = next(iter(tokens.issued))
    assert href.startswith("https://sentinel2l2a01.blob.core.windows.net/")
    assert href.endswith(f"&sp=rl&sv=2024-05-04&sr=c&sig={sig}")
    assert items[3].assets["SCL"].href.endswith(f"sig={sig}")
    assert tokens.requests == ["/api/sas/v1/token/sentinel-2-l2a"]  # cached for the other 3 items and 90 assets
    assert "rendered_preview" in items[0].assets and "sig=" not in items[0].assets["rendered_preview"].href
    assert signer.sign_href(href, "sentinel-2-l2a") == href  # signing twice gives the same href (token cached)


@pytest.mark.parametrize("tokens", [(3600.0, 3000.0, ("sentinel-2-l2a",))], indirect=True)
def test_token_endpoint_errors_are_clear(tokens: TokenEndpoint) -> None:
    with pytest.raises(CatalogError, match=r"cannot get a SAS token for landsat-c2-l2 .*HTTP Error 404"):
        SasSigner(tokens.url).token("landsat-c2-l2")


def test_access_rules() -> None:
    assert signer_for("anonymous-https") is None
    assert isinstance(signer_for("planetary-computer-sas"), SasSigner)
    assert signer_for("planetary-computer-sas") is signer_for("planetary-computer-sas")  # one per process: tokens shared
    assert gdal_options("requester-pays-s3")["AWS_REQUEST_PAYER"] == "requester"
    # every remote read has a deadline, whatever the access rule
    for rule in ("requester-pays-s3", "anonymous-https", "planetary-computer-sas", "local"):
        assert gdal_options(rule)["GDAL_HTTP_TIMEOUT"] == "60"
    assert gdal_options("anonymous-https", read_timeout_s=5)["GDAL_HTTP_TIMEOUT"] == "5"  # provider read_timeout_s
