"""status --watch against the real local Triton, on a pseudo-terminal: the view appears, inferences show as a rate,
q leaves it with exit 0."""

from __future__ import annotations

import os
import time

import pytest

from conftest import on_a_terminal, read_terminal

pytestmark = pytest.mark.triton


def test_status_watch_shows_rates_and_q_leaves(local_triton, cli):
    url = f"http://127.0.0.1:{local_triton['state'].http_port}"
    pid, fd = on_a_terminal(["status", "--watch", "--url", url, "text_recognition"], {"TERM": "xterm",
                                                                                       "COLUMNS": "100"})
    screen, sent_q, inferred = b"", False, 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (chunk := read_terminal(fd, 0.2)) is not None:
        screen += chunk
        text = screen.decode(errors="replace")
        if "over the last" in text and inferred < 3:
            assert cli("infer", "text_recognition", "--url", url).exit_code == 0
            inferred += 1
        if inferred >= 3 and not sent_q and text.count("over the last") >= 4:
            os.write(fd, b"q")
            sent_q = True
    _, status = os.waitpid(pid, 0)
    text = screen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text[-2000:]
    assert sent_q and "q or Ctrl-C leaves" in text and "inferences/s" in text
    rows = [line.split() for line in text.replace("\r", "\n").splitlines() if line.startswith("text_recognition")]
    assert rows and all(row[2] == "READY" for row in rows)
    assert any(row[3] not in ("-", "0.0") for row in rows), rows  # an inference in an interval shows as a rate
