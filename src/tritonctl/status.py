"""What a running Triton serves beside what its repository selects, version by version, with drift named.

Drift is computed from versions, for a model the server has loaded (or tried to):
- a version the disk config selects that is not READY: `selected, not READY`;
- a READY version the disk config does not select: `READY, not selected`;
- a READY version whose folder is gone: `READY, gone from disk`;
- a version a sync to S3 is still placing: `unfinished on disk (a sync is placing it)`;
and for the model, `served config differs from disk` when the server's config differs from the disk config as
Triton completes and normalizes it, the version policy aside (a load of chosen versions changes only that).
LOADING and UNLOADING are states, not drift. A model the server never loaded is `loaded: false`, without drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import ConfigParseError, ConfigReadError, ServerRejected, TritonctlError
from tritonctl.io.triton_client import Endpoint, TritonClient, clean_reason

NOT_READY = "selected, not READY"
NOT_SELECTED = "READY, not selected"
GONE = "READY, gone from disk"
CONFIG_DIFFERS = "served config differs from disk"
UNFINISHED = "unfinished on disk (a sync is placing it)"
TRANSITIONS = frozenset({"LOADING", "UNLOADING"})
# fields a backend's auto-complete fills when the config leaves them out; compared only when the disk sets them
_PYTHON_AUTOCOMPLETED = ("input", "output", "max_batch_size", "dynamic_batching", "model_transaction_policy")


@dataclass(frozen=True)
class Counters:
    """One version's cumulative statistics, as Triton reports them (core src/server.cc: each a count and total
    nanoseconds): what the live view takes differences of."""

    inferences: int = 0
    success: int = 0
    success_ns: int = 0
    fail: int = 0
    queue: int = 0
    queue_ns: int = 0


@dataclass
class VersionStatus:
    version: int
    on_disk: bool
    selected: bool  # by the disk config's version policy
    state: str  # READY, UNAVAILABLE, LOADING, UNLOADING, or "" when the server has no state for it
    reason: str  # Triton's reason on one line
    last_inference_ms: int
    drift: list[str] = field(default_factory=list)
    reason_full: str = ""  # as Triton wrote it (tracebacks included): shown under TRITONCTL_DEBUG=1 only
    counters: Counters = Counters()  # its statistics (the live view's rates are their differences)

    @property
    def inference_count(self) -> int:
        return self.counters.inferences

    @property
    def request_count(self) -> int:
        """Requests Triton answered (successes and failures)."""
        return self.counters.success + self.counters.fail

    @property
    def avg_request_ms(self) -> float | None:
        """A successful request's average time end to end, queue included."""
        c = self.counters
        return c.success_ns / c.success / 1e6 if c.success else None


@dataclass
class ModelStatus:
    name: str
    policy: str | None  # the disk config's version policy; None when tritonctl does not know it
    loaded: bool
    versions: list[VersionStatus]
    drift: list[str] = field(default_factory=list)
    config_error: str | None = None  # the disk config's error (file:line:column: what), when it has one
    served_config: dict | None = None  # the config the server serves, when it was read (for drift, or asked for)


@dataclass
class StatusReport:
    url: str
    server_version: str
    repository: str | None
    models: list[ModelStatus]
    indexed: list[str] = field(default_factory=list)  # every model name in the server's repository index

    def relabeled(self, label: Callable[[str], str]) -> StatusReport:
        """The report with paths of a local copy shown as the repository it stands for (an S3 one)."""
        import dataclasses

        models = [dataclasses.replace(m, config_error=label(m.config_error) if m.config_error else None)
                  for m in self.models]
        return dataclasses.replace(self, repository=label(self.repository) if self.repository else None,
                                   models=models)


@dataclass
class _Disk:
    versions: list[int]
    selected: list[int] | None  # None when the config cannot be read
    policy: str | None
    config: dict | None  # as Triton's /config would return it
    raw: object | None  # the ModelConfig as written
    error: str | None
    unfinished: frozenset[int] = frozenset()  # versions a sync to S3 is still placing (s3_cache marks them)


def disk_models(repo: Path | None, model: str | None = None) -> dict[str, _Disk]:
    """What the repository selects, per model (only `model` when one is asked for): read once per command, however
    many servers are asked."""
    from tritonctl.io.config_json import to_triton_json
    from tritonctl.normalize import served
    from tritonctl.repository import UNFINISHED_MARKER, describe_policy, open_repository, selected_versions

    if repo is None:
        return {}
    out = {}
    wanted = model
    for model in open_repository(repo).models:
        if model.read_error or model.is_hidden or (wanted is not None and model.name != wanted):
            continue
        numbers = [v.number for v in model.versions]
        unfinished = frozenset(v.number for v in model.versions if (v.path / UNFINISHED_MARKER).exists())
        try:
            text = model.read_config()
        except (ConfigParseError, ConfigReadError) as e:
            out[model.name] = _Disk(numbers, None, None, None, None, e.message)
            continue
        result = served(model, text.config if text is not None else None)
        error = result.backend_error or result.autofill_error
        if error or result.config is None:
            out[model.name] = _Disk(numbers, None, None, None, None, f"{model.config_path}: {error}")
            continue
        config = result.config
        out[model.name] = _Disk(numbers, selected_versions(config.version_policy, numbers),
                                describe_policy(config.version_policy), to_triton_json(config),
                                text.config if text is not None else None, None, unfinished)
    return out


IGNORED_WHEN_COMPARED = ("version_policy", "runtime")  # runtime: the local stand-in reports its model.py


def comparable(config: dict) -> dict:
    """A served config as configs are compared (with the disk's, with other replicas'): without its version policy,
    which a load of chosen versions or a restore sets, the versions themselves being compared one by one."""
    return {k: v for k, v in config.items() if k not in IGNORED_WHEN_COMPARED}


def _differs(disk: _Disk, served: dict) -> bool:
    ours, theirs = comparable(disk.config or {}), comparable(served)
    if ours.get("backend") == "python":
        for key in _PYTHON_AUTOCOMPLETED:
            if disk.raw is None or not _is_set(disk.raw, key):
                ours.pop(key, None)
                theirs.pop(key, None)
    return ours != theirs


def _is_set(config, key: str) -> bool:
    value = getattr(config, key)
    if key in ("input", "output"):
        return len(value) > 0
    if key == "max_batch_size":
        return value != 0
    return config.HasField(key)


def counters(stats: dict) -> Counters:
    """One version's statistics as Triton reports them (triton-inference-server/core src/server.cc:
    `inference_count`, `inference_stats.success` / `.fail` / `.queue`, each a count and total nanoseconds)."""
    inference = stats.get("inference_stats") if isinstance(stats.get("inference_stats"), dict) else {}

    def part(name: str) -> tuple[int, int]:
        value = inference.get(name) if isinstance(inference.get(name), dict) else {}
        try:
            return int(value.get("count", 0)), int(value.get("ns", 0))
        except (TypeError, ValueError):
            return 0, 0

    try:
        inferences = int(stats.get("inference_count", 0))
    except (TypeError, ValueError):
        inferences = 0
    (ok, ok_ns), (failed, _ns), (queued, queue_ns) = part("success"), part("fail"), part("queue")
    return Counters(inferences, ok, ok_ns, failed, queued, queue_ns)


@dataclass(frozen=True)
class Rate:
    """One version over one refresh of the live view: what changed in its statistics, per second."""

    model: str
    version: int
    state: str
    inferences_per_s: float | None  # None on the first reading
    avg_request_ms: float | None  # of the requests that succeeded in the interval
    avg_queue_ms: float | None
    failures: int | None  # requests that failed in the interval


def rates(before: StatusReport | None, after: StatusReport, seconds: float) -> list[Rate]:
    """Each version of `after` beside the same version in `before`, `seconds` earlier (a counter that went down, a
    model reloaded, is read as a new start)."""
    earlier = {(m.name, v.version): v.counters for m in (before.models if before else []) for v in m.versions}
    out = []
    for m in after.models:
        for v in m.versions:
            old, new = earlier.get((m.name, v.version)), v.counters
            if old is None or seconds <= 0 or new.success < old.success or new.inferences < old.inferences:
                out.append(Rate(m.name, v.version, v.state, None, None, None, None))
                continue
            ok = new.success - old.success
            queued = new.queue - old.queue
            out.append(Rate(m.name, v.version, v.state, (new.inferences - old.inferences) / seconds,
                            (new.success_ns - old.success_ns) / ok / 1e6 if ok else None,
                            (new.queue_ns - old.queue_ns) / queued / 1e6 if queued > 0 else None,
                            max(0, new.fail - old.fail)))
    return out


def _version(text) -> int | None:
    return int(text) if str(text).isdigit() else None


def status(endpoint: Endpoint, repo: Path | None, model: str | None = None,
           disk: dict[str, _Disk] | None = None, *, served_configs: bool = False) -> StatusReport:
    """What `endpoint` serves beside what `repo` selects (`disk`: disk_models(repo, model), when the caller asks
    several servers); with `served_configs`, the served config of every model with a READY version is read and kept
    (a fleet compares them across replicas), each once."""
    if disk is None:
        disk = disk_models(repo, model)
    with TritonClient(endpoint) as client:
        meta = client.metadata()
        index = client.index()
        stats: dict[tuple[str, int], dict] = {}
        try:
            for s in client.statistics().get("model_stats", []):
                number = _version(s.get("version", ""))
                if isinstance(s, dict) and number is not None:
                    stats[(s.get("name", ""), number)] = s
        except ServerRejected:
            pass
        names = sorted({m["name"] for m in index} | set(disk))
        if model is not None:
            if model not in names:
                raise TritonctlError(f"no model '{model}' on the server or in the repository")
            names = [model]
        models = [_model_status(client, name, [m for m in index if m["name"] == name], disk.get(name), stats,
                                repo is not None, served_configs) for name in names]
    return StatusReport(endpoint.url, str(meta.get("version", "?")), str(repo) if repo else None, models,
                        sorted({m["name"] for m in index}))


def _model_status(client: TritonClient, name: str, entries: list[dict], on_disk: _Disk | None,
                  stats: dict, have_repo: bool, served_configs: bool) -> ModelStatus:
    versions: dict[int, VersionStatus] = {}
    selected = set(on_disk.selected or []) if on_disk else set()
    for number in (on_disk.versions if on_disk else []):
        versions[number] = VersionStatus(number, True, number in selected, "", "", 0)
    for entry in entries:
        number = _version(entry.get("version", ""))
        if number is None:
            continue
        vs = versions.setdefault(number, VersionStatus(number, False, False, "", "", 0))
        vs.state = str(entry.get("state", ""))
        vs.reason_full = str(entry.get("reason", ""))
        vs.reason = clean_reason(vs.reason_full)
    for vs in versions.values():
        s = stats.get((name, vs.version))
        if s:
            vs.counters = counters(s)
            vs.last_inference_ms = int(s.get("last_inference", 0))
    loaded = any(vs.state in ("READY", *TRANSITIONS) or (vs.state == "UNAVAILABLE" and vs.reason != "unloaded")
                 for vs in versions.values())
    knows_selection = on_disk is not None and on_disk.selected is not None
    for vs in versions.values():
        if on_disk is not None and vs.version in on_disk.unfinished:
            vs.drift.append(UNFINISHED)
        if vs.state == "READY":
            if have_repo and not vs.on_disk:
                vs.drift.append(GONE)
            elif knows_selection and not vs.selected:
                vs.drift.append(NOT_SELECTED)
        elif vs.state not in TRANSITIONS and loaded and vs.selected:
            vs.drift.append(NOT_READY)
    drift = []
    served = None
    compared = loaded and knows_selection and on_disk.config is not None
    if (compared or served_configs) and any(vs.state == "READY" for vs in versions.values()):
        try:
            served = client.config(name)
        except ServerRejected:
            pass
        if compared and served is not None and _differs(on_disk, served):
            drift.append(CONFIG_DIFFERS)
    return ModelStatus(name, on_disk.policy if on_disk else None, loaded,
                       sorted(versions.values(), key=lambda v: v.version), drift,
                       on_disk.error if on_disk else None, served)
