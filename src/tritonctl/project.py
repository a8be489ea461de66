"""Project configuration: `[tool.tritonctl]` in pyproject.toml, or a tritonctl.toml (which wins in the folder that
has both), the nearest one found upwards from the repository folder (from the current folder for an s3://
repository), no higher than the checkout's root, the user's home or the filesystem's boundary. A pyproject.toml
without the table is passed over, as ruff does. A file anyone can write is ignored; one another user owns is used
with a warning (TRITONCTL_TRUSTED_SETTINGS=trust|ignore). The file in force is named in every output it changes.

    [tool.tritonctl]
    select = ["TRT"]                  # rule codes or prefixes to run (default: all)
    ignore = ["TRT333"]               # rule codes or prefixes to skip
    fail-on = "warning"               # error (default) | warning
    gpus = 1                          # GPUs of the target server
    backends = ["onnxruntime", "python"]
    run-python = true                 # run python models' auto_complete_config
    python-timeout = 30               # seconds one model's auto_complete_config may take
    python-memory = "4GiB"            # memory one model's auto_complete_config may use (RLIMIT_DATA)

    [tool.tritonctl.per-model-ignores]
    text_detection = ["TRT333"]

    [tool.tritonctl.fleets.prod]      # a named fleet: --fleet prod on commands that talk to servers
    urls = ["http://10.0.0.1:8000", "http://10.0.0.2:8000"]
    all-addresses = false             # true: every address each URL's name resolves to is a replica

Nothing here knows what the values mean beyond their types: the validate settings and the fleet commands read them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import UsageError

FILE = "tritonctl.toml"
PYPROJECT = "pyproject.toml"
TABLE = ("tool", "tritonctl")


class ProjectConfigError(UsageError):
    """A project configuration that cannot be used: exit 2, with the file and line."""


MAX_GPUS = 1024  # more GPUs than any host has: a typo, refused before anything is built per GPU
MAX_PYTHON_TIMEOUT = 86400.0  # seconds: one day
MIN_PYTHON_MEMORY, MAX_PYTHON_MEMORY = 64 << 20, 1 << 40


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


# key -> (whether a value is right, what it must be)
KEYS: dict[str, tuple] = {
    "select": (_strings, "a list of rule codes or prefixes, e.g. [\"TRT1\", \"TRT501\"]"),
    "ignore": (_strings, "a list of rule codes or prefixes, e.g. [\"TRT333\"]"),
    "fail-on": (lambda v: v in ("error", "warning"), "\"error\" or \"warning\""),
    "gpus": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_GPUS,
             f"a whole number from 0 to {MAX_GPUS}"),
    "backends": (_strings, "a list of backend names, e.g. [\"onnxruntime\", \"python\"]"),
    "run-python": (lambda v: isinstance(v, bool), "true or false"),
    "python-timeout": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                       and 0 < v <= MAX_PYTHON_TIMEOUT, f"a number of seconds above 0, at most {MAX_PYTHON_TIMEOUT:g}"),
    "python-memory": (lambda v: isinstance(v, str) and _memory(v) is not None,
                      "a size with a binary unit from 64MiB to 1TiB, e.g. \"4GiB\""),
    "per-model-ignores": (lambda v: isinstance(v, dict) and all(_strings(c) for c in v.values()),
                          "a table of model name = [rule codes]"),
    "fleets": (lambda v: isinstance(v, dict) and all(isinstance(f, dict) for f in v.values()),
               "a table of fleets, each a table"),
}


def _memory(text: str) -> int | None:
    from tritonctl.units import parse_size

    try:
        value = parse_size(text)
    except ValueError:
        return None
    return value if MIN_PYTHON_MEMORY <= value <= MAX_PYTHON_MEMORY else None


def python_memory(text: str) -> int:
    """--python-memory's value in bytes (UsageError, exit 2, outside 64 MiB-1 TiB or without a binary unit)."""
    value = _memory(text)
    if value is None:
        raise UsageError(f"--python-memory must be a size with a binary unit from 64MiB to 1TiB, e.g. 4GiB; not "
                         f"{text!r}")
    return value


@dataclass(frozen=True)
class Project:
    """The settings a project configuration file holds (empty when none was found)."""

    path: Path | None = None
    values: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)  # key (dotted below the table) -> line in the file
    warnings: tuple[str, ...] = ()  # a file ignored or used though another user owns it (said on stderr)

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def where(self, key: str) -> str:
        """'pyproject.toml:12' for a key the file sets."""
        return f"{self.path}:{self.lines.get(key, 1)}"


def find(start: Path) -> Path | None:
    """The nearest tritonctl.toml, or pyproject.toml with a [tool.tritonctl] table, in `start` or above. The search
    stops at the first folder that is a checkout's root (.git, .hg), the user's home, or the last folder on the same
    filesystem, whichever comes first: a settings file above a checkout, or in someone else's folder above home, is
    not the project's."""
    folder = Path(os.path.abspath(start))
    home = Path(os.path.expanduser("~")).resolve()
    try:
        device = os.stat(folder).st_dev
    except OSError:
        device = None
    while True:
        candidate = folder / FILE
        if candidate.is_file():
            return candidate
        candidate = folder / PYPROJECT
        if candidate.is_file() and _has_table(candidate):
            return candidate
        parent = folder.parent
        if parent == folder or any((folder / vcs).exists() for vcs in (".git", ".hg")) or \
                folder.resolve() == home:
            return None
        try:
            if device is not None and os.stat(parent).st_dev != device:
                return None
        except OSError:
            return None
        folder = parent


TRUST_ENV = "TRITONCTL_TRUSTED_SETTINGS"  # "trust": use files of other users silently; "ignore": never use them


def _trust(path: Path) -> tuple[bool, str | None]:
    """(whether to use the file, a warning): a file others can write is ignored; one another user owns is used with
    a warning (a CI checkout often has another owner), or as TRITONCTL_TRUSTED_SETTINGS says."""
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return True, None
    if st.st_mode & stat.S_IWOTH:
        return False, (f"ignored the settings file '{path}': anyone can write it (mode "
                       f"{stat.S_IMODE(st.st_mode):o}); chmod o-w it to use it")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        choice = os.environ.get(TRUST_ENV, "").strip().lower()
        if choice == "trust":
            return True, None
        if choice == "ignore":
            return False, f"ignored the settings file '{path}': it belongs to another user (uid {st.st_uid})"
        if choice:
            raise UsageError(f"{TRUST_ENV} must be 'trust' or 'ignore', not {choice!r}")
        return True, (f"using the settings file '{path}', which belongs to another user (uid {st.st_uid}); "
                      f"{TRUST_ENV}=ignore to skip such files, =trust to say nothing")
    return True, None


def _has_table(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*tritonctl\s*[\].]", text, re.MULTILINE) is not None


def load(start: Path | None = None) -> Project:
    """The project configuration for a repository in `start` (the current folder when None). Raises
    ProjectConfigError (exit 2) for a file that does not parse, an unknown key, or a value of the wrong type."""
    import tomllib

    path = find(start if start is not None else Path.cwd())
    if path is None:
        return Project()
    use, warning = _trust(path)
    if not use:
        return Project(warnings=(warning,))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ProjectConfigError(f"cannot read project configuration '{path}': {getattr(e, 'strerror', None) or e}"
                                 ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProjectConfigError(f"{path}: not valid TOML: {e}") from None
    except RecursionError:
        raise ProjectConfigError(f"{path}: not valid TOML: arrays or tables nested too deep") from None
    prefix = TABLE if path.name == PYPROJECT else ()
    table = document
    for part in prefix:
        table = table.get(part, {}) if isinstance(table, dict) else {}
    lines = _key_lines(text, prefix)
    project = Project(path, dict(table), lines, (warning,) if warning else ())
    section = "[tool.tritonctl]" if prefix else FILE
    for key, value in table.items():
        if key not in KEYS:
            import difflib

            close = difflib.get_close_matches(key, list(KEYS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(KEYS)})"
            raise ProjectConfigError(f"{project.where(key)}: unknown key '{key}' in {section}{hint}")
        valid, expected = KEYS[key]
        if not valid(value):
            raise ProjectConfigError(f"{project.where(key)}: '{key}' must be {expected}, not {value!r}")
    return project


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(key: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _key_lines(text: str, prefix: tuple[str, ...]) -> dict[str, int]:
    """Where each key below `prefix` is first written: a `key =` line or a `[table]` header (tomllib keeps no
    positions)."""
    table: tuple[str, ...] = ()
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if header := _HEADER.match(line):
            table = _split_key(header.group(1))
            key = table
        elif assignment := _KEY.match(line):
            key = table + _split_key(assignment.group(1))
        else:
            continue
        if len(key) > len(prefix) and key[:len(prefix)] == prefix:
            below = key[len(prefix):]
            for depth in range(1, len(below) + 1):
                lines.setdefault(".".join(below[:depth]), number)
    return lines
