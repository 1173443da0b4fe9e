"""The fault suite runs apart (``make test-faults``): every test here is marked ``faults``, which
``make test`` leaves out, and the figures each scenario measured are printed as one table at the
end of the session (and written to ``test-artifacts/faults.md``)."""

from __future__ import annotations

import pytest
from faultlib import FIGURES, figures_table

from warehouse.paths import PROJECT_ROOT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not FIGURES:
        return
    table = figures_table()
    terminalreporter.write_sep("=", "fault suite: raw against the sources after each fault")
    terminalreporter.write_line(table)
    artifacts = PROJECT_ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "faults.md").write_text(table + "\n")
