"""A process known by what it is, not by its pid alone.

A pid names another process once its own has ended (after a reboot, or when pids wrap), so a pid read from a
state file is trusted only while the process behind it still has the same start time (field 22 of
`/proc/PID/stat`, clock ticks since boot), the same boot (`/proc/sys/kernel/random/boot_id`) and the same
executable (`/proc/PID/exe`). Pids 0 and 1, and negative ones, are never signalled: `kill(0)` reaches the
caller's own process group, `kill(-1)` every process the caller may signal.
"""

from __future__ import annotations

import os
import signal as signals
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    start_ticks: int
    boot_id: str
    exe: str  # the executable's real path; "" when /proc does not tell


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def identify(pid: int, exe: str | None = None) -> ProcessIdentity | None:
    """The identity of the live process `pid` (None when there is none, it is a zombie, or pid <= 1).
    `exe` overrides the executable read from /proc: a process about to exec another program records that one."""
    if pid <= 1:
        return None
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    if exe is None:
        try:
            exe = os.path.realpath(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            exe = ""
    return ProcessIdentity(pid, int(fields[19]), _boot_id(), exe)


def is_running(identity: ProcessIdentity) -> bool:
    """Whether the process `identity` names is still the one running under its pid."""
    now = identify(identity.pid, exe=None if identity.exe else "")
    if now is None:
        return False
    same_exe = not identity.exe or not now.exe or now.exe == identity.exe
    return now.start_ticks == identity.start_ticks and now.boot_id == identity.boot_id and same_exe


def send(identity: ProcessIdentity, sig: int = signals.SIGTERM) -> bool:
    """Signal the process `identity` names, only if it is still that process; False when it is not."""
    if identity.pid <= 1 or not is_running(identity):
        return False
    try:
        os.kill(identity.pid, sig)
    except ProcessLookupError:
        return False
    return True
