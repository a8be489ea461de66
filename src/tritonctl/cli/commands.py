"""The commands of `tritonctl`, declared once: each one's name, where it is defined and the line that sums it up.

cli/app.py builds the typer application from this table (the summary is each command's short help, a group's help);
cli/start.py renders `tritonctl --help` from it without importing typer or any command. Nothing is imported here:
this module is on the start path of every command.
"""

from __future__ import annotations

HELP = "From a training framework to a running Triton Inference Server: export, config, validate, version, sync, serve."

# The root's own options, as its --help lists them (click adds -h, --help itself).
VERSION_OPTION = ("--version", "Print the version and exit.")
HELP_NAMES = ("-h", "--help")  # the root's and every command's help option
HELP_OPTION = (", ".join(HELP_NAMES), "Show this message and exit.")  # click's own words for its help option


class Command:
    """A command (`attribute` a function) or a group of commands (`attribute` a table of (name, function)) in
    `tritonctl.cli.<module>`."""

    __slots__ = ("name", "module", "attribute", "summary", "group")

    def __init__(self, name: str, module: str, attribute: str, summary: str, *, group: bool = False) -> None:
        self.name, self.module, self.attribute, self.summary, self.group = name, module, attribute, summary, group


# In the order --help lists them (typer lists single commands before groups).
COMMANDS = (
    Command("validate", "validate", "validate", "Check a repository as Triton 2.51 would load it, offline."),
    Command("rules", "rules", "rules", "List the validation rules, or explain one."),
    Command("load", "live", "load", "Serve what MODEL's config selects, without a gap in service."),
    Command("unload", "live", "unload", "Unload MODEL (all its versions) from a server in EXPLICIT mode."),
    Command("status", "live", "status", "What servers serve beside what the repository selects."),
    Command("infer", "live", "infer", "A smoke inference against a served model."),
    Command("sync", "sync", "sync", "Copy a repository to a folder or S3 by content, Triton-safe."),
    Command("tune", "tune", "tune", "Find MODEL's fastest serving settings within a latency budget."),
    Command("export", "export", "COMMANDS", "Export EAST (TensorFlow) or STR (PyTorch) as a new ONNX version.",
            group=True),
    Command("config", "config", "COMMANDS", "Write configs from model files; show the config Triton will serve.",
            group=True),
    Command("version", "version", "COMMANDS", "Add, list and remove model versions.", group=True),
    Command("policy", "policy", "COMMANDS", "Show or set which versions Triton serves (version_policy).", group=True),
    Command("server", "server", "COMMANDS", "Run local Triton 2.51 servers on the CPU, each under a name.", group=True),
)
