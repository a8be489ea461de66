"""The one place tests reach into tritonctl to stop it at a chosen point (to kill it there): test-only, inert unless
its environment variables are set.

- TRITONCTL_TEST_PAUSE_AFTER_FILES=N: `sync` sleeps once it has written N files.
- TRITONCTL_TEST_PAUSE_AFTER_BYTES=N: a file copy (`version add`, `sync`) sleeps once it has copied N bytes.
- TRITONCTL_TEST_PAUSE_IN_WRITE=1: `atomic_write` sleeps with its temporary file written, before the rename.
- TRITONCTL_TEST_PAUSE_MARKER=PATH: the file written (holding the pid) when a pause begins, so a test knows.
- TRITONCTL_TEST_MULTIPART_BYTES=N: S3 uploads of N bytes and more go in parts of N - 1 MiB (S3's smallest part is
  5 MiB), so a test's files of a few MiB take several parts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

AFTER_FILES = "TRITONCTL_TEST_PAUSE_AFTER_FILES"
AFTER_BYTES = "TRITONCTL_TEST_PAUSE_AFTER_BYTES"
IN_WRITE = "TRITONCTL_TEST_PAUSE_IN_WRITE"
MARKER = "TRITONCTL_TEST_PAUSE_MARKER"
MULTIPART = "TRITONCTL_TEST_MULTIPART_BYTES"


def _number(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def pause() -> None:
    """Say so (the marker file) and sleep, to be killed there."""
    marker = os.environ.get(MARKER)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(3600)


class FileCounter:
    """Counts the files a sync writes; pauses after AFTER_FILES of them."""

    def __init__(self) -> None:
        self.after = _number(AFTER_FILES)
        self.written = 0

    def tick(self) -> None:
        self.written += 1
        if self.after is not None and self.written >= self.after:
            pause()


def bytes_before_pause() -> int | None:
    """How many bytes a copy goes before it pauses (None: it does not)."""
    return _number(AFTER_BYTES)


def in_write() -> None:
    """Where atomic_write pauses with its temporary file written."""
    if os.environ.get(IN_WRITE):
        time.sleep(3600)


def multipart() -> tuple[int, int] | None:
    """The multipart threshold and part size a test asks for (None: the real ones)."""
    threshold = _number(MULTIPART)
    return (threshold, threshold - (1 << 20)) if threshold else None
