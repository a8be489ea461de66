"""S3 as an attacker or a bad day shapes it: keys that climb out, links in the local copy, forged metadata and
manifests, two syncs at once, an endpoint that never answers, deletes where tritonctl wrote nothing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import write_tree
from s3.conftest import model_tree, python_model, run
from s3.test_sync import WEIGHTS, sync
from s3_proxy import S3Proxy

pytestmark = pytest.mark.s3


@pytest.fixture
def source(tmp_path) -> Path:
    root = model_tree(tmp_path / "src", "weighted", {1: {"model.py": python_model(), "weights.bin": WEIGHTS}})
    model_tree(root, "plain", {1: {"model.py": python_model()}})
    return root


def state_cache(tmp_path: Path) -> Path:
    return tmp_path / "state" / "s3-cache"


def test_delete_at_a_bucket_root_above_other_repositories_is_refused(bucket, source):
    for prefix in ("prod", "staging"):
        assert sync(str(source), bucket.url(prefix))[0].returncode == 0
    before = bucket.keys()
    for args in (["--delete"], ["--delete", "--adopt"], []):
        result, _ = sync(str(source), bucket.url(""), *args)
        assert result.returncode == 1, result.stderr
        assert "holds other repositories (prod/, staging/)" in result.stderr
    assert bucket.keys() == before


def test_a_prefix_tritonctl_did_not_write_is_refused_for_delete_until_adopted(bucket, source):
    bucket.put("models/other/config.pbtxt", b'backend: "python"\n')
    bucket.put("models/other/1/model.py", b"")
    bucket.put("models/README.md", b"written by hand")
    refused, _ = sync(str(source), bucket.url(), "--delete")
    assert refused.returncode == 1 and "no .tritonctl-manifest.json at the prefix" in refused.stderr
    assert "models/.tritonctl-manifest.json" not in bucket.keys()
    added, _ = sync(str(source), bucket.url())  # without --delete: added beside, the prefix is not taken over
    assert added.returncode == 0
    assert json.loads(bucket.keys()["models/.tritonctl-manifest.json"])["owned"] is False
    still, _ = sync(str(source), bucket.url(), "--delete")
    assert still.returncode == 1
    adopted, doc = sync(str(source), bucket.url(), "--delete", "--adopt")
    assert adopted.returncode == 0, adopted.stderr
    keys = bucket.keys()
    assert "models/other/config.pbtxt" not in keys and keys["models/README.md"] == b"written by hand"
    assert "kept README.md: not part of a model repository" in doc["warnings"]


@pytest.mark.parametrize("kind", ["misspelt", "empty"])
def test_an_empty_or_misspelt_s3_source_never_empties_the_destination(bucket, source, tmp_path, kind):
    dst = tmp_path / "dst"
    assert sync(str(source), str(dst))[0].returncode == 0
    if kind == "empty":
        bucket.put("empty/README.md", b"nothing here")
    src = bucket.url("empty" if kind == "empty" else "modles")
    result, _ = sync(src, str(dst), "--delete", "--no-validate")
    assert result.returncode == 3, result.stderr
    assert "is no model repository" in result.stderr
    assert (dst / "weighted/1/weights.bin").read_bytes() == WEIGHTS


def test_folder_marker_keys_that_climb_out_create_nothing_outside_the_cache(bucket, source, tmp_path):
    assert sync(str(source), bucket.url("h"))[0].returncode == 0
    for key in ("h/../../../../../../x/", "h//y/", "h/plain/../../z/"):
        bucket.put(key, b"")
        result = run("validate", bucket.url("h"))
        assert result.returncode == 3, result.stderr
        assert "is not a plain path" in result.stderr or "would leave the repository prefix" in result.stderr
        bucket.client.delete_object(Bucket=bucket.name, Key=key)
    for name in ("x", "y", "z"):
        assert not list(tmp_path.rglob(name)), name
        assert not Path("/", name).exists() or name not in os.listdir("/")


def test_a_link_planted_in_the_local_copy_is_replaced_not_written_through(bucket, source, tmp_path):
    assert sync(str(source), bucket.url())[0].returncode == 0
    assert run("validate", bucket.url()).returncode == 0
    [copy] = [p for p in state_cache(tmp_path).iterdir() if p.is_dir()]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    os.rename(copy / "plain/1", tmp_path / "moved")
    os.symlink(outside, copy / "plain/1")  # the next download of plain/1/model.py would land in `outside`
    (copy / "plain/config.pbtxt").unlink()
    os.symlink(outside / "keep.txt", copy / "plain/config.pbtxt")
    bucket.put("models/plain/1/model.py", python_model().encode() + b"\n# changed\n")
    assert run("validate", bucket.url()).returncode == 0
    assert sorted(os.listdir(outside)) == ["keep.txt"] and (outside / "keep.txt").read_text() == "mine"
    assert not (copy / "plain/1").is_symlink() and not (copy / "plain/config.pbtxt").is_symlink()
    assert (copy / "plain/1/model.py").read_bytes().endswith(b"# changed\n")


def test_a_bucket_root_and_a_prefix_named_like_its_cache_folder_do_not_share_a_copy(bucket, source, tmp_path):
    assert sync(str(source), bucket.url("_root"))[0].returncode == 0
    only = write_tree(tmp_path / "only", {"solo/config.pbtxt": 'backend: "python"\n',
                                          "solo/1/model.py": python_model()})
    other = f"s3://{bucket.name}-b"
    bucket.client.create_bucket(Bucket=f"{bucket.name}-b")
    assert sync(str(only), other)[0].returncode == 0
    assert sync(str(only), f"{other}/_root")[0].returncode == 0
    first = run("validate", other, "-f", "json")
    assert json.loads(first.stdout)["summary"]["models"] == 2  # solo and _root (a folder of the root repository)
    under = run("validate", f"{other}/_root", "-f", "json")
    assert json.loads(under.stdout)["summary"]["models"] == 1, under.stdout
    assert len([p for p in state_cache(tmp_path).iterdir() if p.is_dir()]) == 2  # one local copy each


def test_forged_metadata_and_manifest_do_not_hide_a_changed_file(bucket, source):
    url = bucket.url()
    assert sync(str(source), url)[0].returncode == 0
    key = "models/weighted/1/weights.bin"
    forged = bytes(reversed(WEIGHTS))  # same size, other bytes
    real_sha = hashlib.sha256(WEIGHTS).hexdigest()
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=forged, Metadata={"sha256": real_sha})
    doc = json.loads(bucket.keys()["models/.tritonctl-manifest.json"])
    head = bucket.client.head_object(Bucket=bucket.name, Key=key)
    doc["files"]["weighted/1/weights.bin"]["etag"] = head["ETag"]  # a manifest that agrees with the listing
    bucket.put("models/.tritonctl-manifest.json", json.dumps(doc).encode())
    result, plan = sync(str(source), url)
    assert result.returncode == 0, result.stderr
    assert [(c["action"], c["path"]) for c in plan["changes"]] == [("upload", "weighted/1/weights.bin")]
    assert bucket.keys(key)[key] == WEIGHTS
    again, plan = sync(str(source), url)
    assert plan["changes"] == []
    assert run("validate", url).returncode == 0


def _paused_sync(src: str, dst: str, tmp_path: Path, files: int = 1) -> subprocess.Popen:
    marker = tmp_path / f"paused-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "sync", src, dst],
                            env={**os.environ, "TRITONCTL_TEST_PAUSE_AFTER_FILES": str(files),
                                 "TRITONCTL_TEST_PAUSE_MARKER": str(marker)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return proc


def test_a_second_sync_to_one_prefix_refuses_naming_the_first_and_nothing_is_corrupted(bucket, source, tmp_path):
    url = bucket.url()
    assert sync(str(source), url)[0].returncode == 0
    other = write_tree(tmp_path / "other", {"weighted/config.pbtxt": (source / "weighted/config.pbtxt").read_text(),
                                            "weighted/2/model.py": python_model(),
                                            "weighted/2/weights.bin": os.urandom(len(WEIGHTS))})
    write_tree(source, {"weighted/2/model.py": python_model(), "weighted/2/weights.bin": WEIGHTS[::-1]})
    first = _paused_sync(str(source), url, tmp_path)
    try:
        second, _ = sync(str(other), url)
        assert second.returncode == 3, second.stderr
        assert f"is being written by another sync: tritonctl sync {source} {url} (pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    again, _ = sync(str(source), url)  # the holder ran here and is gone: its lease is taken over
    assert again.returncode == 0, again.stderr
    keys = bucket.keys("models/")
    assert keys["models/weighted/2/weights.bin"] == WEIGHTS[::-1]
    noop, plan = sync(str(source), url)
    assert plan["changes"] == [] and run("validate", url).returncode == 0


def test_a_lease_held_elsewhere_is_broken_only_on_request(bucket, source):
    url = bucket.url()
    lease = {"owner": "other:1:x", "host": "build-7", "pid": 4242, "command": "tritonctl sync ci/ s3://x",
             "expires": time.time() + 600}
    bucket.put("models/.tritonctl-lease.json", json.dumps(lease).encode())
    held, _ = sync(str(source), url)
    assert held.returncode == 3 and "(pid 4242 on build-7" in held.stderr and "--break-lock" in held.stderr
    broken, _ = sync(str(source), url, "--break-lock")
    assert broken.returncode == 0, broken.stderr
    assert "models/.tritonctl-lease.json" not in bucket.keys()  # released at the end


def test_an_endpoint_without_conditional_writes_gives_an_advisory_lease_and_says_so(bucket, source):
    host, port = bucket.endpoint.removeprefix("http://").split(":")
    proxy = S3Proxy(host, int(port))
    proxy.ignore_conditions = True
    try:
        result, doc = sync(str(source), bucket.url(), "--endpoint-url", proxy.url)
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    assert any("ignores conditional writes" in w and "advisory" in w for w in doc["warnings"])


@pytest.fixture
def silent_endpoint():
    """An endpoint that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_endpoint_is_one_line_within_the_timeout(bucket, source, silent_endpoint):
    for args, env in ((["sync", str(source), bucket.url(), "--timeout", "2"], {}),
                      (["validate", bucket.url()], {"TRITONCTL_S3_TIMEOUT": "2"})):
        started = time.monotonic()
        result = run(*args, "--endpoint-url", silent_endpoint, env=env)
        assert result.returncode == 3, result.stderr
        assert time.monotonic() - started < 15, result.stderr
        assert "no answer from the S3 endpoint" in result.stderr and len(result.stderr.splitlines()) <= 2
