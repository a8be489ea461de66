"""tritonctl rules: the rule codes, and what each checks."""

from __future__ import annotations

from typing import Annotated, Optional

from tritonctl.cli._params import Argument


def rules(
    code: Annotated[Optional[str], Argument(metavar="CODE", help="A rule code (TRT101) for its full "
                                                                 "description.")] = None,
) -> None:
    """List the validation rules, or explain one."""
    from tritonctl.cli._output import render_rule, render_rules
    from tritonctl.errors import UsageError
    from tritonctl.validate.registry import RULES, all_rules

    rules_list = all_rules()
    if code is None:
        render_rules(rules_list)
        return
    found = RULES.get(code.upper())
    if found is None:
        raise UsageError(f"unknown rule code '{code}'", hint="list the codes with: tritonctl rules")
    render_rule(found)
