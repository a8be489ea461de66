"""tritonctl's S3 client (io/s3.py) on the ways users reach S3: TLS with their CA bundle, proxies, settings in AWS
profiles (a plain one read as botocore reads it, the others resolved by botocore), a bucket in another region; an
endpoint answering garbage, and bytes that are not the ones hashed never placed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from forward_proxy import ForwardProxy
from s3.conftest import CREDENTIALS, model_tree, python_model, run
from s3_proxy import S3Proxy
from tls_proxy import TlsProxy

pytestmark = pytest.mark.s3


@pytest.fixture
def source(tmp_path):
    return model_tree(tmp_path / "src", "m", {1: {"model.py": python_model(), "weights.bin": os.urandom(1 << 16)}})


@pytest.fixture
def tls(bucket, tmp_path):
    port = int(bucket.endpoint.rsplit(":", 1)[1])
    proxy = TlsProxy(port, tmp_path / "tls")
    yield proxy
    proxy.stop()


def test_an_https_endpoint_is_checked_against_the_ca_bundle(bucket, source, tls):
    endpoint = f"https://127.0.0.1:{tls.port}"
    trusted = run("sync", str(source), bucket.url(), "--endpoint-url", endpoint, env={"AWS_CA_BUNDLE": str(tls.ca_pem)})
    assert trusted.returncode == 0, trusted.stderr
    assert run("validate", bucket.url(), "--endpoint-url", endpoint,
               env={"AWS_CA_BUNDLE": str(tls.ca_pem)}).returncode == 0
    untrusted = run("sync", str(source), bucket.url("other"), "--endpoint-url", endpoint,
                    env={"AWS_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": ""})
    assert untrusted.returncode == 3 and len(untrusted.stderr.splitlines()) <= 2, untrusted.stderr
    assert "certificate" in untrusted.stderr and "Traceback" not in untrusted.stderr
    assert "other/m/config.pbtxt" not in str(bucket.keys("other/"))


def test_https_goes_through_a_connect_proxy_with_its_credentials(bucket, source, tls):
    proxy = ForwardProxy(credentials=("proxyuser", "pr0xy pass"))
    try:
        endpoint = f"https://127.0.0.1:{tls.port}"
        env = {"AWS_CA_BUNDLE": str(tls.ca_pem), "HTTPS_PROXY": proxy.url(("proxyuser", "pr0xy%20pass")),
               "NO_PROXY": ""}
        result = run("sync", str(source), bucket.url(), "--endpoint-url", endpoint, env=env)
        assert result.returncode == 0, result.stderr
        assert proxy.counts["CONNECT"] >= 1 and proxy.counts["forwarded"] == 0
        assert "pr0xy" not in result.stderr + result.stdout
        refused = run("sync", str(source), bucket.url("b"), "--endpoint-url", endpoint,
                      env={**env, "HTTPS_PROXY": proxy.url(("proxyuser", "wrong"))})
        assert refused.returncode == 3 and "407" in refused.stderr, refused.stderr
        assert "wrong" not in refused.stderr
    finally:
        proxy.stop()


def test_http_goes_through_a_plain_proxy_unless_no_proxy_names_the_host(bucket, source):
    proxy = ForwardProxy(credentials=("u", "p"))
    try:
        env = {"HTTP_PROXY": proxy.url(("u", "p")), "http_proxy": proxy.url(("u", "p")), "NO_PROXY": "",
               "no_proxy": ""}
        result = run("sync", str(source), bucket.url(), env=env)
        assert result.returncode == 0, result.stderr
        assert proxy.counts["forwarded"] >= 4 and proxy.counts["CONNECT"] == 0
        before = proxy.counts["forwarded"]
        direct = run("sync", str(source), bucket.url("direct"), env={**env, "NO_PROXY": "127.0.0.1",
                                                                     "no_proxy": "127.0.0.1"})
        assert direct.returncode == 0, direct.stderr
        assert proxy.counts["forwarded"] == before
    finally:
        proxy.stop()


def _home_with_profile(tmp_path, credentials: str, config: str) -> dict[str, str]:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(credentials)
    (home / ".aws" / "config").write_text(config)
    return {"HOME": str(home), "AWS_PROFILE": "ci", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
            "AWS_ENDPOINT_URL": "", "AWS_DEFAULT_REGION": ""}


def _without_blanks(env: dict) -> dict:
    """The test's environment with `env` over it, variables given as "" left out (unset, not empty)."""
    return {k: v for k, v in {**os.environ, **env}.items() if v != ""}


def _tritonctl(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True,
                          env=_without_blanks(env), timeout=120)


def _resolved(env: dict) -> list[str]:
    """What io/s3.resolve makes of an environment: endpoint, region, access key, whether botocore was imported."""
    code = ("import sys\nfrom tritonctl.io.s3 import resolve\ns = resolve(None)\n"
            "print(s.endpoint, s.region, s.credentials().access_key, 'botocore' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_without_blanks(env),
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_plain_profile_is_read_as_botocore_reads_it(bucket, source, tmp_path):
    env = _home_with_profile(tmp_path, f"[ci]\naws_access_key_id = {CREDENTIALS['AWS_ACCESS_KEY_ID']}\n"
                                       f"aws_secret_access_key = {CREDENTIALS['AWS_SECRET_ACCESS_KEY']}\n",
                             f"[profile ci]\nregion = eu-west-3\nendpoint_url = {bucket.endpoint}\n")
    assert _resolved(env) == [bucket.endpoint, "eu-west-3", CREDENTIALS["AWS_ACCESS_KEY_ID"], "False"]
    assert _resolved({**env, "AWS_DEFAULT_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "AKENV",
                      "AWS_SECRET_ACCESS_KEY": "x"}) == [bucket.endpoint, "us-west-2", "AKENV", "False"]
    result = _tritonctl("sync", str(source), bucket.url(), env=env)
    assert result.returncode == 0, result.stderr
    assert _tritonctl("validate", bucket.url(), env=env).returncode == 0
    missing = _tritonctl("sync", str(source), bucket.url(), env={**env, "AWS_PROFILE": "nobody"})
    assert missing.returncode == 3 and "nobody" in missing.stderr and len(missing.stderr.splitlines()) <= 2


def test_a_profile_that_needs_botocore_is_resolved_by_botocore(bucket, source, tmp_path):
    process = tmp_path / "creds.py"  # credential_process: botocore runs it and reads its JSON
    process.write_text("import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': %r, 'SecretAccessKey': %r}))\n"
                       % (CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"]))
    env = _home_with_profile(tmp_path, "", f"[profile ci]\nregion = eu-west-3\nendpoint_url = {bucket.endpoint}\n"
                                           f"credential_process = {sys.executable} {process}\n")
    assert _resolved(env) == [bucket.endpoint, "eu-west-3", CREDENTIALS["AWS_ACCESS_KEY_ID"], "True"]
    result = _tritonctl("sync", str(source), bucket.url(), env=env)
    assert result.returncode == 0, result.stderr
    failing = tmp_path / "fails.py"
    failing.write_text("import sys\nsys.exit('no credentials today')\n")
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home" / ".aws" / "config").write_text(f"[profile ci]\nendpoint_url = {bucket.endpoint}\n"
                                                        f"credential_process = {sys.executable} {failing}\n")
    refused = _tritonctl("sync", str(source), bucket.url(), env=env)
    assert refused.returncode == 3 and len(refused.stderr.splitlines()) <= 2 and "Traceback" not in refused.stderr


def test_a_bucket_in_another_region_is_signed_for_its_region(bucket, source):
    host, port = bucket.endpoint.removeprefix("http://").split(":")
    proxy = S3Proxy(host, int(port))
    proxy.region = "eu-west-3"
    try:
        result = run("sync", str(source), bucket.url(), "--endpoint-url", proxy.url,
                     env={"AWS_DEFAULT_REGION": "us-east-1"})
        assert result.returncode == 0, result.stderr
        assert set(bucket.keys("models/")) >= {"models/m/config.pbtxt", "models/m/1/weights.bin"}
    finally:
        proxy.stop()


def test_bytes_that_are_not_the_ones_hashed_are_never_placed(bucket, tmp_path, monkeypatch):
    from tritonctl.errors import TritonctlError
    from tritonctl.io.s3 import S3, parse_url

    monkeypatch.setenv("AWS_ENDPOINT_URL", bucket.endpoint)
    s3 = S3()
    url = parse_url(bucket.url())
    path = tmp_path / "f.bin"
    path.write_bytes(b"now" * 1000)
    stale = hashlib.md5(b"was" * 1000).digest()  # what was hashed before the file changed
    with pytest.raises(TritonctlError, match="changed while it was sent"):
        s3.put(url, "f.bin", path, md5=stale, size=3000)
    upload = s3.create_upload(url, "g.bin")
    with pytest.raises(TritonctlError, match="changed while it was sent"):
        s3.upload_part(url, "g.bin", upload, 1, path, 0, 3000, stale)
    with pytest.raises(TritonctlError, match="changed while it was sent"):  # shorter than it was
        s3.put(url, "h.bin", path, md5=hashlib.md5(b"now" * 1000).digest(), size=4000)
    s3.abort_upload(url, "g.bin", upload)
    assert "models/g.bin" not in bucket.keys("models/") and "models/h.bin" not in bucket.keys("models/")
    s3.close()


@pytest.mark.parametrize("listing", [
    b"<html>a captive portal</html>",
    b"<ListBucketResult><Contents><Key>models/m/1/model.py</Key><Size>twelve</Size></Contents></ListBucketResult>",
    b"<ListBucketResult><Contents><Key>elsewhere/m/1/model.py</Key><Size>1</Size></Contents></ListBucketResult>",
    b"<ListBucketResult><Contents><Key>models/m/1/model.py",
])
def test_an_endpoint_that_answers_garbage_is_one_line(listing, tmp_path):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(listing)))
            self.end_headers()
            self.wfile.write(listing)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run("validate", "s3://bucket/models", "--endpoint-url", f"http://127.0.0.1:{server.server_port}",
                     env={"TRITONCTL_STATE_DIR": str(tmp_path / "state"), **CREDENTIALS})
    finally:
        server.shutdown()
    assert result.returncode == 3, result.stderr
    assert "not a listing of that prefix" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("endpoint", ["notaurl", "ftp://127.0.0.1:9", "http://127.0.0.1:port",
                                      "http://user:s3cr3t@127.0.0.1:9"])
def test_an_endpoint_that_is_no_url_is_a_usage_error_that_shows_no_password(endpoint, tmp_path, source):
    result = run("sync", str(source), "s3://bucket/models", "--endpoint-url", endpoint, "--no-validate",
                 env={"TRITONCTL_STATE_DIR": str(tmp_path / "state"), **CREDENTIALS})
    assert result.returncode == 2 and "is not an S3 endpoint URL" in result.stderr, result.stderr
    assert "s3cr3t" not in result.stderr and len(result.stderr.splitlines()) == 1
