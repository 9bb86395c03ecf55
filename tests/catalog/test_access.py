"""Planetary Computer SAS signing against a token endpoint on loopback; GDAL options per access rule."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pystac
import pytest

from glacierscale.catalog.access import SasSigner, gdal_options, signer_for
from glacierscale.errors import CatalogError

ITEM = Path(__file__).resolve().parents[3] / "shared/data/real/stac-items/planetary-computer/sentinel-2-l2a-pc.json"


@pytest.fixture()
def token_server() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            if not self.path.endswith("/sentinel-2-l2a"):
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps({"msft:expiry": "2099-01-01T00:00:00Z", "token": "st=2026&se=2099&sp=rl&sig=abc%3D"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/sas/v1/token", requests
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(not ITEM.is_file(), reason=f"real Planetary Computer items not found at {ITEM}")
def test_blob_hrefs_are_signed_once_per_collection(token_server: tuple[str, list[str]]) -> None:
    url, requests = token_server
    signer = SasSigner(url)
    items = [pystac.Item.from_dict(signer.sign_item(d)) for d in json.loads(ITEM.read_text())]
    href = items[0].assets["B02"].href
    assert href.startswith("https://sentinel2l2a01.blob.core.windows.net/") and href.endswith("?st=2026&se=2099&sp=rl&sig=abc%3D")
    assert items[3].assets["SCL"].href.endswith("sig=abc%3D")
    assert requests == ["/api/sas/v1/token/sentinel-2-l2a"]  # cached for the other 3 items and 90 assets
    assert "rendered_preview" in items[0].assets and "sig=" not in items[0].assets["rendered_preview"].href
    assert signer.sign_href(href, "sentinel-2-l2a") == href  # signing twice gives the same href (token cached)


def test_token_endpoint_errors_are_clear(token_server: tuple[str, list[str]]) -> None:
    url, _ = token_server
    with pytest.raises(CatalogError, match="cannot get a SAS token for landsat-c2-l2"):
        SasSigner(url).token("landsat-c2-l2")


def test_access_rules() -> None:
    assert signer_for("anonymous-https") is None
    assert isinstance(signer_for("planetary-computer-sas"), SasSigner)
    assert signer_for("planetary-computer-sas") is signer_for("planetary-computer-sas")  # one per process: tokens shared
    assert gdal_options("requester-pays-s3")["AWS_REQUEST_PAYER"] == "requester"
    # every remote read has a deadline, whatever the access rule
    for rule in ("requester-pays-s3", "anonymous-https", "planetary-computer-sas", "local"):
        assert gdal_options(rule)["GDAL_HTTP_TIMEOUT"] == "60"
    assert gdal_options("anonymous-https", read_timeout_s=5)["GDAL_HTTP_TIMEOUT"] == "5"  # provider read_timeout_s
