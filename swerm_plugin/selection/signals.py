"""Execution-free signals of one candidate: what its patch changes and how its run went.

Every signal is agent-agnostic: it reads the unified diff and, when the run left one, the
trajectory's steps and exit status, never a framework's private fields. Their measured effects
are in ``docs/decisions.md``; :mod:`swerm_plugin.selection.selector` combines them.

Files a patch touches fall in three roles:

- **scratch**: a file the patch *adds* at the repository root, anywhere under a name agents
  give throw-away scripts (``reproduce_bug.py``, ``debug_x.py``, ``scratch.py`` …), or that a
  build, a test run or an editor leaves behind (``_build/``, ``*.egg-info/``, ``*.orig`` …).
  They never change the behaviour under test, so they take no part in comparing fixes;
- **test**: a path inside a ``test``/``tests``/``testing`` folder, or named ``test_*``,
  ``*_test(s).py`` or ``conftest.py``;
- **docs**: under ``doc/`` or ``docs/``, reStructuredText or Markdown, or a changelog;
- **source**: everything else. The *source form* of a patch (its normal form, see
  :func:`swerm_plugin.patches.parse_patch`, restricted to source files) is what candidates vote
  on: two runs that made the same fix but wrote different tests, docs or scratch files agree.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from swerm_plugin.model import Trajectory
from swerm_plugin.patches import parse_patch, patch_stats

FileRole = Literal["source", "test", "docs", "scratch"]

_TEST_PATH = re.compile(
    r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_tests?\.py$|(^|/)conftest\.py$", re.IGNORECASE
)
_DOCS_PATH = re.compile(
    r"^docs?/|\.(rst|md|markdown|adoc)$|(^|/)(changes|changelog|history|news|authors)[^/]*$",
    re.IGNORECASE,
)
_SCRATCH_NAME = re.compile(
    r"^(reproduc\w*|repro|replicat\w*|debug|scratch|temp|tmp)([_.-]|\d|$)", re.IGNORECASE
)
# What a build, a test run or an editor leaves behind.
_ARTEFACT = re.compile(
    r"(^|/)(_?build|dist|__pycache__|\.pytest_cache|[^/]+\.egg-info)/"
    r"|\.(pyc|pyo|orig|rej|bak|swp|log)$",
    re.IGNORECASE,
)


def file_role(path: str, *, added: bool) -> FileRole:
    """The role of one changed file (see the module docs); only an added file can be scratch."""
    name = path.rsplit("/", 1)[-1]
    if added and ("/" not in path or _SCRATCH_NAME.match(name) or _ARTEFACT.search(path)):
        return "scratch"
    if _TEST_PATH.search(path):
        return "test"
    if _DOCS_PATH.search(path):
        return "docs"
    return "source"


@dataclass(frozen=True)
class PatchSignals:
    """What a patch changes, by file role."""

    source_form: str
    source_files: frozenset[str]
    source_lines: int
    test_files: tuple[str, ...]
    scratch_files: tuple[str, ...]
    new_source_files: tuple[str, ...]

    @property
    def changes_source(self) -> bool:
        """Whether it changes a source file in a way the normal form keeps."""
        return bool(self.source_form)


@functools.lru_cache(maxsize=8192)
def patch_signals(patch: str) -> PatchSignals:
    """The :class:`PatchSignals` of a unified diff (empty ones for an empty patch).

    Text that is not a unified diff counts as one source change, compared as it is.
    """
    stats = patch_stats(patch)
    added = set(stats.added_files)
    roles = {path: file_role(path, added=path in added) for path in stats.files}
    source_lines = 0
    form: list[str] = []
    source_files: set[str] = set()
    for change in parse_patch(patch):
        if roles.get(change.path, "source") != "source":
            continue
        form.append(f"@ {change.path}")
        form.extend(change.lines)
        source_lines += len(change.lines)
        source_files.add(change.path)
    return PatchSignals(
        source_form="\n".join(form),
        source_files=frozenset(source_files),
        source_lines=source_lines,
        test_files=tuple(p for p, role in roles.items() if role == "test"),
        scratch_files=tuple(p for p, role in roles.items() if role == "scratch"),
        new_source_files=tuple(p for p in stats.added_files if roles[p] == "source"),
    )


# An action that writes a file: SWE-agent's edit commands, editor tools (SWE-agent 1.x,
# OpenHands), and shell edits (sed -i, redirections into a file, git apply, patch).
_EDIT = re.compile(
    r"^\s*(edit|create|insert|append)\b"
    r"|\b(str_replace_editor|file_editor|str_replace_based_edit_tool|edit_file)\b"
    r".{0,40}\b(str_replace|create|insert|write)\b"
    r"|\bsed\s+(-\w+\s+)*-i|\bgit\s+apply\b|\bpatch\s+-p\d"
    r"|\b(cat|echo|printf|tee)\b[^|;&\n]*?(>>?\s*|\btee\s+)[\w./-]+\.\w+",
    re.DOTALL,
)
# An action that runs code: a test runner, or a Python (or other) program.
_RUN = re.compile(
    r"\b(pytest|py\.test|tox|nox|unittest|runtests(\.py)?)\b"
    r"|\bpython[\d.]*\s+(-\w+\s+)*[-\w./]+"
    r"|\b(make\s+(test|check)|npm\s+(run\s+)?test|yarn\s+test|go\s+test|cargo\s+test|mvn\s+test)\b"
)
# A run that hit a step/cost/context limit or crashed; its patch is whatever was left behind.
_CUT_SHORT = frozenset({"error", "limit"})


@dataclass(frozen=True)
class TrajectorySignals:
    """How the run went; ``None`` where the run left nothing to tell."""

    steps: int | None
    #: True: the agent submitted; False: the run hit a limit or an error; None: not recorded
    #: (or ended another way, e.g. a forfeit).
    submitted: bool | None
    ran_code_after_last_edit: bool | None


def _ran_after_last_edit(actions: list[str]) -> bool | None:
    """Whether a test or program ran after the last file edit (None: no edit seen)."""
    last: tuple[int, int] | None = None
    for i, action in enumerate(actions):
        for match in _EDIT.finditer(action):
            last = (i, match.end())
    if last is None:
        return None
    step, end = last
    if _RUN.search(actions[step], end):
        return True
    return any(_RUN.search(action) for action in actions[step + 1 :])


def trajectory_signals(trajectory: Trajectory) -> TrajectorySignals:
    """The :class:`TrajectorySignals` of one run (all ``None`` for a bare prediction)."""
    actions = [s.action for s in trajectory.steps if s.role == "assistant" and s.action]
    steps = sum(1 for s in trajectory.steps if s.role == "assistant")
    status = trajectory.exit_status
    submitted = True if status == "submitted" else False if status in _CUT_SHORT else None
    return TrajectorySignals(
        steps=steps or None,
        submitted=submitted,
        ran_code_after_last_edit=_ran_after_last_edit(actions) if actions else None,
    )
