"""Commands that read a repository, given an s3:// one: through a local copy, by content, paths shown as s3://."""

from __future__ import annotations

import json
import os
import time

import pytest

from s3.conftest import model_tree, python_model, run

pytestmark = pytest.mark.s3


@pytest.fixture
def published(bucket, tmp_path):
    src = model_tree(tmp_path / "src", "m", {1: {"model.py": python_model()}, 2: {"model.py": python_model()}},
                     "{ latest: { num_versions: 1 } }")
    assert run("sync", str(src), bucket.url()).returncode == 0
    return bucket


def test_reading_commands_take_an_s3_repository(published):
    url = published.url()
    shown = run("policy", "show", "m", "-r", url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [f"m: latest:1 ({url}/m/config.pbtxt:5:1)", "versions present: 1, 2",
                                         "served: 2"]
    listed = json.loads(run("version", "list", "m", "-r", url, "-f", "json").stdout)
    assert [(v["version"], v["served"]) for v in listed["versions"]] == [(1, False), (2, True)]
    config = json.loads(run("config", "show", "m", "-r", url, "-f", "json").stdout)
    assert config["version_policy"] == {"latest": {"num_versions": 1}}
    published.put("models/m/config.pbtxt", b'backend: "python"\nmax_batch_size: -1\n')  # changed by another tool
    report = json.loads(run("validate", url, "-f", "json").stdout)
    assert [(f["code"], f["path"]) for f in report["findings"]] == [("TRT106", f"{url}/m/config.pbtxt")]


def test_the_local_copy_downloads_only_what_changed(published, tmp_path):
    from tritonctl.s3_cache import materialize
    from tritonctl.io.s3 import parse_url

    first = materialize(parse_url(published.url()))
    assert first.downloaded == 3
    again = materialize(parse_url(published.url()))
    assert (again.downloaded, again.path) == (0, first.path)
    published.put("models/m/2/model.py", b"# changed\n")
    changed = materialize(parse_url(published.url()))
    assert changed.downloaded == 1 and (changed.path / "m/2/model.py").read_bytes() == b"# changed\n"
    published.client.delete_object(Bucket=published.name, Key="models/m/1/model.py")
    gone = materialize(parse_url(published.url()))
    assert not (gone.path / "m/1").exists()


@pytest.mark.parametrize("case", ["no such bucket", "endpoint down"])
def test_server_start_checks_the_s3_repository_first(bucket, tmp_path, case):
    args = {"no such bucket": ["--repo", "s3://no-such-bucket-here/models"],
            "endpoint down": ["--repo", bucket.url(), "--endpoint-url", "http://127.0.0.1:9"]}[case]
    started = time.monotonic()
    result = run("server", "start", *args, env={"TRITONCTL_STATE_DIR": str(tmp_path / "state")})
    assert result.returncode == 3 and result.stderr.startswith("error: ")
    assert time.monotonic() - started < 15  # Triton itself would wait about 50 s
    assert not (tmp_path / "state" / "servers" / "default" / "server.json").exists()


def test_an_s3_address_with_an_endpoint_in_it_is_a_usage_error(bucket):
    result = run("validate", "s3://http://127.0.0.1:9000/bucket/models")
    assert result.returncode == 2
    assert "give the endpoint with --endpoint-url" in result.stderr


def test_a_download_is_checked_against_an_etag_of_8_mib_parts(tmp_path):
    """Objects uploaded in 8 MiB parts (aws-cli's default; tritonctl's own before its cutoff rose) are checked too."""
    import hashlib

    from tritonctl.s3_cache import RemoteFile, _holds

    data = os.urandom((8 << 20) * 2 + 5)
    path = tmp_path / "downloaded"
    path.write_bytes(data)
    parts = [hashlib.md5(data[i:i + (8 << 20)]).digest() for i in range(0, len(data), 8 << 20)]
    etag = f'"{hashlib.md5(b"".join(parts)).hexdigest()}-3"'
    assert _holds(path, RemoteFile(len(data), etag, None))
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped on the way
    assert not _holds(path, RemoteFile(len(data), etag, None))
