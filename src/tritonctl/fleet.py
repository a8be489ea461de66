"""Several Tritons driven and watched as one fleet: replicas behind a load balancer (a Kubernetes Deployment, Triton's
Helm chart, KServe), each in EXPLICIT mode, usually reading one repository in S3.

`fleet_status` asks every replica at once what it serves and lines them up per model and version: how many serve a
version READY, which disagree with the disk policy or with each other, which run another Triton or another
repository, which cannot be reached. `rollout` applies a load, an unload or a policy to the replicas a few at a time,
each behind a health gate; the first failure stops it and returns that replica to what it served before. tritonctl
builds no orchestrator: it drives the replicas something else runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tritonctl.errors import RolloutInterrupted, ServerRejected, ServerUnreachable, TritonctlError
from tritonctl.io.triton_client import Endpoint, TritonClient

T = TypeVar("T")
R = TypeVar("R")

# ---- status --------------------------------------------------------------------------------------------------------


@dataclass
class Replica:
    url: str  # as shown: the URL, with the name it was resolved from
    reachable: bool
    error: str | None = None
    triton_version: str | None = None
    report: object = None  # its status.StatusReport
    models: list[str] = field(default_factory=list)  # its repository's model index, by name
    configs: dict[str, str] = field(default_factory=dict)  # loaded model -> digest of the config it serves


@dataclass
class FleetVersion:
    version: int
    ready: list[str]  # replicas serving it READY
    not_ready: dict[str, str]  # replica -> its state there ("-" when it has none)
    drift: dict[str, list[str]]  # replica -> drift against the disk config


@dataclass
class FleetModel:
    name: str
    policy: str | None
    versions: list[FleetVersion]
    configs_differ: list[str] = field(default_factory=list)  # replicas serving another config than the most common
    drift: dict[str, list[str]] = field(default_factory=dict)  # replica -> model-level drift (served config)


@dataclass
class FleetStatus:
    replicas: list[Replica]
    models: list[FleetModel]
    repository: str | None
    notes: list[str] = field(default_factory=list)  # replicas on another Triton version or repository

    @property
    def reachable(self) -> list[Replica]:
        return [r for r in self.replicas if r.reachable]


def _digest(config: dict) -> str:
    """What tells replicas' served configs apart: the config as status compares it with the disk (no policy: the
    versions served are compared one by one)."""
    import hashlib

    from tritonctl.status import comparable

    return hashlib.sha256(json.dumps(comparable(config), sort_keys=True).encode()).hexdigest()[:12]


def _ask(endpoint: Endpoint, repo: Path | None, model: str | None, disk: dict) -> Replica:
    from tritonctl.status import status

    try:
        report = status(endpoint, repo, model, disk, served_configs=True)  # one connection, each answer read once
    except TritonctlError as e:
        return Replica(endpoint.label, False, error=e.message)
    configs = {m.name: _digest(m.served_config) for m in report.models if m.served_config is not None}
    return Replica(endpoint.label, True, triton_version=report.server_version, report=report, models=report.indexed,
                   configs=configs)


@dataclass(frozen=True)
class WatchReplica:
    url: str  # as shown
    rates: list  # status.Rate per model and version, in the report's order
    error: str | None = None  # it did not answer (or has no such model): the reason


@dataclass(frozen=True)
class WatchFrame:
    replicas: list[WatchReplica]
    seconds: float  # since the previous reading; 0 for the first


def watch(endpoints: list[Endpoint], repo: Path | None, model: str | None = None,
          clock: Callable[[], float] = time.monotonic) -> Iterator[WatchFrame]:
    """A reading of every server each time the caller asks for the next frame: what each version did since the
    previous one (status.rates), the servers asked in parallel, the repository read once. Never ends by itself."""
    from tritonctl.status import disk_models, rates, status

    disk = disk_models(repo, model)
    previous: dict[str, object] = {}
    last: float | None = None

    def read(endpoint: Endpoint):
        try:
            return status(endpoint, repo, model, disk), None
        except TritonctlError as e:
            return None, e.message

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(32, max(1, len(endpoints)))) as pool:
        while True:
            now = clock()
            answers = list(pool.map(read, endpoints))
            seconds = now - last if last is not None else 0.0
            replicas = []
            for endpoint, (report, error) in zip(endpoints, answers, strict=True):
                if report is None:
                    previous.pop(endpoint.label, None)
                    replicas.append(WatchReplica(endpoint.label, [], error))
                    continue
                replicas.append(WatchReplica(endpoint.label, rates(previous.get(endpoint.label), report, seconds)))
                previous[endpoint.label] = report
            last = now
            yield WatchFrame(replicas, seconds)


def fleet_status(endpoints: list[Endpoint], repo: Path | None, model: str | None = None) -> FleetStatus:
    """Every replica's status, asked in parallel, lined up per model and version."""
    from tritonctl.status import disk_models

    disk = disk_models(repo, model)  # once, for every replica
    replicas = _each(lambda e: _ask(e, repo, model, disk), endpoints)
    reachable = [r for r in replicas if r.reachable]
    if model is not None and reachable and not any(any(m.name == model for m in r.report.models) for r in reachable):
        raise TritonctlError(f"no model '{model}' on any replica or in the repository")
    names = sorted({m.name for r in reachable for m in r.report.models})
    models = []
    for name in names:
        per = {r.url: next((m for m in r.report.models if m.name == name), None) for r in reachable}
        numbers = sorted({v.version for m in per.values() if m for v in m.versions})
        versions = []
        for number in numbers:
            fv = FleetVersion(number, [], {}, {})
            for url, m in per.items():
                v = next((v for v in m.versions if v.version == number), None) if m else None
                if v is not None and v.state == "READY":
                    fv.ready.append(url)
                else:
                    fv.not_ready[url] = (v.state or "-") if v is not None else "-"
                if v is not None and v.drift:
                    fv.drift[url] = list(v.drift)
            versions.append(fv)
        digests = {r.url: r.configs[name] for r in reachable if name in r.configs}
        common = max(set(digests.values()), key=list(digests.values()).count) if digests else None
        policy = next((m.policy for m in per.values() if m is not None and m.policy), None)
        models.append(FleetModel(name, policy, versions, sorted(u for u, d in digests.items() if d != common),
                                 {u: list(m.drift) for u, m in per.items() if m is not None and m.drift}))
    return FleetStatus(replicas, models, str(repo) if repo else None, _notes(reachable))


def _each(fn: Callable[[T], R], items: Sequence[T], most: int = 32) -> list[R]:
    """fn(item) for every item, `most` threads at a time, the results in order; the first exception is raised
    after every thread has ended. Plain threads: concurrent.futures, with the logging it imports, adds 4-5 ms to
    the start of `status` over a fleet, whose fan-out to 10 replicas costs about 10 ms (benchmarks/fleet.py)."""
    import threading

    results: list = [None] * len(items)
    errors: list[BaseException] = []
    indexes = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                i = next(indexes, None)
            if i is None or errors:
                return
            try:
                results[i] = fn(items[i])
            except BaseException as e:  # noqa: BLE001 - raised in the caller's thread below
                errors.append(e)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(most, len(items)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _notes(reachable: list[Replica]) -> list[str]:
    notes = []
    if not reachable:
        return notes
    versions = {r.url: r.triton_version for r in reachable}
    common = max(set(versions.values()), key=list(versions.values()).count)
    notes += [f"{url} runs Triton {v}; the others {common}" for url, v in versions.items() if v != common]
    indexes = {r.url: tuple(r.models) for r in reachable}
    usual = max(set(indexes.values()), key=list(indexes.values()).count)
    for url, index in indexes.items():
        if index != usual:
            extra, missing = sorted(set(index) - set(usual)), sorted(set(usual) - set(index))
            what = "; ".join(filter(None, [f"has {', '.join(extra)}" if extra else "",
                                           f"lacks {', '.join(missing)}" if missing else ""]))
            notes.append(f"{url} reads another repository ({what})")
    return notes


# ---- rollout -------------------------------------------------------------------------------------------------------

DONE, FAILED, RESTORED, NOT_RESTORED, UNTOUCHED, PLANNED = (
    "done", "failed", "restored", "failed, not restored", "untouched", "planned")


@dataclass
class Step:
    replica: str
    before: list[int]  # READY before
    after: list[int] | None = None  # READY after (or after the restore)
    outcome: str = UNTOUCHED
    message: str = ""
    seconds: float = 0.0


@dataclass
class Rollout:
    action: str  # "load 'm'", "unload 'm'", "policy latest:1 for 'm'"
    steps: list[Step]
    dry_run: bool = False

    @property
    def failure(self) -> Step | None:
        """The step that stopped the rollout (None when none failed)."""
        return next((s for s in self.steps if s.outcome in (FAILED, RESTORED, NOT_RESTORED)), None)

    @property
    def failed(self) -> bool:
        return self.failure is not None

    @property
    def changed(self) -> list[str]:
        return [s.replica for s in self.steps if s.outcome == DONE]


@dataclass
class Change:
    """What a rollout applies to each replica: a load (of the disk config, of chosen versions or of a policy) or an
    unload, and the health gate after it."""

    model: str
    kind: str  # "load" | "unload"
    repo: Path | None = None
    versions: list[int] | None = None
    policy: object = None
    smoke: bool = False
    timeout: float = 120.0

    @property
    def label(self) -> str:
        from tritonctl.repository import describe_policy

        if self.kind == "unload":
            return f"unload '{self.model}'"
        if self.versions:
            return f"load '{self.model}' versions {', '.join(map(str, self.versions))}"
        if self.policy is not None:
            return f"serve '{self.model}' with policy {describe_policy(self.policy)}"
        return f"load '{self.model}'"

    def wanted(self) -> list[int] | None:
        """The versions a load leaves READY (from the repository), None for an unload."""
        from tritonctl.loading import override_json

        if self.kind == "unload":
            return None
        if self.versions:
            return sorted(set(self.versions))
        return override_json(self.repo, self.model, self.policy)[1] if self.repo is not None else None


def _apply(endpoint: Endpoint, change: Change) -> list[int]:
    """The change on one replica, then its health gate; the versions READY after. Raises TritonctlError when the
    gate fails."""
    from tritonctl.loading import load_model, ready_versions, unload_model

    if change.kind == "unload":
        unload_model(endpoint, change.model, timeout=change.timeout)
        with TritonClient(endpoint) as client:
            if not client.live():
                raise TritonctlError("the server is not live after the unload")
            left = ready_versions(client, change.model)
        if left:
            raise TritonctlError(f"versions {', '.join(map(str, left))} are still READY")
        return []
    try:
        result = load_model(endpoint, change.model, repo=change.repo, versions=change.versions, policy=change.policy,
                            timeout=change.timeout)
    except ServerUnreachable as e:
        if "timed out" not in e.message:
            raise
        raise TritonctlError(f"'{change.model}' was not READY within {change.timeout:g} s (the replica may still be "
                             "loading it)") from None
    if change.smoke:
        from tritonctl.inference import infer

        try:
            infer(endpoint, change.model)
        except TritonctlError as e:
            raise TritonctlError(f"the smoke inference failed: {e.message}") from None
    return result.versions


def rollout(endpoints: list[Endpoint], change: Change, *, parallel: int = 1, dry_run: bool = False,
            progress: Callable[[str], None] = lambda _m: None) -> Rollout:
    """`change` on every replica, `parallel` at a time, each behind its health gate. The first failure stops the
    rollout: that replica serves again what it served before, the replicas not reached are left untouched."""
    from tritonctl.loading import snapshot

    steps = [Step(e.label, []) for e in endpoints]
    plan = Rollout(change.label, steps, dry_run)
    wanted = change.wanted()
    for endpoint, step in zip(endpoints, steps):  # what each replica serves now (also the plan of a dry run)
        try:
            step.before = snapshot(endpoint, change.model).versions
        except (ServerUnreachable, ServerRejected) as e:
            step.message = e.message
    if dry_run:
        for step in steps:
            step.outcome = PLANNED
            step.after = wanted if wanted is not None else []
            step.message = step.message or (f"{_versions(step.before)} -> {_versions(step.after)}")
        return plan
    unreachable = [s for s in steps if s.message]
    if unreachable:
        for s in unreachable:
            s.outcome = FAILED
        raise TritonctlError(f"{len(unreachable)} of {len(steps)} replicas cannot be reached ({unreachable[0].replica}: "
                             f"{unreachable[0].message}); nothing was changed",
                             hint="drop it from --url, or wait until it is back")

    def one(i: int) -> None:
        endpoint, step = endpoints[i], steps[i]
        start = time.monotonic()
        try:
            before = snapshot(endpoint, change.model)
        except TritonctlError as e:
            step.outcome, step.message = FAILED, e.message  # nothing was changed on it
            return
        progress(f"{change.label} on {step.replica}")
        try:
            step.after = _apply(endpoint, change)
            step.outcome = DONE
            step.message = f"{_versions(before.versions)} -> {_versions(step.after)}"
        except TritonctlError as e:
            step.outcome, step.message = FAILED, e.message
            progress(f"{step.replica} failed; serving {_versions(before.versions)} there again")
            _put_back(endpoint, change, step, before)
        except KeyboardInterrupt:  # Ctrl-C on this replica: back to what it served, then stop
            step.outcome, step.message = FAILED, "interrupted"
            _put_back(endpoint, change, step, before)
            raise
        finally:
            step.seconds = time.monotonic() - start

    try:
        for first in range(0, len(endpoints), max(1, parallel)):
            wave = list(range(first, min(len(endpoints), first + max(1, parallel))))
            if len(wave) == 1:
                one(wave[0])
            else:  # Ctrl-C reaches this thread only: the replicas in flight finish (or are restored) first
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=len(wave)) as pool:
                    list(pool.map(one, wave))
            if any(steps[i].outcome != DONE for i in wave):
                break
    except KeyboardInterrupt:
        raise RolloutInterrupted(plan) from None
    return plan


RESTORE_TIMEOUT = 60.0  # at least: Triton finishes a load still in flight (a slow one) before it takes the next


def _put_back(endpoint: Endpoint, change: Change, step: Step, before) -> None:
    import dataclasses

    from tritonctl.loading import restore

    patient = dataclasses.replace(endpoint, timeout=max(endpoint.timeout, change.timeout, RESTORE_TIMEOUT))
    try:
        step.after = restore(patient, before, max(change.timeout, RESTORE_TIMEOUT))
        step.outcome = RESTORED
    except TritonctlError as e:
        step.outcome = NOT_RESTORED
        step.message += f"; could not serve {_versions(before.versions)} again: {e.message}"


def _versions(versions: list[int] | None) -> str:
    return "[" + ", ".join(map(str, versions or [])) + "]"
