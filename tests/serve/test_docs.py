"""docs/serve.md names every error kind the service answers with and every metric it exports."""

from __future__ import annotations

import re
from pathlib import Path

from swerm_plugin.serve.metrics import ServeMetrics

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "serve.md").read_text()


def test_every_error_kind_is_documented() -> None:
    code = "".join(p.read_text() for p in (REPO / "swerm_plugin" / "serve").glob("*.py"))
    kinds = set(re.findall(r'Problem\(\s*\d{3},\s*"([a-z_]+)"', code))
    kinds |= {"internal", "plugin_error"}  # chosen by type in app.as_problem
    assert len(kinds) > 10, kinds
    missing = sorted(k for k in kinds if f"`{k}`" not in DOC)
    assert not missing, f"docs/serve.md does not list the error kinds {missing}"


def test_every_metric_is_documented() -> None:
    names = {family.name for family in ServeMetrics().registry.collect()}
    assert len(names) == 8, names
    missing = sorted(n for n in names if f"`{n}" not in DOC)
    assert not missing, f"docs/serve.md does not list the metrics {missing}"
