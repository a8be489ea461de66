"""io/files.read_regular reads the whole file up to its cap, however the file's size changes after it was opened."""

from __future__ import annotations

import os

import pytest

from tritonctl.io import files


def test_a_file_is_read_whole_up_to_the_cap(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    assert files.read_regular(path, 10) == b"x" * 10
    path.write_bytes(b"x" * 11)
    with pytest.raises(files.TooLarge):
        files.read_regular(path, 10)


@pytest.mark.parametrize(("size", "cap", "fails"), [(100, 1000, False), (100, 100, False), (101, 100, True)])
def test_a_file_that_grew_after_it_was_opened_is_read_to_its_end_or_refused_at_the_cap(tmp_path, monkeypatch, size,
                                                                                          cap, fails):
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    real = os.fstat

    def smaller(fd):  # the size as it was when opened, before it grew to `size`
        found = real(fd)
        return os.stat_result((*found[:6], 3, *found[7:]))

    monkeypatch.setattr(files.os, "fstat", smaller)
    if fails:
        with pytest.raises(files.TooLarge):
            files.read_regular(path, cap)
    else:
        assert files.read_regular(path, cap) == path.read_bytes()
