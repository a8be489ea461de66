"""Loading and unloading models on a running Triton in EXPLICIT mode.

A load carries the model's config from the repository: Triton treats a load of unchanged files as a no-op, so
without it an earlier `load --version` (a config override) would stay in force. A plain load sends the config as
it is, and Triton serves exactly the versions it selects; a load with versions or a policy sends it with that
policy. Either way Triton loads the new versions before it unloads the old ones, so no request fails in between.
Only `--reload` (for a server whose repository tritonctl cannot read) unloads first.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from tritonctl.errors import ServerRejected, TritonctlError, UsageError, did_you_mean, some_names
from tritonctl.io.triton_client import Endpoint, TritonClient, rejection_kind
from tritonctl.repository import MAX_VERSION, describe_policy, open_repository, selected_versions


@dataclass
class LoadResult:
    model: str
    versions: list[int]  # READY after the load
    seconds: float
    reloaded: bool = False  # unloaded first (--reload): requests failed meanwhile


@dataclass
class UnloadResult:
    model: str
    versions: list[int]  # READY before the unload
    seconds: float


def _explain(error: ServerRejected, model: str) -> ServerRejected:
    if rejection_kind(error) == "polling_server":
        return ServerRejected(f"the server at this URL polls its repository: it loads and unloads '{model}' by "
                              "itself, and refuses load/unload requests", status=error.status,
                              hint="start it with --model-control-mode=explicit (tritonctl server start does)")
    return error


def ready_versions(client: TritonClient, model: str) -> list[int]:
    return sorted(_states(client, model).get("READY", []))


def _states(client: TritonClient, model: str, index: list[dict] | None = None) -> dict[str, list[int]]:
    """Versions of `model` by state, as the repository index tells (`index`: one already read)."""
    out: dict[str, list[int]] = {}
    for m in client.index() if index is None else index:
        if m.get("name") == model and str(m.get("version", "")).isdigit():
            out.setdefault(str(m.get("state", "")), []).append(int(m["version"]))
    return out


def _settled(states: dict[str, list[int]], wanted: list[int]) -> bool:
    """The wanted versions READY, no other READY, none still loading or unloading."""
    return set(states.get("READY", [])) == set(wanted) and not states.get("UNLOADING") and not states.get("LOADING")


def override_json(repo: Path, model: str, policy=None) -> tuple[str, list[int]]:
    """The model's config as written in the repository (with `policy` instead of its own, when given), as the
    JSON a load request carries; and the versions it selects there. Triton completes and normalizes it as it
    would the file, on its own devices."""
    from google.protobuf import json_format

    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    found = open_repository(repo).model(model)
    text = found.read_config()
    config = ModelConfig()
    if text is not None:
        config.CopyFrom(text.config)
    if policy is not None:
        config.version_policy.CopyFrom(policy)
    if not config.name:
        config.name = model
    present = [v.number for v in found.versions]
    chosen = config.version_policy if config.HasField("version_policy") else None
    if policy is not None and policy.HasField("specific"):
        missing = [v for v in policy.specific.versions if v not in present]
        if missing:
            raise TritonctlError(f"'{model}' has no version {', '.join(map(str, missing))} in '{repo}' "
                                 f"(versions: {', '.join(map(str, present)) or 'none'})")
    wanted = selected_versions(chosen, present) if chosen is not None else present[-1:]
    if not wanted:
        raise TritonctlError(f"the policy {describe_policy(chosen)} selects none of the versions of '{model}' "
                             f"({', '.join(map(str, present)) or 'none'}); Triton would refuse the load")
    return json.dumps(json_format.MessageToDict(config, preserving_proto_field_name=True)), wanted


def _specific(versions: list[int]):
    from tritonctl.io.proto.model_config_pb2 import ModelVersionPolicy

    bad = [v for v in versions if not 0 <= v <= MAX_VERSION]
    if bad:
        raise UsageError(f"--version {bad[0]} is not a version number (0 to {MAX_VERSION})")
    policy = ModelVersionPolicy()
    policy.specific.versions.extend(sorted(set(versions)))
    return policy


@dataclass(frozen=True)
class Snapshot:
    """What a server serves of a model: its READY versions and the config it serves them with (None: nothing)."""

    model: str
    versions: list[int]
    config: dict | None


def snapshot(endpoint: Endpoint, model: str) -> Snapshot:
    with TritonClient(endpoint) as client:
        ready = ready_versions(client, model)
        return Snapshot(model, ready, client.config(model) if ready else None)


def restore(endpoint: Endpoint, before: Snapshot, timeout: float) -> list[int]:
    """Serve again exactly what `before` saw: the versions READY then, with the config they were served with; the
    model unloaded when it served nothing. The one way tritonctl puts a server back (a failed rollout step, an
    interrupted one). The versions are loaded with `specific:` those versions, so that a `latest:N` over a shared
    repository cannot pick the new one again; status compares configs without their policy, so this leaves no
    drift of tritonctl's making. Raises TritonctlError when the server cannot be put back."""
    with TritonClient(endpoint) as client:
        if not before.versions or before.config is None:
            if ready_versions(client, before.model):
                client.unload(before.model)
            return []
        served = dict(before.config)
        served["version_policy"] = {"specific": {"versions": [str(v) for v in before.versions]}}
        client.load(before.model, json.dumps(served))
        for _ in _polls(timeout):
            ready = ready_versions(client, before.model)
            if set(before.versions) <= set(ready):
                return ready
    raise TritonctlError(f"versions {', '.join(map(str, before.versions))} were not READY again within "
                         f"{timeout:.0f} s")


def load_model(endpoint: Endpoint, model: str, *, repo: Path | None, versions: list[int] | None = None,
               policy=None, reload: bool = False, wait: bool = True, timeout: float = 120.0) -> LoadResult:
    """Load `model` so that the server serves exactly what its config selects (or `versions`, or `policy`)."""
    if versions:
        policy = _specific(versions)
    if repo is None:
        if policy is not None:
            raise UsageError("a load of chosen versions needs the repository (--repo): the request carries the "
                             "model's config from there")
        if not reload:
            raise UsageError(f"a load needs the repository (--repo) to send '{model}''s config: without it Triton "
                             "keeps serving what it serves when the files did not change",
                             hint=f"pass --repo PATH, or --reload to unload '{model}' and load it again (requests "
                                  "to it fail meanwhile)")
    override, wanted = override_json(repo, model, policy) if repo is not None else (None, [])
    start = time.monotonic()
    with TritonClient(endpoint) as client:
        try:
            if override is None or reload:  # --reload: unloaded first, even with the repository known
                client.unload(model)
                _wait_unloaded(client, model, timeout)
            client.load(model, override)
        except ServerRejected as e:
            raise _explain(e, model) from None
        for _ in _polls(timeout):
            states = _states(client, model)
            if not (wait and wanted) or _settled(states, wanted):
                break
        ready = sorted(states.get("READY", []))
        if wait and wanted and not set(wanted) <= set(ready):
            raise TritonctlError(f"'{model}' versions {', '.join(map(str, wanted))} were not READY within "
                                 f"{timeout:.0f} s (READY: {', '.join(map(str, ready)) or 'none'})")
    return LoadResult(model, ready, time.monotonic() - start, reloaded=override is None or reload)


def _polls(timeout: float):
    """One turn per question to Triton until `timeout`: the first at once, the next after 10 ms, then every 25 ms
    for the first 5 s (a python model loads or unloads in about a second: its end is seen within 25 ms, where a
    pause grown to 100 ms added 50 ms on average), then every 100 ms."""
    start = time.monotonic()
    deadline = start + timeout
    pause = 0.01
    while True:
        yield
        now = time.monotonic()
        if now >= deadline:
            return
        time.sleep(pause)
        pause = 0.025 if now - start < 5 else 0.1


def _wait_unloaded(client: TritonClient, model: str, timeout: float) -> None:
    """Until Triton says the model is unloaded (its unload request returns before the unload is done)."""
    for _ in _polls(timeout):
        states = {m.get("state") for m in client.index() if m.get("name") == model}
        if not states & {"READY", "UNLOADING", "LOADING"}:
            return


def unload_model(endpoint: Endpoint, model: str, *, dependents: bool = False, timeout: float = 60.0) -> UnloadResult:
    start = time.monotonic()
    with TritonClient(endpoint) as client:
        index = client.index()
        known = {m.get("name") for m in index}
        if model not in known:
            names = sorted(n for n in known if isinstance(n, str))
            raise TritonctlError(f"the server knows no model '{model}' (models: {some_names(names)})",
                                 hint=did_you_mean(model, names))
        before = sorted(_states(client, model, index).get("READY", []))
        try:
            client.unload(model, dependents)
        except ServerRejected as e:
            raise _explain(e, model) from None
        _wait_unloaded(client, model, timeout)
    return UnloadResult(model, before, time.monotonic() - start)
