"""The main job of ``make install`` (examples/score_demo.py) as a newcomer sees it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_demo_says_what_its_figures_are_and_leaves_no_temporary_files() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "score_demo.py")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    out = result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RANDOM weights" in out and "not a verdict" in out
    assert "SYNTHETIC" in out and "not how it does on real agents" in out
    assert out.count("text__slug-4") >= 2  # both runs' trajectories were scored
    assert re.search(r"│ 1 │ +(\d+\.\d\d) │", out) and "pass@k (oracle)" in out
    best_at_1 = re.search(r"│ 1 │ +(\d+\.\d\d) │", out)
    random_pick = re.search(r"│ +(\d+\.\d\d) │ +\d+\.\d\d │ +\d+\.\d\d │ +\d+\.\d\d │\n└", out)
    assert best_at_1 and random_pick and best_at_1.group(1) == random_pick.group(1)
    scratch = re.search(r"the demo's files were in (\S+), now removed", out)
    assert scratch and not Path(scratch.group(1)).exists()
