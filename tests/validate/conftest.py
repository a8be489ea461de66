from __future__ import annotations

import pytest

from conftest import write_tree
from validate.cases import BRANCHES, CASES


def fixture_names(code: str) -> tuple[str, str]:
    case = CASES[code]
    return case.fail_name or f"{code.lower()}_fail", f"{code.lower()}_pass"


@pytest.fixture(scope="session")
def fixtures_repo(tmp_path_factory):
    """Every case's passing and failing model (and the models they need) in one repository."""
    root = tmp_path_factory.mktemp("rule_fixtures") / "repo"
    for code, case in CASES.items():
        fail, passing = fixture_names(code)
        write_tree(root / fail, case.fail)
        write_tree(root / passing, case.passing)
        for name, files in case.extra.items():
            if not (root / name).exists():
                write_tree(root / name, files)
    for code, branches in BRANCHES.items():
        for branch, case in branches.items():
            write_tree(root / branch_name(code, branch), case.fail)
    return root


def branch_name(code: str, branch: str) -> str:
    return f"{code.lower()}_fail_{branch}"
