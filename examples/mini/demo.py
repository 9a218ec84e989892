"""SwermAgent end to end, offline, in a few seconds: ``python examples/mini/demo.py``.

A scripted model (mini-swe-agent's DeterministicModel) fixes a bug in a throwaway git repository
twice; a tiny random verifier, built locally, scores each submission with the real transformers
backend. The threshold is set above what a random model reaches, so attempt 1 is sent back
(refine), attempt 2 is rejected too, and the better-scored of the two is submitted: the printed
table is the decisions log.
Point SWERM_CONFIG at a real verifier's swerm.toml to score with it instead.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")

import orjson
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.test_models import DeterministicModel, make_output
from rich.console import Console
from rich.table import Table

from swerm_plugin.config import load_config
from swerm_plugin.integrations.common import SwermSession, use_session
from swerm_plugin.integrations.mini import SwermAgent

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff"


def make_repo(path: Path) -> None:
    path.mkdir()
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "calc.py"],
        [
            "git",
            "-c",
            "user.name=demo",
            "-c",
            "user.email=demo@example.invalid",
            "commit",
            "-qm",
            "init",
        ],
    ):
        subprocess.run(command, cwd=path, check=True)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="swerm-mini-demo-"))
    make_repo(work / "repo")
    if os.environ.get("SWERM_CONFIG"):
        config = load_config()
    else:
        from swerm_plugin.testing import make_tiny_model

        model = make_tiny_model(work / "tiny-verifier")
        config = load_config(
            backend="transformers", model=str(model), policy={"threshold": 0.99, "max_attempts": 2}
        )
    outputs = [
        make_output(
            "Multiply?", [{"command": "printf 'def add(a, b):\\n    return a * b\\n' > calc.py"}]
        ),
        make_output("Submit.", [{"command": SUBMIT}]),
        make_output(
            "Add, of course.",
            [{"command": "printf 'def add(a, b):\\n    return a + b\\n' > calc.py"}],
        ),
        make_output("Submit again.", [{"command": SUBMIT}]),
    ]
    session = SwermSession(config, "mini-swe-agent", log_path=work / "swerm_decisions.jsonl")
    with use_session(session):
        agent = SwermAgent(
            DeterministicModel(outputs=outputs),
            LocalEnvironment(cwd=str(work / "repo")),
            system_template="You fix bugs.",
            instance_template="{{task}}",
            output_path=work / "run" / "calc-1.traj.json",
            cost_limit=0,  # the scripted model "costs" 1 per call; mini stops at 3 by default
        )
        info = agent.run("add(2, 3) returns -1 instead of 5")
    session.close()

    table = Table(title=f"decisions log: {session.log_path}")
    for column in ("event", "attempt", "action", "p", "reason"):
        table.add_column(column)
    for line in (work / "swerm_decisions.jsonl").read_bytes().splitlines():
        record = orjson.loads(line)
        p = record.get("p")
        table.add_row(
            record["event"],
            str(record.get("attempt") or record.get("selected_attempt")),
            record["action"],
            "" if p is None else f"{p:.3f}",
            record["reason"] or "",
        )
    console = Console()
    console.print(table)
    console.print(f"submitted patch (exit status {info['exit_status']}):\n{info['submission']}")
    console.print(f"trajectories: {sorted(p.name for p in (work / 'run').iterdir())}")


if __name__ == "__main__":
    main()
