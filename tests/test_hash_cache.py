"""The hash cache (io/hash_cache.py): digests remembered by a file's identity, and an ETag kept across a read that
finds the same bytes."""

from __future__ import annotations

import hashlib
import os

import pytest

from tritonctl.io import hash_cache
from tritonctl.io.hash_cache import HashCache, digests

THRESHOLD, CHUNK = 1024, 256  # small, so that a few KiB are a multipart upload


@pytest.fixture
def md5_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = hashlib.md5

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hash_cache.hashlib, "md5", counting)
    return calls


def cache(tmp_path) -> HashCache:
    return HashCache(tmp_path / "state" / "hashes.sqlite", etag_threshold=THRESHOLD, etag_chunk=CHUNK)


def truth(path) -> hash_cache.Digests:
    return digests(path, etag_threshold=THRESHOLD, etag_chunk=CHUNK)


def touch(path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def change_one_byte(path) -> None:
    st = path.stat()
    with open(path, "r+b") as f:  # in place: the same inode and size
        f.seek(st.st_size // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime put back: ctime still moves


@pytest.fixture(params=[100, 5000], ids=["one part", "multipart"])
def model_file(request, tmp_path):
    f = tmp_path / "model.onnx"
    f.write_bytes(os.urandom(request.param))
    return f


def test_a_touched_file_is_read_once_for_its_sha256_alone_and_keeps_its_etag(tmp_path, model_file, md5_calls):
    hashes = cache(tmp_path)
    first = hashes.digests(model_file, etag=True)
    assert first == truth(model_file) and first.etag.startswith('"')
    assert hashes.digests(model_file, etag=True) == first and hashes.hashed == 1  # nothing changed: not read
    touch(model_file)
    md5_calls.clear()
    assert hashes.digests(model_file, etag=True) == first
    assert md5_calls == [] and hashes.hashed == 2  # one read, sha256 only
    assert hashes.digests(model_file, etag=True) == first and hashes.hashed == 2  # the new identity remembered


def test_a_file_changed_in_place_gets_its_new_etag(tmp_path, model_file):
    hashes = cache(tmp_path)
    before = hashes.digests(model_file, etag=True)
    change_one_byte(model_file)
    after = hashes.digests(model_file, etag=True)
    assert after == truth(model_file) and after.sha256 != before.sha256 and after.etag != before.etag
    assert hashes.hashed == 3  # the sha256 read found new bytes; a second read for the ETag
    assert hashes.digests(model_file, etag=True) == after and hashes.hashed == 3


def test_a_sha256_only_read_of_unchanged_bytes_keeps_the_etag_for_the_next_upload(tmp_path, model_file, md5_calls):
    hashes = cache(tmp_path)
    first = hashes.digests(model_file, etag=True)
    touch(model_file)
    assert hashes.sha256(model_file) == first.sha256 and hashes.hashed == 2  # e.g. a sync to a folder
    md5_calls.clear()
    assert hashes.etag(model_file) == first.etag and md5_calls == [] and hashes.hashed == 2


def test_another_size_or_a_different_part_size_is_hashed_whole(tmp_path, model_file):
    hashes = cache(tmp_path)
    hashes.digests(model_file, etag=True)
    model_file.write_bytes(model_file.read_bytes() + b"x")  # same inode, another size
    assert hashes.digests(model_file, etag=True) == truth(model_file) and hashes.hashed == 2
    touch(model_file)
    other = HashCache(tmp_path / "state" / "hashes.sqlite", etag_threshold=THRESHOLD, etag_chunk=CHUNK * 2)
    found = other.digests(model_file, etag=True)
    assert found == digests(model_file, etag_threshold=THRESHOLD, etag_chunk=CHUNK * 2) and other.hashed == 1


def test_many_files_at_once_hits_misses_and_changes_each_get_their_own_digests(tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    paths = []
    for i in range(900):  # more than one query's worth of keys
        paths.append(folder / f"f{i}")
        paths[-1].write_bytes(os.urandom(1 + i * 7 % 3000))
    hashes = cache(tmp_path)
    assert hashes.digests_of(paths[:450], etag=True, jobs=4) == [truth(p) for p in paths[:450]]
    for p in paths[::3]:
        touch(p)
    for p in paths[1::3]:
        change_one_byte(p)
    hashes.hashed = 0
    assert hashes.digests_of(paths, etag=True, jobs=4) == [truth(p) for p in paths]
    known = range(450)
    expected = sum(1 for i in known if i % 3 == 0) + 2 * sum(1 for i in known if i % 3 == 1) + 450
    assert hashes.hashed == expected
    again = HashCache(tmp_path / "state" / "hashes.sqlite", etag_threshold=THRESHOLD, etag_chunk=CHUNK)
    assert again.digests_of(paths, etag=True, jobs=4) == [truth(p) for p in paths] and again.hashed == 0
