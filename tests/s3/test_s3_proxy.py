"""The counting proxy itself (tests/s3_proxy.py): what passes through it is what the endpoint says."""

from __future__ import annotations

import pytest

from s3_proxy import S3Proxy

pytestmark = pytest.mark.s3


def test_a_head_through_the_proxy_says_the_objects_size(bucket):
    """(rclone checks each upload by the size a HEAD answers; the proxy said 0, and rclone deleted its uploads.)"""
    import boto3

    host, port = bucket.endpoint.rsplit("//", 1)[1].split(":")
    proxy = S3Proxy(host, int(port))
    try:
        bucket.put("models/a.bin", b"x" * 300_000)
        client = boto3.client("s3", endpoint_url=proxy.url, region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="s3cr3t-testing-key")
        assert client.head_object(Bucket=bucket.name, Key="models/a.bin")["ContentLength"] == 300_000
        assert proxy.stats.requests["HEAD"] == 1 and proxy.stats.body_bytes == 0
    finally:
        proxy.stop()
