"""The SigV4 signer (io/sigv4.py) against botocore's, the reference: generated requests, the same headers."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritonctl.io import sigv4

botocore_auth = pytest.importorskip("botocore.auth")


def botocore_signature(method, host, path, query, headers, credentials, region, now):
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials

    url = f"https://{host}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, headers=dict(headers))
    request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer = botocore_auth.S3SigV4Auth(Credentials(credentials.access_key, credentials.secret_key,
                                                   credentials.token), "s3", region)
    stamp = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)

    class Fixed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return stamp.replace(tzinfo=None)

        @classmethod
        def now(cls, tz=None):
            return stamp if tz else stamp.replace(tzinfo=None)

    original = botocore_auth.datetime.datetime
    botocore_auth.datetime.datetime = Fixed
    try:
        signer.add_auth(request)
    finally:
        botocore_auth.datetime.datetime = original
    return request.headers["Authorization"]


keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40)
values = st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
                   st.text(st.sampled_from(" ab/+=:"), max_size=12))  # runs of spaces: collapsed in the signature


@settings(max_examples=200, deadline=None)
@given(key=keys, method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
       query=st.lists(st.tuples(st.sampled_from(["list-type", "prefix", "uploadId", "partNumber", "uploads",
                                                 "continuation-token", "delete"]), values), max_size=4,
                      unique_by=lambda kv: kv[0]),
       meta=st.dictionaries(st.sampled_from(["x-amz-meta-sha256", "content-md5", "if-match", "if-none-match",
                                             "x-amz-copy-source", "content-type"]), values.filter(str.strip),
                            max_size=3),
       token=st.one_of(st.none(), st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                                          max_size=30)),
       region=st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2"]),
       now=st.integers(1_600_000_000, 1_900_000_000))
def test_the_signature_is_botocores(key, method, query, meta, token, region, now):
    credentials = sigv4.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    host = "s3.example.com:9000"
    path = "/bucket/" + sigv4.encode_path(key)
    q = sigv4.query_string(query)
    headers = {"host": host, **meta}
    from botocore.utils import percent_encode

    assert path == "/bucket/" + percent_encode(key, safe="/~")  # a key in the path as botocore's serializer puts it
    ours = sigv4.sign(method, path, q, headers, credentials, region, now=now)
    theirs = botocore_signature(method, host, path, q, {**headers, **{k: v for k, v in ours.items()
                                                                        if k != "Authorization"}},
                                credentials, region, now)
    assert ours["Authorization"] == theirs


def test_credentials_never_show_their_secret():
    text = repr(sigv4.Credentials("AKID", "very-secret", "token-secret"))
    assert "very-secret" not in text and "token-secret" not in text
