"""TRT301-TRT321: dynamic batching, sequence batching and the response cache (core src/model_config_utils.cc and
src/sequence_batch_scheduler/sequence_batch_scheduler.cc)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule

STRATEGY_PARAM = "TRITON_BATCH_STRATEGY_PATH"


def _db(ctx: ModelContext):
    c = ctx.completed
    return (c, c.dynamic_batching) if c is not None and c.HasField("dynamic_batching") else (c, None)


@rule("TRT301", "preferred-batch-size-positive", Severity.ERROR,
      "dynamic_batching preferred_batch_size values must be positive", stage=Stage.CONFIG)
def preferred_batch_size_positive(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a preferred batch size of 0 or less ("dynamic batching preferred size must be
    positive").

    Bad:  dynamic_batching { preferred_batch_size: [0, 4] }
    Good: dynamic_batching { preferred_batch_size: [2, 4] }
    """
    c, db = _db(ctx)
    for i, size in enumerate(db.preferred_batch_size if db else ()):
        if size <= 0:
            yield Problem(f"dynamic_batching.preferred_batch_size[{i}]", f"preferred batch size {size} must be "
                          "positive", f"dynamic batching preferred size must be positive for {c.name}")
            return


@rule("TRT302", "preferred-batch-size-too-large", Severity.ERROR,
      "dynamic_batching preferred_batch_size values must not exceed max_batch_size", stage=Stage.CONFIG)
def preferred_batch_size_too_large(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a preferred batch size above max_batch_size ("dynamic batching preferred size
    must be <= max batch size"); with max_batch_size 0 any preferred size fails.

    Bad:  max_batch_size: 4  dynamic_batching { preferred_batch_size: [8] }
    Good: max_batch_size: 8  dynamic_batching { preferred_batch_size: [8] }
    """
    c, db = _db(ctx)
    if db is None or any(s <= 0 for s in db.preferred_batch_size):
        return
    for i, size in enumerate(db.preferred_batch_size):
        if size > c.max_batch_size:
            yield Problem(f"dynamic_batching.preferred_batch_size[{i}]",
                          f"preferred batch size {size} exceeds max_batch_size {c.max_batch_size}; lower it or "
                          "raise max_batch_size", f"dynamic batching preferred size must be <= max batch size "
                          f"for {c.name}")
            return


@rule("TRT303", "default-priority-level", Severity.ERROR,
      "with priority_levels, default_priority_level must be in [1, priority_levels]", stage=Stage.CONFIG)
def default_priority_level(ctx: ModelContext) -> Iterator[Problem]:
    """Why: when priority_levels is set Triton needs a default level inside the range; leaving it unset (0)
    fails ("default priority level must be in range").

    Bad:  dynamic_batching { priority_levels: 3 }
    Good: dynamic_batching { priority_levels: 3 default_priority_level: 2 }
    """
    c, db = _db(ctx)
    if db is None or db.priority_levels == 0:
        return
    if not 1 <= db.default_priority_level <= db.priority_levels:
        yield Problem("dynamic_batching.default_priority_level" if db.default_priority_level else
                      "dynamic_batching.priority_levels",
                      f"set default_priority_level between 1 and {db.priority_levels}",
                      f"default priority level must be in range [1, {db.priority_levels}] for {c.name}")


@rule("TRT304", "priority-queue-policy-level", Severity.ERROR,
      "priority_queue_policy keys must be levels in [1, priority_levels]", stage=Stage.CONFIG)
def priority_queue_policy_level(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a queue policy for a priority level that does not exist ("priority queue policy
    must have priority level in range"). With priority_levels 0 the keys are not checked.

    Bad:  priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 3 value { } }
    Good: priority_levels: 3 default_priority_level: 1 priority_queue_policy { key: 3 value { } }
    """
    c, db = _db(ctx)
    if db is None or db.priority_levels == 0 or not 1 <= db.default_priority_level <= db.priority_levels:
        return
    for level in sorted(db.priority_queue_policy):
        if not 1 <= level <= db.priority_levels:
            yield Problem(f'dynamic_batching.priority_queue_policy["{level}"]',
                          f"priority level {level} does not exist (1..{db.priority_levels})",
                          f"priority queue policy must have priority level in range [1, {db.priority_levels}] "
                          f"for {c.name}")
            return


@rule("TRT305", "preserve-ordering-priorities", Severity.ERROR,
      "preserve_ordering allows one priority level only", stage=Stage.CONFIG)
def preserve_ordering_priorities(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses preserve_ordering with more than one priority level ("Only one priority level is
    allowed when 'preserve_ordering' is true").

    Bad:  dynamic_batching { preserve_ordering: true priority_levels: 2 default_priority_level: 1 }
    Good: dynamic_batching { preserve_ordering: true }
    """
    c, db = _db(ctx)
    if db is not None and db.preserve_ordering and db.priority_levels > 1 and \
            1 <= db.default_priority_level <= db.priority_levels and \
            all(1 <= k <= db.priority_levels for k in db.priority_queue_policy):
        yield Problem("dynamic_batching.preserve_ordering", "drop preserve_ordering or use one priority level",
                      f"Only one priority level is allowed when 'preserve_ordering' is true for {c.name}")


@rule("TRT306", "preserve-ordering-delay", Severity.ERROR,
      "preserve_ordering forbids a queue policy that DELAYs timed-out requests", stage=Stage.CONFIG)
def preserve_ordering_delay(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a queue policy with timeout_action DELAY and a non-zero default timeout when
    preserve_ordering is on ("Queue policy can not have DELAY as timeout action").

    Bad:  preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100 }
    Good: preserve_ordering: true default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 100 }
    """
    from tritonctl.io.proto.model_config_pb2 import ModelQueuePolicy

    c, db = _db(ctx)
    if db is None or not db.preserve_ordering or db.priority_levels > 1:
        return
    policies = [("dynamic_batching.default_queue_policy", db.default_queue_policy)] if db.HasField(
        "default_queue_policy") else []
    policies += [(f'dynamic_batching.priority_queue_policy["{k}"]', db.priority_queue_policy[k])
                 for k in sorted(db.priority_queue_policy)]
    for where, policy in policies:
        if policy.timeout_action == ModelQueuePolicy.DELAY and policy.default_timeout_microseconds != 0:
            yield Problem(where, "use timeout_action REJECT (or drop preserve_ordering)",
                          f"Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true "
                          f"for {c.name}")
            return


@rule("TRT307", "batch-strategy-path", Severity.ERROR,
      "TRITON_BATCH_STRATEGY_PATH must name an existing file and not be used with sequence batching",
      stage=Stage.CONFIG)
def batch_strategy_path(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton loads a custom batching library from the path in the TRITON_BATCH_STRATEGY_PATH
    parameter; a missing file fails the load ("Batching library path not found"), and the parameter
    cannot be combined with sequence batching.

    Bad:  parameters { key: "TRITON_BATCH_STRATEGY_PATH" value { string_value: "/missing.so" } }
    Good: the path of an existing batching library, with dynamic batching
    """
    c = ctx.completed
    if c is None or STRATEGY_PARAM not in c.parameters:
        return
    path = c.parameters[STRATEGY_PARAM].string_value
    field = f'parameters["{STRATEGY_PARAM}"]'
    if c.HasField("sequence_batching"):
        yield Problem(field, "remove TRITON_BATCH_STRATEGY_PATH: it cannot be used with sequence batching",
                      "TRITON_BATCH_STRATEGY_PATH cannot be specified with sequence batcher, using default "
                      "batching strategy")
        return
    import os

    if not os.path.exists(path):
        yield Problem(field, f"batching library '{path}' does not exist", f"Batching library path not found: "
                      f"{path}")


def _sb(ctx: ModelContext):
    c = ctx.completed
    return (c, c.sequence_batching) if c is not None and c.HasField("sequence_batching") else (c, None)


def _controls(sb):
    for i, ci in enumerate(sb.control_input):
        for j, control in enumerate(ci.control):
            yield i, j, ci, control


def _kind_name(kind: int) -> str:
    from tritonctl.io.proto.model_config_pb2 import ModelSequenceBatching

    return ModelSequenceBatching.Control.Kind.Name(kind)


@rule("TRT310", "sequence-control-name", Severity.ERROR, "every sequence control_input needs a name",
      stage=Stage.CONFIG)
def sequence_control_name(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a control_input without a name ("sequence batching control tensor must have a
    name").

    Bad:  control_input [ { control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] } ] } ]
    Good: control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] } ] } ]
    """
    c, sb = _sb(ctx)
    for i, ci in enumerate(sb.control_input if sb else ()):
        if not ci.name:
            yield Problem(f"sequence_batching.control_input[{i}]", "give the control input a name",
                          f"sequence batching control tensor must have a name for {c.name}")
            return


@rule("TRT311", "sequence-control-tensor-reused", Severity.ERROR,
      "a sequence control tensor name is used by one control_input only", stage=Stage.CONFIG)
def sequence_control_tensor_reused(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a tensor name used by two control_input entries ("is specified for multiple
    control kinds").

    Bad:  control_input [ { name: "C" ... START ... }, { name: "C" ... END ... } ]
    Good: control_input [ { name: "START" ... }, { name: "END" ... } ]
    """
    c, sb = _sb(ctx)
    seen = set()
    for i, ci in enumerate(sb.control_input if sb else ()):
        if ci.name in seen:
            yield Problem(f"sequence_batching.control_input[{i}].name", f"'{ci.name}' is already a control "
                          "input; use a distinct tensor per control", f"sequence batching control tensor "
                          f"'{ci.name}' is specified for multiple control kinds for {c.name}")
            return
        if ci.name:
            seen.add(ci.name)


@rule("TRT312", "sequence-control-kind-repeated", Severity.ERROR,
      "each sequence control kind (START, END, READY, CORRID) appears once", stage=Stage.CONFIG)
def sequence_control_kind_repeated(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses two controls of the same kind ("sequence batching specifies multiple
    CONTROL_SEQUENCE_END tensors").

    Bad:  two control_input entries both with kind CONTROL_SEQUENCE_END
    Good: one CONTROL_SEQUENCE_END control
    """
    c, sb = _sb(ctx)
    seen = set()
    for i, j, _ci, control in _controls(sb) if sb else ():
        if control.kind in seen:
            kind = _kind_name(control.kind)
            yield Problem(f"sequence_batching.control_input[{i}].control[{j}]", f"{kind} is given twice; keep one",
                          f"sequence batching specifies multiple {kind} tensors for {c.name}")
            return
        seen.add(control.kind)


@rule("TRT313", "sequence-control-false-true", Severity.ERROR,
      "START/END/READY controls carry exactly one *_false_true list of exactly 2 values",
      stage=Stage.CONFIG)
def sequence_control_false_true(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton needs the false and true values of a START, END or READY control in exactly one of
    int32_false_true, fp32_false_true or bool_false_true, with exactly 2 entries.

    Bad:  control [ { kind: CONTROL_SEQUENCE_READY } ]
    Good: control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [0, 1] } ]
    """
    from tritonctl.io.proto.model_config_pb2 import ModelSequenceBatching

    corrid = ModelSequenceBatching.Control.CONTROL_SEQUENCE_CORRID
    c, sb = _sb(ctx)
    for i, j, _ci, control in _controls(sb) if sb else ():
        if control.kind == corrid:
            continue
        kind = _kind_name(control.kind)
        where = f"sequence_batching.control_input[{i}].control[{j}]"
        lists = [(n, getattr(control, n)) for n in ("int32_false_true", "fp32_false_true", "bool_false_true")]
        given = [(n, v) for n, v in lists if len(v) > 0]
        if not given:
            yield Problem(where, f"give {kind} its false and true values, e.g. int32_false_true: [0, 1]",
                          "sequence batching must specify either 'int32_false_true', 'fp32_false_true' or "
                          f"'bool_false_true' for {kind} for {c.name}")
            return
        if len(given) > 1:
            yield Problem(where, "keep one of int32_false_true, fp32_false_true, bool_false_true",
                          "sequence batching specifies more than one from 'int32_false_true', 'fp32_false_true' "
                          f"and 'bool_false_true' for {kind} for {c.name}")
            return
        name, values = given[0]
        if len(values) != 2:
            yield Problem(f"{where}.{name}", f"{name} needs exactly 2 values (false, true), not {len(values)}",
                          f"sequence batching control '{name}' must have exactly 2 entries for {kind} for "
                          f"{c.name}")
            return


@rule("TRT314", "sequence-corrid-control", Severity.ERROR,
      "the CORRID control has a data_type and no *_false_true values", stage=Stage.CONFIG)
def sequence_corrid_control(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the correlation-ID control carries the sequence id, so Triton refuses *_false_true values on it
    and needs a data_type of TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 or TYPE_STRING.

    Bad:  control [ { kind: CONTROL_SEQUENCE_CORRID } ]
    Good: control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ]
    """
    from tritonctl.io.proto.model_config_pb2 import DataType, ModelSequenceBatching

    allowed = {DataType.TYPE_UINT64, DataType.TYPE_INT64, DataType.TYPE_UINT32, DataType.TYPE_INT32,
               DataType.TYPE_STRING}
    c, sb = _sb(ctx)
    for i, j, _ci, control in _controls(sb) if sb else ():
        if control.kind != ModelSequenceBatching.Control.CONTROL_SEQUENCE_CORRID:
            continue
        where = f"sequence_batching.control_input[{i}].control[{j}]"
        if control.int32_false_true or control.fp32_false_true or control.bool_false_true:
            yield Problem(where, "remove *_false_true from the CORRID control; give it a data_type",
                          "sequence batching must not specify either 'int32_false_true', 'fp32_false_true' or "
                          f"'bool_false_true' for CONTROL_SEQUENCE_CORRID for {c.name}")
            return
        if control.data_type not in allowed:
            yield Problem(f"{where}.data_type", "set data_type to TYPE_UINT64, TYPE_INT64, TYPE_UINT32, "
                          "TYPE_INT32 or TYPE_STRING", "unexpected data type for control CONTROL_SEQUENCE_CORRID "
                          f"for {c.name}. Allowed data types are TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 "
                          "and TYPE_STRING")
            return


@rule("TRT315", "sequence-oldest-preferred-size", Severity.ERROR,
      "oldest preferred_batch_size values are positive and at most max_batch_size", stage=Stage.CONFIG)
def sequence_oldest_preferred_size(ctx: ModelContext) -> Iterator[Problem]:
    """Why: as for dynamic batching, Triton refuses preferred sizes of the oldest sequence strategy that are
    not positive or exceed max_batch_size.

    Bad:  max_batch_size: 4 sequence_batching { oldest { preferred_batch_size: [8] } }
    Good: max_batch_size: 8 sequence_batching { oldest { preferred_batch_size: [8] } }
    """
    c, sb = _sb(ctx)
    if sb is None or not sb.HasField("oldest"):
        return
    for i, size in enumerate(sb.oldest.preferred_batch_size):
        where = f"sequence_batching.oldest.preferred_batch_size[{i}]"
        if size <= 0:
            yield Problem(where, f"preferred batch size {size} must be positive",
                          f"sequence batching preferred batch size must be positive for {c.name}")
            return
        if size > c.max_batch_size:
            yield Problem(where, f"preferred batch size {size} exceeds max_batch_size {c.max_batch_size}",
                          f"sequence batching preferred batch size must be <= max batch size for {c.name}")
            return


@rule("TRT316", "sequence-slot-utilization", Severity.ERROR,
      "direct minimum_slot_utilization is between 0.0 and 1.0", stage=Stage.CONFIG)
def sequence_slot_utilization(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a minimum slot utilization outside [0, 1] (its message says (0.0, 1.0], but 0.0
    is accepted).

    Bad:  sequence_batching { direct { minimum_slot_utilization: 1.5 } }
    Good: sequence_batching { direct { minimum_slot_utilization: 0.5 } }
    """
    c, sb = _sb(ctx)
    if sb is None or not sb.HasField("direct"):
        return
    value = sb.direct.minimum_slot_utilization
    if not 0.0 <= value <= 1.0:
        yield Problem("sequence_batching.direct.minimum_slot_utilization", f"{value:g} is not between 0 and 1",
                      f"sequence batching minimum slot utilization must be in range (0.0, 1.0] for {c.name}")


@rule("TRT317", "sequence-initial-state", Severity.ERROR,
      "sequence state initial_state entries are complete and match their state", stage=Stage.SCHEDULER)
def sequence_initial_state(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton builds the initial value of each implicit state from initial_state when it creates the
    scheduler; it refuses more than one entry, a missing name or data, a data_type or shape that differs
    from the state, variable dims, and a data_file shorter than the shape needs.

    Bad:  state [ { input_name: "IN" output_name: "OUT" data_type: TYPE_INT32 dims: [1]
                    initial_state: { name: "init" data_type: TYPE_FP32 dims: [1] zero_data: true } } ]
    Good: ... initial_state: { name: "init" data_type: TYPE_INT32 dims: [1] zero_data: true }
    """

    c, sb = _sb(ctx)
    seen_inputs = set()
    for i, state in enumerate(sb.state if sb else ()):
        base = f"sequence_batching.state[{i}]"
        name = state.input_name
        if len(state.initial_state) > 1:
            yield Problem(f"{base}.initial_state[1]", "keep one initial_state",
                          f"initial_state field for state input '{name}' must contain exactly one or zero element."
                          f" Found '{len(state.initial_state)}' elements.")
            return
        if not state.initial_state:
            continue
        init = state.initial_state[0]
        where = f"{base}.initial_state[0]"
        if init.data_type != state.data_type:
            yield Problem(f"{where}.data_type", "use the state's data_type for its initial_state",
                          f"The data type used for 'initial_state' field of state '{name}' does not match the "
                          "state data type.")
            return
        if not init.name:
            yield Problem(where, "give the initial_state a name",
                          f"Field 'name' must be set when using initial_state for state input '{name}'.")
            return
        if name in seen_inputs:
            yield Problem(f"{base}.input_name", f"state input '{name}' is declared twice",
                          f"State input name '{name}' specified more than once.")
            return
        seen_inputs.add(name)
        if len(init.dims) != len(state.dims):
            yield Problem(f"{where}.dims", "give initial_state the same number of dims as the state",
                          f"Number of dimensions in 'initial_state' doesn't match the size of 'state' dimensions "
                          f"for state input '{name}'. {len(init.dims)} != {len(state.dims)}")
            return
        for k, (a, b) in enumerate(zip(init.dims, state.dims)):
            if a == -1:
                yield Problem(f"{where}.dims[{k}]", "initial_state dims must be fixed sizes",
                              f"'initial_state' field for state input name '{name}' contains variable dimensions.")
                return
            if b != -1 and a != b:
                yield Problem(f"{where}.dims[{k}]", f"dim {a} differs from the state's {b}",
                              f"'initial_state' dim for input name '{name}' doesn't match 'state' dim description."
                              f" {a} != {b}")
                return
        choice = init.WhichOneof("state_data")
        if choice is None:
            yield Problem(where, "set zero_data: true or data_file",
                          f"initial_state setting expects state'{name}' to have state_data set")
            return
        if choice == "data_file":
            problem = data_file_problem(ctx, "initial_state", init.data_file, init.data_type, list(init.dims),
                                        f"{where}.data_file", "initial_state", ".")
            if problem:
                yield problem
                return


_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 2, 8: 4, 9: 8, 10: 2, 11: 4, 12: 8, 14: 2}


def data_file_problem(ctx: ModelContext, folder: str, name: str, data_type: int, dims: list[int], field: str,
                      setting: str, end: str) -> Problem | None:
    """A data file Triton reads from `<model>/<folder>/` (initial states, warmup samples): missing, or shorter
    than the shape needs (strings take the whole file)."""
    from tritonctl.io.proto.model_config_pb2 import DataType

    path = ctx.model.path / folder / name
    if not path.is_file():
        return Problem(field, f"{folder}/{name} does not exist",
                       f"failed to open text file for read {ctx.triton_path(folder, name)}: No such file or directory")
    size, needed = path.stat().st_size, byte_size(data_type, dims)
    if data_type != DataType.TYPE_STRING and size < needed:
        return Problem(field, f"{folder}/{name} holds {size} bytes; the shape needs {needed}",
                       f"{setting} setting expects {needed} bytes, but the data provided from {name}only has {size} "
                       f"bytes{end}")
    return None


def byte_size(data_type: int, dims: list[int]) -> int:
    count = 1
    for d in dims:
        count *= d
    return count * _TYPE_SIZE.get(data_type, 0)


@rule("TRT320", "response-cache-sequence", Severity.ERROR,
      "the response cache cannot be enabled for a sequence-batching model", stage=Stage.CONFIG)
def response_cache_sequence(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses response_cache { enable: true } together with sequence_batching ("Response Cache
    does not currently support model ... with sequence batching scheduler").

    Bad:  sequence_batching { } response_cache { enable: true }
    Good: sequence_batching { }
    """
    c = ctx.completed
    if c is not None and c.response_cache.enable and c.HasField("sequence_batching"):
        yield Problem("response_cache.enable", "disable the response cache or drop sequence batching",
                      f"Response Cache does not currently support model {c.name} with sequence batching "
                      "scheduler. Please disable the response cache.")


@rule("TRT321", "response-cache-decoupled", Severity.ERROR,
      "the response cache cannot be enabled for a decoupled model", stage=Stage.CONFIG)
def response_cache_decoupled(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses response_cache { enable: true } with model_transaction_policy { decoupled: true }.

    Bad:  model_transaction_policy { decoupled: true } response_cache { enable: true }
    Good: model_transaction_policy { decoupled: true }
    """
    c = ctx.completed
    if c is not None and c.response_cache.enable and c.model_transaction_policy.decoupled \
            and not c.HasField("sequence_batching"):
        yield Problem("response_cache.enable", "disable the response cache for a decoupled model",
                      f"Response Cache does not currently support model {c.name} with 'decoupled' transaction "
                      "policy. Please disable the response cache.")
