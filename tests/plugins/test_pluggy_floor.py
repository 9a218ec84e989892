"""The hooks work on the lowest pluggy that pyproject.toml allows, not only on the newest.

pluggy below 1.7 passes an implementation no argument that has a default value, so a default
hook written ``def swerm_select(group, scores, config=None)`` silently lost its configuration
there. This runs swerm's hooks in a subprocess whose pluggy is exactly the declared floor.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import pluggy, sys
assert pluggy.__version__.startswith(sys.argv[1]), pluggy.__version__
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import CandidateGroup, Score, Trajectory
from swerm_plugin.plugins.manager import get_hooks

same = "diff --git a/x.py b/x.py\\n--- a/x.py\\n+++ b/x.py\\n@@ -1 +1 @@\\n-a\\n+b\\n"
other = same.replace("+b", "+c")
group = CandidateGroup(instance_id="t", candidates=[
    Trajectory(instance_id="t", source="test", patch=other),
    Trajectory(instance_id="t", source="test", patch=same),
    Trajectory(instance_id="t", source="test", patch=same),
])
tied = [Score(raw=0.5), Score(raw=0.5), Score(raw=0.5)]
# tiebreak (the default): the two agreeing candidates win the tie
assert get_hooks(SwermConfig()).select(group, tied)[0] == 1
# the config reaches the hook: with consensus off the tie keeps the original order
off = SwermConfig(policy={"consensus": "off"})
assert get_hooks(off).select(group, tied)[0] == 0, "policy.consensus was ignored"
low = SwermConfig(policy={"threshold": 0.4})
decision = get_hooks(low).decide(group.candidates[1], Score(raw=0.45), 1)
assert decision.action == "accept", decision
print("ok")
"""


def _floor() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    [spec] = [d for d in project["dependencies"] if d.startswith("pluggy")]
    assert ">=" in spec, f"pluggy needs a floor in pyproject.toml, found {spec!r}"
    return spec.split(">=")[1].split(",")[0].strip()


@pytest.mark.slow
def test_hooks_receive_their_config_on_the_lowest_allowed_pluggy(tmp_path: Path) -> None:
    floor = _floor()
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "-d", str(tmp_path), f"pluggy=={floor}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert download.returncode == 0, download.stderr
    [wheel] = tmp_path.glob("pluggy-*.whl")
    env = {"PYTHONPATH": f"{wheel}:{REPO}", "SWERM_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, floor], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
