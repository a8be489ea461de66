"""tritonctl tune: the serving settings of one model (instance count, dynamic batching, preferred batch sizes,
max queue delay) found on a running Triton under a latency budget.

Each candidate is the served config with only those fields changed, loaded through the load API with a config
override (triton-inference-server/core src/model_repository_manager/model_repository_manager.cc: a load request's
"config" parameter replaces the repository's config; nothing is written to the repository), then measured by
io/load.py. Candidates that differ only in instance count come back to back: Triton adds or removes instances of
a loaded model without reloading it when nothing else changed (core src/model_lifecycle.cc, `UpdateInstanceGroup`).
Whatever happens (a finished search, a failed candidate, Ctrl-C), the server is put back with `loading.restore`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import ServerRejected, TritonctlError, UsageError
from tritonctl.inference import request_shape
from tritonctl.io import load as measure
from tritonctl.io.stability import STABILITY_RULE, WINDOW_MS
from tritonctl.io.triton_client import Endpoint, TritonClient
from tritonctl.loading import Snapshot, restore, snapshot

GAIN = 1.05  # a setting further along a branch must beat the one before by 5 %, else the branch stops there
DEFAULT_DELAYS = (0, 500)


@dataclass(frozen=True)
class Candidate:
    instances: int  # per GPU for KIND_GPU groups, as Triton reads the count
    batching: bool
    preferred: tuple[int, ...] = ()
    queue_delay_us: int = 0

    @property
    def label(self) -> str:
        text = f"{self.instances} instance{'s' if self.instances != 1 else ''}"
        if not self.batching:
            return text + ", no batching"
        extra = [f"preferred {','.join(map(str, self.preferred))}"] if self.preferred else []
        extra.append(f"delay {self.queue_delay_us} us")
        return f"{text}, dynamic batching ({', '.join(extra)})"

    def settings(self) -> dict:
        """The fields a config takes from this candidate (model_config.proto names)."""
        out: dict = {"instance_count": self.instances, "dynamic_batching": self.batching}
        if self.batching:
            out["preferred_batch_size"] = list(self.preferred)
            out["max_queue_delay_microseconds"] = self.queue_delay_us
        return out


@dataclass(frozen=True)
class Space:
    instances: tuple[int, ...] = (1, 2)
    batching: tuple[bool, ...] = (False, True)
    preferred: tuple[tuple[int, ...], ...] = ((),)
    delays: tuple[int, ...] = DEFAULT_DELAYS

    def groups(self) -> list[list[Candidate]]:
        """Branches of the search in the order they are measured: each batching setting by preferred sizes and
        growing delay, then no batching (batching first: what it finds bounds the branches after it); within each,
        growing instance counts (measured back to back)."""
        out = []
        if True in self.batching:
            for preferred in self.preferred:
                for delay in self.delays:
                    out.append([Candidate(n, True, preferred, delay) for n in self.instances])
        if False in self.batching:
            out.append([Candidate(n, False) for n in self.instances])
        return out


@dataclass(frozen=True)
class Budget:
    kind: str  # "p99" or "avg"
    ms: float

    @property
    def label(self) -> str:
        return f"{'p99' if self.kind == 'p99' else 'average'} latency <= {self.ms:g} ms"


@dataclass
class Trial:
    candidate: Candidate
    measurements: list[measure.Measurement] = field(default_factory=list)
    verdict: str = "pending"  # within | over | unstable | failed | skipped
    reason: str = ""
    seconds: float = 0.0
    reloaded: bool = True  # False: only the instance count changed, Triton kept the model loaded

    def best(self, budget: Budget) -> measure.Measurement | None:
        """The measurement with the most throughput within the budget (None: none is)."""
        inside = [m for m in self.measurements if m.latency(budget.kind) <= budget.ms]
        return max(inside, key=lambda m: m.throughput) if inside else None

    @property
    def top(self) -> measure.Measurement | None:
        return max(self.measurements, key=lambda m: m.throughput) if self.measurements else None


@dataclass
class SettingsWritten:
    model: str
    config_path: Path
    diff: str  # empty: the config already held these settings
    written_to: Path | None = None  # the target of a config.pbtxt that is a link inside the repository


@dataclass
class TuneReport:
    server: str
    model: str
    version: int
    generator: str
    budget: Budget
    concurrencies: list[int]
    trials: list[Trial]
    winner: int | None  # index into trials
    seconds: float
    restored: list[int]  # the versions READY after the server was put back
    served: dict  # the config the server served before: what --write starts from
    rule: str = STABILITY_RULE
    written: SettingsWritten | None = None  # --write: what it changed

    @property
    def best(self) -> Trial | None:
        return self.trials[self.winner] if self.winner is not None else None


@dataclass(frozen=True)
class Generator:
    """How candidates are measured: perf_analyzer at `binary`, else the built-in generator."""

    binary: Path | None = None
    label: str = "built-in"


def choose_generator(given: str | None, installed: Path) -> Generator:
    binary = measure.find_perf_analyzer(given, installed)
    if binary is None:
        return Generator()
    return Generator(binary, measure.perf_analyzer_version(binary))


class TuneRefused(TritonctlError):
    """A model tune cannot measure (sequence, decoupled, ensemble), or a server it will not disturb unasked."""


def refusal(config: dict) -> str | None:
    """Why `config` (as Triton serves it) cannot be tuned here, or None."""
    if config.get("platform") == "ensemble" or config.get("ensemble_scheduling"):
        return "it is an ensemble: tune its composing models one at a time"
    if config.get("sequence_batching") is not None:
        return "it uses the sequence batcher: its requests belong to sequences (correlation IDs), which this load " \
               "does not send"
    if (config.get("model_transaction_policy") or {}).get("decoupled"):
        return "it is decoupled: its answers are streams, which this load does not measure"
    return None


def default_space(config: dict, instances: tuple[int, ...] | None, delays: tuple[int, ...] | None,
                  preferred: tuple[tuple[int, ...], ...] | None, batching: tuple[bool, ...] | None) -> Space:
    """The search space: the options given, else instance counts 1 and 2, batching off and on (on only where
    max_batch_size > 0), no preferred sizes, delays 0 and 500 us; preferred sizes above max_batch_size refused."""
    max_batch = int(config.get("max_batch_size") or 0)
    chosen = batching if batching is not None else ((False, True) if max_batch > 0 else (False,))
    if True in chosen and max_batch <= 0:
        raise UsageError("dynamic batching needs max_batch_size > 0; this model's is 0",
                         hint="tune its instance count only (--batching off)")
    for sizes in preferred or ():
        too_big = [s for s in sizes if not 1 <= s <= max_batch]
        if too_big:
            raise UsageError(f"--preferred {','.join(map(str, sizes))}: a preferred batch size must be 1 to "
                             f"max_batch_size ({max_batch})")
    return Space(instances or (1, 2), chosen, preferred or ((),), delays or DEFAULT_DELAYS)


def candidate_config(base: dict, candidate: Candidate, version: int) -> dict:
    """`base` (the served config) with the candidate's settings and only version `version` served."""
    config = json.loads(json.dumps(base))
    groups = config.get("instance_group") or [{"kind": "KIND_CPU"}]
    config["instance_group"] = [{**g, "count": candidate.instances} for g in groups]
    if candidate.batching:
        batching = dict(config.get("dynamic_batching") or {})
        batching["preferred_batch_size"] = list(candidate.preferred)
        batching["max_queue_delay_microseconds"] = str(candidate.queue_delay_us)
        config["dynamic_batching"] = batching
    else:
        config.pop("dynamic_batching", None)
    config["version_policy"] = {"specific": {"versions": [str(version)]}}
    return config


def _workload(client: TritonClient, model: str, version: int, shapes: dict[str, list[int]],
              input_data: Path | None) -> measure.Workload:
    meta = client.model_metadata(model, str(version))
    max_batch = int(client.config(model).get("max_batch_size") or 0)
    inputs, unknown = [], set(shapes)
    for spec in meta.get("inputs", []):
        name = spec["name"]
        unknown.discard(name)
        dims = [int(d) for d in spec["shape"]]
        given = shapes.get(name)
        inputs.append((name, spec["datatype"], request_shape(name, dims, max_batch, given)))
    if unknown:
        names = ", ".join(i["name"] for i in meta.get("inputs", []))
        raise UsageError(f"'{model}' has no input {', '.join(sorted(unknown))} (inputs: {names})")
    # perf_analyzer is told every shape given or variable, without the batch dimension (it adds its own)
    skip = 1 if max_batch > 0 else 0
    variable = {i["name"] for i in meta.get("inputs", []) if any(int(d) == -1 for d in i["shape"][skip:])}
    told = {name: shape[skip:] for name, _, shape in inputs if name in shapes or name in variable}
    return measure.Workload(model, str(version), inputs, input_data, told, batched=max_batch > 0)


class TrafficWatch:
    """Who else is sending requests: each model's request counts read when it is made and again at `busy()`, at
    least `seconds` later (what is done meanwhile, read-only, costs no extra wait)."""

    def __init__(self, endpoint: Endpoint, seconds: float = 0.5) -> None:
        self.endpoint, self.seconds = endpoint, seconds
        self.started = time.monotonic()
        self.before = self._read()

    def _read(self) -> dict[tuple[str, str], int]:
        from tritonctl.status import counters

        with TritonClient(self.endpoint) as client:
            stats = client.statistics().get("model_stats", [])
        return {(s.get("name", ""), str(s.get("version", ""))): counters(s).success + counters(s).fail
                for s in stats if isinstance(s, dict)}

    def busy(self) -> list[str]:
        """The models whose request counts grew since the watch began."""
        time.sleep(max(0.0, self.started + self.seconds - time.monotonic()))
        after = self._read()
        return sorted({name for (name, version), n in after.items() if n > self.before.get((name, version), 0)})


def tune(endpoint: Endpoint, model: str, *, budget: Budget, concurrencies: list[int], space_options: dict,
         generator: Generator, version: int | None = None, shapes: dict[str, list[int]] | None = None,
         input_data: Path | None = None, progress: Callable[[Trial, int, int], None] | None = None,
         timeout: float = 120.0, before_loading: Callable[[], None] | None = None) -> TuneReport:
    """Search the space for the settings with the most throughput within `budget` at `concurrencies`, then put
    the server back as it was. `progress(trial, index, total)` is called before and after each candidate;
    `before_loading()` once everything is read and nothing changed yet (it may raise to stop there)."""
    started = time.monotonic()
    before = snapshot(endpoint, model)
    if not before.versions:
        with TritonClient(endpoint) as client:
            known = any(m.get("name") == model for m in client.index())
        raise TuneRefused(f"'{model}' serves no version on {endpoint.label}" if known else
                          f"the server knows no model '{model}'", hint=f"load it first: tritonctl load {model}")
    base = before.config
    with TritonClient(endpoint) as client:
        reason = refusal(base)
        if reason:
            raise TuneRefused(f"'{model}' cannot be tuned: {reason}")
        chosen = version if version is not None else before.versions[-1]
        if chosen not in before.versions:
            raise UsageError(f"version {chosen} of '{model}' is not READY (READY: "
                             f"{', '.join(map(str, before.versions))})")
        space = default_space(base, **space_options)
        work = _workload(client, model, chosen, shapes or {}, input_data)
    body = measure.request_body(work)  # the built-in generator's, and every warm-up's
    if before_loading is not None:
        before_loading()
    groups = space.groups()
    total = sum(len(g) for g in groups)
    trials: list[Trial] = []
    restored: list[int] = []
    current: Candidate | None = None
    longest: dict[tuple, float] = {}  # batching branch (preferred sizes) -> the best of its last delay measured
    best = 0.0  # the most throughput within the budget so far
    try:
        for group in groups:
            branch = (group[0].batching, group[0].preferred)
            dead = longest.get(branch) == -1.0
            fewer: tuple[int, float] | None = None  # (instances, throughput) of the branch's last measurement
            previous: float | None = None  # the branch's last throughput within the budget
            stopped = None  # why the rest of the branch cannot win
            for candidate in group:
                trial = Trial(candidate)
                trials.append(trial)
                reason = "a shorter delay was as fast" if dead else stopped
                # n instances serve at most n/m times what m instances served: a bound below the best cannot win
                if reason is None and fewer is not None and fewer[1] * candidate.instances / fewer[0] <= best:
                    reason = (f"cannot win: at most {candidate.instances}/{fewer[0]} of {fewer[1]:.1f}/s, below "
                              f"the best so far ({best:.1f}/s)")
                if reason is not None:
                    trial.verdict, trial.reason = "skipped", reason
                    if progress:
                        progress(trial, len(trials), total)
                    continue
                if progress:
                    progress(trial, len(trials), total)
                trial.reloaded = not (current is not None and _only_instances(current, candidate))
                _measure(endpoint, model, chosen, base, trial, work, concurrencies, budget, generator, body,
                         timeout)
                current = candidate if trial.verdict != "failed" else None
                if progress:
                    progress(trial, len(trials), total)
                score = _score(trial, budget)
                if trial.top is not None:
                    fewer = (candidate.instances, trial.top.throughput)
                if score is not None:
                    if previous is not None and score <= previous * GAIN:
                        stopped = "fewer instances were as fast"  # more instances did not pay
                    previous = score
                    best = max(best, score)
            if group[0].batching and not dead:  # a longer delay that did not pay: the longer ones cannot win
                found = max((_score(t, budget) or 0.0 for t in trials[-len(group):]), default=0.0)
                earlier = longest.get(branch)
                longest[branch] = -1.0 if earlier is not None and found <= earlier * GAIN else found
        winner = _winner(trials, budget)
    finally:
        restored = _put_back(endpoint, before, timeout)
    return TuneReport(endpoint.label, model, chosen, generator.label, budget, list(concurrencies), trials, winner,
                      time.monotonic() - started, restored, base)


def _only_instances(a: Candidate, b: Candidate) -> bool:
    return (a.batching, a.preferred, a.queue_delay_us) == (b.batching, b.preferred, b.queue_delay_us)


def _measure(endpoint: Endpoint, model: str, version: int, base: dict, trial: Trial, work: measure.Workload,
             concurrencies: list[int], budget: Budget, generator: Generator, body, timeout: float) -> None:
    start = time.monotonic()
    try:
        with TritonClient(endpoint) as client:
            client.load(model, json.dumps(candidate_config(base, trial.candidate, version)))
            if not client.ready(model, str(version)):
                raise TritonctlError(f"version {version} is not READY after the load")
        if trial.reloaded:
            measure.warm_up(endpoint, work, concurrencies[0], body)
        for concurrency in concurrencies:
            trial.measurements.append(_one(endpoint, work, concurrency, generator, body))
        trial.verdict = "within" if trial.best(budget) is not None else "over"
    except measure.MeasurementFailed as e:
        trial.verdict, trial.reason = ("unstable" if e.unstable else "failed"), e.message
    except ServerRejected as e:
        trial.verdict, trial.reason = "failed", f"the load was refused: {e.reason}"
    except TritonctlError as e:
        if isinstance(e, UsageError):
            raise
        trial.verdict, trial.reason = "failed", e.message
    finally:
        trial.seconds = time.monotonic() - start


def _one(endpoint: Endpoint, work: measure.Workload, concurrency: int, generator: Generator, body
         ) -> measure.Measurement:
    """One measurement by the stability rule: once more with windows twice as long when it did not settle."""
    for window in (WINDOW_MS, 2 * WINDOW_MS):
        try:
            if generator.binary is not None:
                return measure.perf_analyzer(generator.binary, endpoint, work, concurrency, window)
            return measure.built_in(endpoint, work, concurrency, body, window)
        except measure.MeasurementFailed as e:
            if not e.unstable or window != WINDOW_MS:
                raise
    raise AssertionError("unreachable")


def _score(trial: Trial, budget: Budget) -> float | None:
    best = trial.best(budget)
    return best.throughput if best is not None and trial.verdict == "within" else None


def _winner(trials: list[Trial], budget: Budget) -> int | None:
    """The trial with the most throughput within the budget; on a tie (within 1 %), the one measured first (fewer
    instances, no batching, shorter delays come first)."""
    scored = [(i, _score(t, budget)) for i, t in enumerate(trials)]
    scored = [(i, s) for i, s in scored if s is not None]
    if not scored:
        return None
    top = max(s for _, s in scored)
    return next(i for i, s in scored if s >= top * 0.99)


def _put_back(endpoint: Endpoint, before: Snapshot, timeout: float) -> list[int]:
    """The one restore, also when the search failed or was interrupted (a second Ctrl-C is not caught)."""
    try:
        return restore(endpoint, before, timeout)
    except TritonctlError as e:
        raise TritonctlError(f"the server could not be put back as it was: {e}",
                             hint=f"load '{before.model}' again: tritonctl load {before.model}") from None


def check_writable(repo: Path, name: str) -> None:
    """What would stop `write_settings` after a search, found before it: the model folder missing, its config.pbtxt
    unreadable or unparsable, or a link taking the write outside the repository (each its typed error)."""
    from tritonctl.io import files
    from tritonctl.repository import open_repository

    model = open_repository(repo).model(name)
    model.read_config()
    files.write_target(model.config_path, Path(repo))


def write_settings(repo: Path, name: str, candidate: Candidate, served: dict, *, dry_run: bool = False
                   ) -> SettingsWritten:
    """The candidate's settings into `name`'s config.pbtxt: only instance_group's counts and dynamic_batching
    (its preferred sizes and delay; its other fields kept), every other byte as it was; refused when the edit
    would change anything else or when validate finds errors in the result."""
    import difflib

    from google.protobuf import text_format

    from tritonctl.errors import ValidationRefused
    from tritonctl.io import files, pbtxt
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.repository import CONFIG_FILE, open_repository
    from tritonctl.validate.engine import edited_config_errors

    model = open_repository(repo).model(name)
    ct = model.read_config()
    old_text = ct.text if ct is not None else ""
    wanted = ModelConfig()
    if ct is not None:
        wanted.CopyFrom(ct.config)
    snippets: dict[str, str | None] = {}
    served_groups = served.get("instance_group") or [{}]
    if wanted.instance_group or candidate.instances != int(served_groups[0].get("count", 1) or 1):
        if not wanted.instance_group:
            group = wanted.instance_group.add()
            group.kind = group.Kind.Value(served_groups[0].get("kind", "KIND_CPU"))
        for group in wanted.instance_group:
            group.count = candidate.instances
        snippets["instance_group"] = _field_text(wanted, "instance_group", text_format)
    if candidate.batching:
        batching = wanted.dynamic_batching
        del batching.preferred_batch_size[:]
        batching.preferred_batch_size.extend(candidate.preferred)
        batching.max_queue_delay_microseconds = candidate.queue_delay_us
        wanted.dynamic_batching.SetInParent()
        snippets["dynamic_batching"] = _field_text(wanted, "dynamic_batching", text_format)
    elif wanted.HasField("dynamic_batching"):
        wanted.ClearField("dynamic_batching")
        snippets["dynamic_batching"] = None
    new_text = pbtxt.replace_fields(old_text, ct.located, snippets) if ct is not None else \
        "".join(s + "\n" for s in snippets.values() if s)
    path = str(model.config_path)
    if pbtxt.parse(new_text, path) != wanted:
        raise TritonctlError(f"editing '{path}' would change more than the tuned settings; nothing was written",
                             hint="set them by hand (the table shows them), and please report this")
    diff = "".join(difflib.unified_diff(old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                                        f"a/{name}/{CONFIG_FILE}", f"b/{name}/{CONFIG_FILE}"))
    if new_text == old_text:
        return SettingsWritten(name, model.config_path, "")
    errors = edited_config_errors(repo, name, new_text)
    if errors:
        raise ValidationRefused(f"the tuned config of '{name}' has {len(errors)} error(s); nothing was written",
                                errors, hint="fix the config, then run tune --write again")
    target = files.write_target(model.config_path, Path(repo))
    if not dry_run:
        try:
            target = files.atomic_write(model.config_path, new_text.encode(), root=Path(repo))
        except OSError as e:
            raise TritonctlError(f"cannot write '{path}': {files.describe(e)}") from None
    return SettingsWritten(name, model.config_path, diff, target if target != model.config_path else None)


def _field_text(config, name: str, text_format) -> str:
    """One top-level field of `config` as text: each element on a line of its own (`instance_group { count: 2
    kind: KIND_CPU }`), as text_format writes a message on one line."""
    value = getattr(config, name)
    elements = list(value) if hasattr(value, "add") else [value]
    lines = []
    for element in elements:
        inner = text_format.MessageToString(element, as_one_line=True).strip()
        lines.append(f"{name} {{ {inner} }}" if inner else f"{name} {{ }}")
    return "\n".join(lines)
