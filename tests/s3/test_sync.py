"""tritonctl sync against a real S3 endpoint (moto on loopback), counted at the wire by a proxy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_tree
from json_schemas import check
from s3.conftest import CREDENTIALS, model_tree, python_model, run
from s3_proxy import S3Proxy

pytestmark = pytest.mark.s3

WEIGHTS = os.urandom(3 << 20)


@pytest.fixture
def proxy(bucket):
    host, port = bucket.endpoint.removeprefix("http://").split(":")
    p = S3Proxy(host, int(port))
    yield p
    p.stop()


@pytest.fixture
def source(tmp_path) -> Path:
    """Two models: one python model with weights in each version, one with a single file per version."""
    root = model_tree(tmp_path / "src", "weighted", {1: {"model.py": python_model(), "weights.bin": WEIGHTS},
                                                     2: {"model.py": python_model(), "weights.bin": WEIGHTS[::-1]}})
    model_tree(root, "plain", {1: {"model.py": python_model()}})
    return root


def sync(*args: str, cli=None, env: dict | None = None):
    result = run("sync", *args, "-f", "json", env=env)
    doc = json.loads(result.stdout) if result.stdout.startswith("{") else None
    return result, doc


def test_by_content_initial_noop_touched_and_one_byte_changed(bucket, proxy, source):
    url = bucket.url()
    first, doc = sync(str(source), url, "--endpoint-url", proxy.url)
    assert first.returncode == 0, first.stderr
    check(doc, "sync")
    assert doc["summary"]["uploaded"] == 7 and doc["summary"]["unchanged"] == 0
    assert set(bucket.keys("models/")) == {f"models/{k}" for k in (
        "weighted/config.pbtxt", "weighted/1/model.py", "weighted/1/weights.bin", "weighted/2/model.py",
        "weighted/2/weights.bin", "plain/config.pbtxt", "plain/1/model.py", ".tritonctl-manifest.json")}
    proxy.stats.reset()
    again, doc = sync(str(source), url, "--endpoint-url", proxy.url)
    assert again.returncode == 0 and doc["summary"]["uploaded"] == doc["summary"]["copied"] == 0
    assert (proxy.stats.writes, proxy.stats.body_bytes) == (0, 0)  # nothing to do writes nothing, the manifest neither
    for path in source.rglob("*"):
        os.utime(path)  # every mtime newer: aws s3 sync sends everything again
    proxy.stats.reset()
    touched, doc = sync(str(source), url, "--endpoint-url", proxy.url)
    assert touched.returncode == 0 and doc["summary"]["uploaded"] == 0
    assert (proxy.stats.writes, proxy.stats.body_bytes) == (0, 0)
    weights = source / "weighted/2/weights.bin"
    before = weights.stat()
    data = bytearray(weights.read_bytes())
    data[1000] ^= 0xFF  # same size, and the mtime put back: only the content tells
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    proxy.stats.reset()
    changed, doc = sync(str(source), url, "--endpoint-url", proxy.url)
    assert changed.returncode == 0
    assert [(c["action"], c["path"]) for c in doc["changes"]] == [("upload", "weighted/2/weights.bin")]
    assert bucket.keys("models/weighted/2/weights.bin")["models/weighted/2/weights.bin"] == bytes(data)
    assert proxy.stats.body_bytes < len(data) + 64 << 10  # that file and the manifest


def test_a_manifest_that_disagrees_with_the_objects_is_not_trusted(bucket, source):
    url = bucket.url()
    assert sync(str(source), url)[0].returncode == 0
    tampered = bytes(reversed(WEIGHTS))  # same size, other bytes, written by another tool (no tritonctl metadata)
    bucket.put("models/weighted/1/weights.bin", tampered)
    result, doc = sync(str(source), url)
    assert result.returncode == 0
    assert [(c["action"], c["path"], c["reason"]) for c in doc["changes"]] == [
        ("upload", "weighted/1/weights.bin", "changed")]
    assert bucket.keys("models/weighted/1/weights.bin")["models/weighted/1/weights.bin"] == WEIGHTS


def _appearances(log: list, in_place: str) -> list[tuple[str, str]]:
    """(request, key below the repository) for each request of a proxy log that makes an object appear or go: a plain
    PUT, a completed multipart upload, a batch delete. A part or a started upload changes nothing anyone reads."""
    out = []
    for method, path in log:
        key = path.split("?")[0].split(in_place, 1)[-1] if in_place in path else None
        if method == "PUT" and key is not None and "partNumber=" not in path and ".tritonctl-lease" not in key:
            out.append(("put", key))
        elif method == "POST" and key is not None and "uploadId=" in path:
            out.append(("complete", key))
        elif method == "POST" and path.endswith("?delete="):
            out.append(("delete", ""))
    return out


def test_order_other_files_then_model_files_then_configs_then_deletions(bucket, proxy, source):
    url = bucket.url()
    bucket.put("models/gone/config.pbtxt", b'backend: "python"\n')
    bucket.put("models/gone/1/model.py", b"")
    big = os.urandom(13 << 20)  # three parts under the test's threshold
    model_tree(source, "tokens", {1: {"model.py": python_model(), "vocab.txt": "a b c", "weights.bin": WEIGHTS,
                                      "big.bin": big}})
    proxy.stats.reset()
    refused, _ = sync(str(source), url, "--endpoint-url", proxy.url, "--delete")  # objects tritonctl did not write
    assert refused.returncode == 1 and "hint: take it over with --adopt" in refused.stderr
    assert proxy.stats.writes == 0
    result, doc = sync(str(source), url, "--endpoint-url", proxy.url, "--delete", "--adopt",
                       env={"TRITONCTL_TEST_MULTIPART_BYTES": str(6 << 20)})
    assert result.returncode == 0, result.stderr
    in_place = f"/{bucket.name}/models/"
    log = proxy.stats.log
    parts = [i for i, (m, p) in enumerate(log) if m == "PUT" and "partNumber=" in p]
    assert len([i for i in parts if "/tokens/1/big.bin?" in log[i][1]]) == 3
    assert len([i for i in parts if "/tokens/1/vocab.txt?" in log[i][1]]) == 1  # staged behind the version's lead
    seen = _appearances(log, in_place)
    order = [key for _, key in seen if key and not key.startswith(".tritonctl-manifest")]
    assert seen[0][1] == ".tritonctl-manifest.json"  # the journal first: versions and uploads in flight
    first_of_tokens = min(i for i, (_m, p) in enumerate(log) if in_place + "tokens/" in p and "partNumber=" not in p
                          and "uploads=" not in p)
    assert max(parts) < first_of_tokens  # every byte of the version is up before any of it appears
    assert order.index("tokens/1/weights.bin") < min(order.index("tokens/1/vocab.txt"),  # the lead, by a plain PUT
                                                       order.index("tokens/1/big.bin"))
    assert ("complete", "tokens/1/big.bin") in seen and ("complete", "tokens/1/vocab.txt") in seen
    for version in ("weighted/1", "weighted/2", "tokens/1"):  # each version's model file after its other files
        others = [i for i, p in enumerate(order) if p.startswith(version + "/") and not p.endswith("/model.py")]
        assert max(others) < order.index(f"{version}/model.py")
    for model in ("weighted", "plain", "tokens"):  # each config after everything of its model
        assert max(i for i, p in enumerate(order) if p.startswith(model + "/") and not p.endswith("config.pbtxt")) < \
            order.index(f"{model}/config.pbtxt")
    deletes = [i for i, (kind, _key) in enumerate(seen) if kind == "delete"]
    configs = [i for i, (_kind, key) in enumerate(seen) if key.endswith("config.pbtxt")]
    assert deletes and deletes[0] > max(configs)
    assert not any(k.startswith("models/gone/") for k in bucket.keys("models/"))
    assert bucket.keys("models/tokens/1/big.bin")["models/tokens/1/big.bin"] == big
    manifest = json.loads(bucket.keys("models/.tritonctl-manifest.json")["models/.tritonctl-manifest.json"])
    assert manifest["pending"] == [] and manifest["uploads"] == {}
    assert all(entry["verified"] for entry in manifest["files"].values())
    again, doc = sync(str(source), url, "--endpoint-url", proxy.url, env={"TRITONCTL_TEST_MULTIPART_BYTES":
                                                                         str(6 << 20)})
    assert again.returncode == 0 and doc["summary"]["uploaded"] == 0  # the multipart ETags are known by content


def test_dry_run_changes_nothing_and_model_limits_the_sync(bucket, proxy, source):
    url = bucket.url()
    result, doc = sync(str(source), url, "--endpoint-url", proxy.url, "--dry-run")
    assert result.returncode == 0 and doc["dry_run"] is True and doc["summary"]["uploaded"] == 7
    assert proxy.stats.writes == 0 and bucket.keys("models/") == {}
    only, doc = sync(str(source), url, "--model", "plain")
    assert only.returncode == 0 and {c["path"].split("/")[0] for c in doc["changes"]} == {"plain"}
    bucket.put("models/other/config.pbtxt", b"")
    kept, doc = sync(str(source), url, "--model", "plain", "--delete")
    assert "models/other/config.pbtxt" in bucket.keys("models/")  # --delete stays within the named models


def test_s3_to_local_local_to_local_and_s3_to_s3(bucket, source, tmp_path):
    assert sync(str(source), bucket.url())[0].returncode == 0
    down, doc = sync(bucket.url(), str(tmp_path / "down"))
    assert down.returncode == 0, down.stderr
    assert doc["source"] == bucket.url()
    for path in source.rglob("*"):
        if path.is_file():
            assert (tmp_path / "down" / path.relative_to(source)).read_bytes() == path.read_bytes()
    assert not list(tmp_path.glob(".down.tritonctl-work*"))  # the work folder goes away
    local, _ = sync(str(tmp_path / "down"), str(tmp_path / "copy"))
    assert local.returncode == 0
    other, doc = sync(bucket.url(), bucket.url("mirror"))
    assert other.returncode == 0, other.stderr
    assert doc["summary"]["copied"] + doc["summary"]["uploaded"] == 7


def test_a_source_validate_refuses_is_not_published(bucket, source):
    (source / "plain/config.pbtxt").write_text('backend: "python"\nmax_batch_size: -1\n')
    refused, _ = sync(str(source), bucket.url())
    assert refused.returncode == 1
    assert "error TRT106" in refused.stderr
    assert refused.stderr.rstrip().endswith("hint: fix them, or sync anyway with --no-validate")
    assert bucket.keys("models/") == {}
    forced, _ = sync(str(source), bucket.url(), "--no-validate")
    assert forced.returncode == 0


@pytest.mark.parametrize("case", ["unknown bucket", "endpoint down", "wrong credentials", "not a repository",
                                  "destination is a file", "same folder", "nested", "bad url"])
def test_bad_input_is_one_line_and_exit_3(bucket, proxy, source, tmp_path, case):
    args = {
        "unknown bucket": [str(source), "s3://no-such-bucket-here/x"],
        "endpoint down": [str(source), bucket.url(), "--endpoint-url", "http://127.0.0.1:9"],
        "wrong credentials": [str(source), bucket.url(), "--endpoint-url", proxy.url],
        "not a repository": [str(write_tree(tmp_path / "notes", {"readme.txt": "x"})), bucket.url()],
        "destination is a file": [str(source), str(write_tree(tmp_path / "f", {"x": "y"}) / "x")],
        "same folder": [str(source), str(source)],
        "nested": [str(source), str(source / "plain" / "copy")],
        "bad url": [str(source), "s3://http://127.0.0.1:9/b/p"],
    }[case]
    proxy.refuse("testing")
    started = time.monotonic()
    result = run("sync", *args)
    assert result.returncode == (2 if case == "bad url" else 3), result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) <= 2, result.stderr
    assert "Traceback" not in result.stderr and CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in result.stderr
    assert time.monotonic() - started < 40


def test_credentials_never_appear_even_under_debug(bucket, proxy, source):
    proxy.refuse("testing")
    result = run("sync", str(source), bucket.url(), "--endpoint-url", proxy.url, env={"TRITONCTL_DEBUG": "1"})
    assert result.returncode == 3
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in result.stdout + result.stderr
    assert "refused the credentials (" in result.stderr


def test_keys_and_links_that_leave_the_repository_are_refused(bucket, source, tmp_path):
    bucket.put("models/plain/../../escape.txt", b"x")
    result = run("sync", bucket.url(), str(tmp_path / "down"))
    assert result.returncode == 3 and "would leave the repository prefix" in result.stderr
    assert not (tmp_path / "escape.txt").exists()
    assert run("validate", bucket.url()).returncode == 3
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"secret")
    os.symlink(outside, source / "plain/1/leak.bin")
    linked = run("sync", str(source), bucket.url("other"))
    assert linked.returncode == 3 and f"'{source}/plain/1/leak.bin' is a symbolic link" in linked.stderr
    (source / "plain/1/leak.bin").unlink()
    os.symlink("../../weighted/1/weights.bin", source / "plain/1/shared.bin")  # inside the repository: followed
    inside, doc = sync(str(source), bucket.url("other"))
    assert inside.returncode == 0, inside.stderr
    assert bucket.keys("other/plain/1/shared.bin")["other/plain/1/shared.bin"] == WEIGHTS


def test_commands_that_write_refuse_an_s3_repository(bucket, tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"x")
    for args in (["version", "add", "m", str(tmp_path / "m.onnx"), "-r", bucket.url()],
                 ["version", "rm", "m", "1", "-r", bucket.url()],
                 ["policy", "set", "m", "all", "-r", bucket.url()],
                 ["config", "init", "new", "-r", bucket.url()],
                 ["config", "generate", bucket.url() + "/m/1/model.onnx", "--write"],
                 ["export", "str", "--random-weights", "-r", bucket.url()]):
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "S3 repositories are read-only here" in result.stderr
        assert f"hint: edit a local copy, then publish it: tritonctl sync LOCAL_COPY {bucket.url()}" in result.stderr


def sync_killed_after(files: int, src: str, dst: str, tmp_path: Path, env: dict | None = None) -> None:
    """`tritonctl sync SRC DST` killed with SIGKILL once it has copied `files` files (a test-only pause)."""
    marker = tmp_path / "paused"
    proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "sync", src, dst],
                            env={**os.environ, "TRITONCTL_TEST_PAUSE_AFTER_FILES": str(files),
                                 "TRITONCTL_TEST_PAUSE_MARKER": str(marker), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


VERSION_3 = {"weighted/3/model.py": python_model(), "weighted/3/weights.bin": WEIGHTS[:1000],
             "weighted/3/vocab.txt": "a b c"}  # its lead (the larger other file), a staged file, its model file


def _uploads_under(bucket, prefix: str) -> list[str]:
    return [u["Key"] for u in bucket.client.list_multipart_uploads(Bucket=bucket.name, Prefix=prefix)
            .get("Uploads", [])]


def test_killed_while_uploading_a_version_nothing_of_it_is_in_the_repository(bucket, source, tmp_path):
    url = bucket.url()
    assert sync(str(source), url)[0].returncode == 0
    write_tree(source, VERSION_3)
    sync_killed_after(1, str(source), url, tmp_path)  # vocab.txt's bytes uploaded, not completed
    keys = bucket.keys("models/")
    assert not any(k.startswith("models/weighted/3/") for k in keys)  # a polling Triton sees no version 3 at all
    journal = json.loads(keys["models/.tritonctl-manifest.json"])
    assert journal["pending"] == ["weighted/3"] and list(journal["uploads"]) == ["weighted/3/vocab.txt"]
    assert _uploads_under(bucket, "models/") == ["models/weighted/3/vocab.txt"]
    report = run("validate", url, "-f", "json")  # nothing of it there: nothing unfinished to say
    assert report.returncode == 0 and json.loads(report.stdout)["findings"] == [], report.stdout
    again, doc = sync(str(source), url, "--break-lock")
    assert again.returncode == 0, again.stderr
    assert _uploads_under(bucket, "models/") == []  # the killed sync's upload is aborted, the new one completed
    finished = bucket.keys("models/")
    assert finished["models/weighted/3/model.py"] == python_model().encode()
    assert finished["models/weighted/3/vocab.txt"] == b"a b c"
    journal = json.loads(finished["models/.tritonctl-manifest.json"])
    assert journal["pending"] == [] and journal["uploads"] == {}


def test_killed_while_placing_a_version_it_is_unfinished_not_broken_and_the_next_run_finishes_it(bucket, source,
                                                                                                   tmp_path):
    url = bucket.url()
    assert sync(str(source), url)[0].returncode == 0
    write_tree(source, VERSION_3)
    sync_killed_after(2, str(source), url, tmp_path)  # the lead in place, vocab.txt not completed, no model file
    keys = bucket.keys("models/")
    journal = json.loads(keys["models/.tritonctl-manifest.json"])
    assert journal["pending"] == ["weighted/3"]
    assert "models/weighted/3/weights.bin" in keys and "models/weighted/3/model.py" not in keys
    assert "models/weighted/3/vocab.txt" not in keys
    report = run("validate", url, "-f", "json")
    assert report.returncode == 0, report.stderr
    assert [(f["code"], f["path"]) for f in json.loads(report.stdout)["findings"]] == [
        ("TRT411", f"{url}/weighted/3")]
    again, doc = sync(str(source), url)  # the killed holder ran here and is gone: its lease is taken over
    assert again.returncode == 0, again.stderr
    finished = bucket.keys("models/")
    assert json.loads(finished["models/.tritonctl-manifest.json"])["pending"] == []
    assert finished["models/weighted/3/model.py"] == python_model().encode()
    assert _uploads_under(bucket, "models/") == []
    assert run("validate", url, "-f", "json").stdout.count('"code"') == 0


def test_a_local_sync_killed_midway_leaves_no_version_half_there(source, tmp_path):
    dst = tmp_path / "dst"
    sync_killed_after(3, str(source), str(dst), tmp_path, {"TRITONCTL_STATE_DIR": str(tmp_path / "state")})
    for version in dst.glob("*/*"):  # whatever is in place is whole
        if version.is_dir():
            assert (version / "model.py").exists(), version
    again = run("sync", str(source), str(dst), env={"TRITONCTL_STATE_DIR": str(tmp_path / "state")})
    assert again.returncode == 0, again.stderr
    assert run("validate", str(dst)).returncode == 0
    assert not (tmp_path / ".dst.tritonctl-work").exists()


def _same_content(bucket, source: Path, prefix: str = "models") -> None:
    keys = bucket.keys(prefix + "/")
    for path in source.rglob("*"):
        if path.is_file():
            assert keys[f"{prefix}/{path.relative_to(source)}"] == path.read_bytes(), path


def test_throttling_and_a_connection_dropped_mid_upload_are_retried(bucket, proxy, source):
    proxy.fail("503", when=lambda method, path: method == "PUT", times=3)
    proxy.fail("drop", when=lambda method, path: method == "PUT" and "weights.bin" in path, times=1)
    result, doc = sync(str(source), bucket.url(), "--endpoint-url", proxy.url)
    assert result.returncode == 0, result.stderr
    assert dict(proxy.injected) == {"503": 3, "drop": 1}
    _same_content(bucket, source)


def test_an_endpoint_that_goes_away_midway_leaves_a_consistent_destination(bucket, proxy, source):
    proxy.fail("down", when=lambda method, path: method == "PUT" and "weights.bin" in path, times=1)
    started = time.monotonic()
    result, _ = sync(str(source), bucket.url(), "--endpoint-url", proxy.url)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("error: ") and "no answer from the S3 endpoint" in result.stderr
    assert time.monotonic() - started < 60
    keys = bucket.keys("models/")
    for key in keys:  # a version whose model file is there has all its files: none can load half
        if key.endswith("/model.py"):
            folder = source / key.removeprefix("models/").rsplit("/", 1)[0]
            assert all(f"models/{p.relative_to(source)}" in keys for p in folder.iterdir()), key
    proxy.up()
    again, _ = sync(str(source), bucket.url(), "--endpoint-url", proxy.url)
    assert again.returncode == 0, again.stderr
    _same_content(bucket, source)
