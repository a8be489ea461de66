"""One writer per S3 repository at a time: a lease object at the prefix root.

`.tritonctl-lease.json` names its holder (host, pid, command) and when it expires. A sync takes it with a
conditional put (If-None-Match: *), renews it while it writes (If-Match: the ETag it holds) and checks it before each
phase; a sync that finds a live lease refuses, naming the holder. A lease whose holder was killed expires by itself
(LEASE_SECONDS after its last renewal), is taken over at once when its holder ran on this host and is gone, or
`--break-lock` removes it. Where the endpoint ignores conditional writes
(tried once: a put If-Match an ETag no object has must fail), the lease is advisory, and said to be.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass

from tritonctl.errors import TritonctlError
from tritonctl.io.s3 import S3, S3Url

LEASE = ".tritonctl-lease.json"
LEASE_SECONDS = 120.0
RENEW_EVERY = 30.0
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'


class LeaseHeld(TritonctlError):
    """Another sync holds the destination (a guarded refusal: exit 3)."""


@dataclass(frozen=True)
class Holder:
    owner: str
    host: str
    pid: int
    command: str
    expires: float

    def dead(self) -> bool:
        """A holder on this host whose process is gone (killed: its lease is left, not held)."""
        if self.host != socket.gethostname() or self.pid <= 1:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def describe(self) -> str:
        until = time.strftime("%H:%M:%S", time.localtime(self.expires))
        return f"{self.command or 'a tritonctl sync'} (pid {self.pid} on {self.host}; the lease expires at {until})"


def _holder(data: bytes) -> Holder | None:
    try:
        doc = json.loads(data)
        return Holder(str(doc["owner"]), str(doc.get("host", "?")), int(doc.get("pid", 0)),
                      str(doc.get("command", "")), float(doc["expires"]))
    except (ValueError, KeyError, TypeError):
        return None  # not a lease tritonctl wrote: taken as expired


class Lease:
    def __init__(self, s3: S3, url: S3Url, command: str) -> None:
        self.s3, self.url, self.command = s3, url, command
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"
        self.etag: str | None = None
        self.advisory = False
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _body(self) -> bytes:
        return json.dumps({"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                           "command": self.command, "expires": time.time() + LEASE_SECONDS}).encode()

    def acquire(self, *, break_lock: bool = False) -> None:
        if break_lock:
            self.s3.delete_one(self.url, LEASE)
        for _ in range(3):
            etag = self.s3.write_if(self.url, LEASE, self._body(), absent=True)
            if etag is not None:
                break
            found = self.s3.read_versioned(self.url, LEASE, 1 << 16)
            if found is None:
                continue  # released meanwhile
            holder = _holder(found[0])
            if holder is not None and holder.expires > time.time() and not holder.dead():
                raise LeaseHeld(f"{self.url} is being written by another sync: {holder.describe()}",
                                hint="wait for it to end; if it was killed, run again with --break-lock (or once "
                                     "the lease has expired)")
            etag = self.s3.write_if(self.url, LEASE, self._body(), etag=found[1])  # take over an expired lease
            if etag is not None:
                break
        else:
            raise LeaseHeld(f"{self.url}: another sync took the lease at the same moment",
                            hint="run the sync again")
        probe = self.s3.write_if(self.url, LEASE, self._body(), etag=_NO_SUCH_ETAG)
        if probe is not None:  # the endpoint wrote where it should have refused: conditions are ignored
            self.advisory = True
            etag = probe
        self.etag = etag
        self._thread = threading.Thread(target=self._renew_loop, name="tritonctl-lease", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            self.renew()

    def renew(self) -> None:
        with self._lock:
            if self.lost or self.etag is None:
                return
            try:
                etag = self.s3.write_if(self.url, LEASE, self._body(), etag=self.etag)
            except TritonctlError:
                return  # tried again at the next renewal; check() says when it is gone
            if etag is None:
                self.lost = "another writer replaced the lease"
            else:
                self.etag = etag

    def check(self) -> None:
        """Raise when the lease is no longer this sync's (before each phase of writes)."""
        with self._lock:  # not while a renewal is changing the ETag
            found = self.s3.read_versioned(self.url, LEASE, 1 << 16)
            if found is None or found[1] != self.etag:
                holder = _holder(found[0]) if found else None
                self.lost = self.lost or (f"{holder.describe()} holds it now" if holder else "the lease was removed")
            if self.lost:
                raise LeaseHeld(f"lost the lease on {self.url} ({self.lost}); this sync stopped before its next phase",
                                hint="run the sync again once the other one has ended")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            if self.etag is None or self.lost:
                return
            try:  # two tries each: a lease left behind expires by itself
                found = self.s3.read_versioned(self.url, LEASE, 1 << 16, attempts=2)
                if found is not None and found[1] == self.etag:
                    self.s3.delete_one(self.url, LEASE, attempts=2)
            except TritonctlError:
                pass
            self.etag = None
