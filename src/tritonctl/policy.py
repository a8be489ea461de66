"""version_policy in config.pbtxt: read it, and replace only its own text, keeping every other byte."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import TritonctlError
from tritonctl.io import files, pbtxt
from tritonctl.repository import CONFIG_FILE, open_repository, selected_versions
from tritonctl.repository import describe_policy as describe
from tritonctl.repository import parse_policy as parse_spec
from tritonctl.repository import policy_text


@dataclass
class PolicyView:
    model: str
    policy: str
    versions: list[int]
    served: list[int]
    config_path: Path
    position: tuple[int, int] | None  # where version_policy is written, when it is


@dataclass
class PolicyChange:
    model: str
    old: str
    new: str
    served: list[int]
    config_path: Path
    diff: str
    created: bool
    written_to: Path | None = None  # the target of a config.pbtxt that is a link inside the repository
    missing: list[int] = field(default_factory=list)  # versions a specific policy names that have no folder (TRT406)


def _read(repo: Path, name: str):
    model = open_repository(repo).model(name)
    text_config = model.read_config()
    return model, text_config


def show_policy(repo: Path, name: str) -> PolicyView:
    model, ct = _read(repo, name)
    policy = ct.config.version_policy if ct is not None and ct.config.HasField("version_policy") else None
    numbers = [v.number for v in model.versions]
    served = selected_versions(policy, numbers) if policy is not None else numbers[-1:]
    position = ct.located.get("version_policy") if ct is not None else None
    return PolicyView(name, describe(policy), numbers, served, model.config_path, position)


def set_policy(repo: Path, name: str, spec: str, *, dry_run: bool = False) -> PolicyChange:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    wanted = parse_spec(spec)
    model, ct = _read(repo, name)
    numbers = [v.number for v in model.versions]
    served = selected_versions(wanted, numbers)
    if not served:
        present = ", ".join(map(str, numbers)) or "none"
        raise TritonctlError(f"policy {describe(wanted)} selects none of the versions of '{name}' (present: "
                             f"{present}); Triton would refuse the model")
    snippet = policy_text(wanted)
    if ct is None:
        old_text, new_text, old_policy = "", snippet + "\n", None
    else:
        old_text = ct.text
        old_policy = ct.config.version_policy if ct.config.HasField("version_policy") else None
        new_text = pbtxt.replace_fields(old_text, ct.located, {"version_policy": snippet})
    # the edit must change the policy and nothing else
    new_config = pbtxt.parse(new_text, str(model.config_path))
    before = ModelConfig()
    if ct is not None:
        before.CopyFrom(ct.config)
    after = ModelConfig()
    after.CopyFrom(new_config)
    before.ClearField("version_policy")
    after.ClearField("version_policy")
    if before != after or new_config.version_policy != wanted:
        raise TritonctlError(f"editing the version_policy of '{model.config_path}' would change more than the policy; "
                             "nothing was written", hint="set it by hand, and please report this")
    diff = "".join(difflib.unified_diff(old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                                        f"a/{name}/{CONFIG_FILE}", f"b/{name}/{CONFIG_FILE}"))
    target = files.write_target(model.config_path, Path(repo))  # a link leaving the repository is refused
    if not dry_run:
        try:
            target = files.atomic_write(model.config_path, new_text.encode(), root=Path(repo))
        except OSError as e:
            raise TritonctlError(f"cannot write '{model.config_path}': {files.describe(e)}") from None
    missing = sorted(set(wanted.specific.versions) - set(numbers)) if wanted.WhichOneof("policy_choice") == \
        "specific" else []
    return PolicyChange(name, describe(old_policy), describe(wanted), served, model.config_path, diff, ct is None,
                        target if target != model.config_path else None, missing)
