"""TRT108-TRT109: a python model's `auto_complete_config`, run under `validate --run-python`.

Triton's python backend runs the method at every load unless the server has --disable-auto-complete-config
(triton-inference-server/python_backend `src/pb_stub.cc`, `Stub::AutoCompleteModelConfig`, with the checks of
`src/resources/triton_python_backend_utils.py`); a failure refuses the model with the exception as
"<type>: <message>".
"""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule


@rule("TRT108", "python-auto-complete", Severity.ERROR,
      "a python model's auto_complete_config returns a config Triton accepts", triton_core=False,
      stage=Stage.MODEL_INIT)
def python_auto_complete(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton's python backend imports model.py and calls `TritonPythonModel.auto_complete_config` when it
    loads the model. An exception (an input added without 'data_type', dims that disagree with the config's own
    tensor, a max_batch_size the config contradicts), a return value that is not the config, a hang or a crash
    all leave the model UNAVAILABLE. Checked only with --run-python: it runs the model's code.

    Bad:  config.add_input({"name": "x", "dims": [4]})   (no data_type)
    Good: config.add_input({"name": "x", "data_type": "TYPE_FP32", "dims": [4]})
    """
    served = ctx.served
    if served is not None and served.python_error:
        yield Problem(None, "fix auto_complete_config in the model file, or make config.pbtxt agree with it",
                      served.python_error, file=_model_file(ctx))
    elif served is not None and served.python_failure:
        yield Problem(None, f"{served.python_failure}; Triton runs the same code when it loads the model",
                      file=_model_file(ctx))


@rule("TRT109", "python-import-missing", Severity.WARNING,
      "the modules a python model imports are installed where validate runs", triton_core=False, stage=Stage.ADVICE)
def python_import_missing(ctx: ModelContext) -> Iterator[Problem]:
    """Why: a module the model imports is not installed here, so its auto_complete_config could not be checked.
    The server's python environment may have it (an execution environment, a custom image); when it does not,
    Triton refuses the model with the same ModuleNotFoundError.

    Bad:  import a_package_not_installed_here
    Good: install the package here too, or validate in the server's environment
    """
    served = ctx.served
    if served is not None and served.python_missing:
        yield Problem(None, f"{served.python_missing}: auto_complete_config was not checked; install it here or "
                      "validate in the server's python environment", file=_model_file(ctx))


def _model_file(ctx: ModelContext) -> str:
    number = ctx.served.versions[-1] if ctx.served.versions else 1
    folder = ctx.model.version(number)
    return f"{folder.path.name if folder is not None else number}/{ctx.completed.default_model_filename or 'model.py'}"


MODEL_DIRECTORY = "$$TRITON_MODEL_DIRECTORY"


@rule("TRT111", "python-execution-env", Severity.ERROR,
      "EXECUTION_ENV_PATH inside the model folder names an archive, or a folder holding bin/activate",
      stage=Stage.INSTANCES)
def python_execution_env(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the python backend starts each model's stub in the execution environment EXECUTION_ENV_PATH names
    ($$TRITON_MODEL_DIRECTORY is the model folder): a path that does not exist, or a folder without bin/activate,
    fails the load (python_backend src/pb_env.cc ExtractIfNotExtracted, src/stub_launcher.cc Initialize). Paths
    outside the model folder are the server's, not checked here.

    Bad:  parameters { key: "EXECUTION_ENV_PATH" value: { string_value: "$$TRITON_MODEL_DIRECTORY/env.tar.gz" } }
          with no env.tar.gz in the model folder
    Good: the conda-pack archive copied to <model>/env.tar.gz
    """
    import os

    c = ctx.completed
    if c is None or c.backend != "python" or "EXECUTION_ENV_PATH" not in c.parameters:
        return
    value = c.parameters["EXECUTION_ENV_PATH"].string_value
    if not value.startswith(MODEL_DIRECTORY):  # (elsewhere in the value, Triton's replace overruns the keyword)
        return
    folder = ctx.triton_path()
    path = folder + value[len(MODEL_DIRECTORY):]
    local = str(ctx.model.path) + value[len(MODEL_DIRECTORY):]
    where = 'parameters["EXECUTION_ENV_PATH"]'
    if not os.path.exists(local):
        yield Problem(where, f"'{value}' does not exist: put the execution environment (a conda-pack archive) in the "
                      "model folder", f"Failed to get the canonical path for {path}.")
    elif os.path.isdir(local) and not os.path.exists(os.path.join(local, "bin", "activate")):
        yield Problem(where, f"'{value}' is a folder without bin/activate: point at the conda-pack archive, or at "
                      "the unpacked environment", f"Path {os.path.realpath(path)}/bin/activate does not exist. The "
                      "Python environment should contain an 'activate' script.")


@rule("TRT112", "python-parameters", Severity.ERROR, "FORCE_CPU_ONLY_INPUT_TENSORS is \"yes\" or \"no\"",
      stage=Stage.MODEL_INIT)
def python_parameters(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the python backend reads FORCE_CPU_ONLY_INPUT_TENSORS when it creates the model and refuses any value
    but "yes" and "no" (python_backend src/python_be.cc, ModelState's constructor).

    Bad:  parameters { key: "FORCE_CPU_ONLY_INPUT_TENSORS" value: { string_value: "true" } }
    Good: parameters { key: "FORCE_CPU_ONLY_INPUT_TENSORS" value: { string_value: "no" } }
    """
    c = ctx.completed
    if c is None or c.backend != "python" or "FORCE_CPU_ONLY_INPUT_TENSORS" not in c.parameters:
        return
    value = c.parameters["FORCE_CPU_ONLY_INPUT_TENSORS"].string_value
    if value not in ("yes", "no"):
        yield Problem('parameters["FORCE_CPU_ONLY_INPUT_TENSORS"]', f"'{value}' is not \"yes\" or \"no\"",
                      f"Incorrect value for FORCE_CPU_ONLY_INPUT_TENSORS: {value}'")
