"""What a cluster's nodes carry never reaches a record: a pre-signed URL made with the nodes' S3 credentials, or the
Ray token in an Authorization header, is redacted (glacierscale.redact, applied to every error, log line, ledger
row and run record) before anything stores it."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from token_cluster import fake_aws_credentials


def _presigned(creds: dict[str, str], signature_version: str) -> str:
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", aws_access_key_id=creds["AWS_ACCESS_KEY_ID"], region_name="us-west-2",
                      aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                      config=Config(signature_version=signature_version))
    return s3.generate_presigned_url("get_object", Params={"Bucket": "glacierscale-cubes", "Key": "g/2022.json"},
                                     ExpiresIn=600)


def test_a_presigned_archive_url_and_a_bearer_token_lose_their_credentials() -> None:
    from glacierscale.redact import redact

    creds = fake_aws_credentials()
    url = _presigned(creds, "s3v4")
    assert creds["AWS_ACCESS_KEY_ID"] in url and "X-Amz-Signature=" in url  # a credential as long as it is valid
    token = secrets.token_hex(32)
    message = f"RasterioIOError: {url}: HTTP 403; request had 'Authorization: Bearer {token}'"
    clean = redact(message)
    assert creds["AWS_ACCESS_KEY_ID"] not in clean and token not in clean
    assert "X-Amz-Signature=REDACTED" in clean and "X-Amz-Credential=REDACTED" in clean
    assert clean.startswith("RasterioIOError: https://glacierscale-cubes.s3.amazonaws.com/g/2022.json?")


def test_a_sigv2_presigned_url_loses_its_access_key_id() -> None:
    from glacierscale.redact import redact

    creds = fake_aws_credentials()
    url = _presigned(creds, "s3")
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    clean = redact(f"HTTP 403 for {url}")
    assert "Signature=REDACTED" in clean
    assert creds["AWS_ACCESS_KEY_ID"] not in clean
