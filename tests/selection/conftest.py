"""Patches and runs for the selector's tests, written here in real formats (unified diffs,
SWE-bench predictions, SWE-agent 1.x trajectories)."""

from __future__ import annotations

from collections.abc import Sequence

from swerm_plugin.model import CandidateGroup, Trajectory


def diff(path: str, removed: Sequence[str], added: Sequence[str], *, new: bool = False) -> str:
    """A one-hunk unified diff of ``path`` (a new file when ``new``)."""
    if new:
        head = f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
        hunk = f"@@ -0,0 +1,{len(added)} @@\n"
        return head + hunk + "".join(f"+{line}\n" for line in added)
    head = f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
    hunk = f"@@ -10,{len(removed) + 1} +10,{len(added) + 1} @@ def f():\n     x = 0\n"
    return head + hunk + "".join(f"-{r}\n" for r in removed) + "".join(f"+{a}\n" for a in added)


FIX = diff("pkg/mod.py", ["    return items[0]"], ["    if not items:", "        return None"])
OTHER_FIX = diff("pkg/mod.py", ["    return items[0]"], ["    return items[0] if items else 0"])
ELSEWHERE = diff("pkg/other.py", ["y = 1"], ["y = 2"])
TEST_CHANGE = diff("tests/test_mod.py", [], ["def test_empty():", "    assert f([]) is None"])
SCRATCH = diff("reproduce_bug.py", [], ["from pkg.mod import f", "print(f([]))"], new=True)


def group(*candidates: Trajectory) -> CandidateGroup:
    return CandidateGroup(instance_id="pkg__pkg-1", candidates=list(candidates))


def candidate(patch: str, run: str = "r", **fields: object) -> Trajectory:
    return Trajectory(instance_id="pkg__pkg-1", source="test", patch=patch, run_id=run, **fields)  # type: ignore[arg-type]
