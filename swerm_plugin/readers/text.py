"""Text helpers the built-in readers share: exit statuses, issue text, tool calls, ids."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import orjson

from swerm_plugin.jsonl import loads
from swerm_plugin.model import ExitStatus

# --- exit status ---------------------------------------------------------------------------

# Specific phrases only: a bare "limit" would also match an LLM's "rate limit" error.
_LIMIT_MARKERS = (
    "exceeded",  # LimitsExceeded, TimeExceeded, ContextWindowExceededError, ...
    "exit_cost",
    "exit_context",
    "cost limit",
    "cost_limit",
    "context window",
    "context_window",
    "budget",
    "max_iter",
    "maximum iteration",
    "max iteration",
    "iteration limit",
    "step limit",
    "step_limit",
    "max_steps",
    "total_execution_time",
)
_ERROR_MARKERS = ("error", "exception", "fail", "crash", "format", "timeout", "stuck", "interrupt")
_FINISHED_MARKERS = ("finish", "complete", "done", "forfeit", "stop")


def normalise_exit_status(raw: str | None) -> ExitStatus:
    """Map a framework's exit status onto ``submitted | finished | error | limit | unknown``.

    Limits win over errors (``ContextWindowExceededError`` is a limit), and both win over a
    submission (SWE-agent's ``submitted (exit_cost)`` is an auto-submission after the cost limit).
    ``finished`` is a run that ended on its own without submitting (``exit_forfeit``).
    """
    if not raw or not raw.strip():
        return "unknown"
    key = raw.strip().lower()
    if any(marker in key for marker in _LIMIT_MARKERS):
        return "limit"
    if any(marker in key for marker in _ERROR_MARKERS):
        return "error"
    if "submit" in key:
        return "submitted"
    if any(marker in key for marker in _FINISHED_MARKERS):
        return "finished"
    return "unknown"


def error_exit_status(message: str) -> ExitStatus:
    """The status of a run that stopped with ``message``: a limit, or else an error."""
    return "limit" if normalise_exit_status(message) == "limit" else "error"


# --- problem statements ----------------------------------------------------------------------

# Templates that wrap the issue text, newest frameworks first. Greedy up to the last closing tag,
# because the issue text itself may quote the tag.
_ISSUE_PATTERNS = (
    re.compile(
        r"<pr_description>\s*(?:Consider the following PR description:\s*)?(.*)</pr_description>",
        re.DOTALL,
    ),
    re.compile(r"<issue_description>\s*(.*)</issue_description>", re.DOTALL),
    re.compile(r"<issue>\s*(.*)</issue>", re.DOTALL),
    re.compile(r"ISSUE:\n(.*?)\n\s*\nINSTRUCTIONS:", re.DOTALL),
    re.compile(r"\APlease solve this issue: (.*?)\n\nYou can execute bash commands", re.DOTALL),
)


def extract_issue(task_message: str) -> str:
    """The issue text inside an agent's first user message, or the whole message."""
    for pattern in _ISSUE_PATTERNS:
        match = pattern.search(task_message)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return task_message.strip()


# --- actions ---------------------------------------------------------------------------------

_SHELL_TOOLS = frozenset({"bash", "execute_bash", "terminal", "run", "cmd_run", "shell"})
_CODE_TOOLS = frozenset({"execute_ipython_cell", "run_ipython", "ipython"})
# Bookkeeping that tools carry but the model's intent does not need.
_CALL_NOISE = frozenset({"kind", "security_risk", "summary", "thought", "confirmation_state"})


def render_call(name: str, arguments: Mapping[str, Any] | str | None) -> str:
    """A tool call as one line of text: the command for shell tools, else ``name {json}``.

    ``arguments`` may be the raw JSON string the model produced; if it does not parse it is
    shown as written (a malformed call is information for the verifier too).
    """
    args: Any = arguments
    if isinstance(arguments, str):
        try:
            args = loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError:
            return f"{name} {arguments}".strip()
    if not isinstance(args, Mapping):
        return name if args in (None, {}) else f"{name} {args!r}"
    if name in _SHELL_TOOLS and isinstance(args.get("command"), str):
        return str(args["command"])
    if name in _CODE_TOOLS and isinstance(args.get("code"), str):
        return str(args["code"])
    kept = {k: v for k, v in args.items() if k not in _CALL_NOISE and v is not None}
    if not kept:
        return name
    # msgspec, not orjson: a tool argument may hold an integer wider than 64 bits
    return f"{name} {msgspec.json.encode(kept).decode()}"


_FENCED = re.compile(
    r"```(?:bash|sh|shell|mswea_bash_command)?[ \t]*\n(.*?)\n?```|"
    r"<mswea_bash_command>(.*?)</mswea_bash_command>",
    re.DOTALL,
)
_THOUGHT_PREFIX = re.compile(r"\A\s*THOUGHT:\s*")


def split_thought_action(text: str) -> tuple[str, str]:
    """Split a text-mode agent message into its reasoning and the command it ran.

    The command is the last fenced ``bash`` block (or ``<mswea_bash_command>``); the thought is
    the text before it without a leading ``THOUGHT:``. No block: all of it is thought.
    """
    blocks = list(_FENCED.finditer(text))
    if not blocks:
        return _THOUGHT_PREFIX.sub("", text).strip(), ""
    last = blocks[-1]
    command = last.group(1) if last.group(1) is not None else last.group(2)
    thought = _THOUGHT_PREFIX.sub("", text[: last.start()]).strip()
    return thought, command.strip()


# --- ids from paths --------------------------------------------------------------------------

# File stems that name a kind of file rather than the task it holds.
_GENERIC_STEMS = frozenset({"events", "output", "history", "trajectory", "traj", "base_state"})
_ATTEMPT_DIR = re.compile(r"attempt_\d+")


def stem_of(path: Path) -> str:
    """The file name without its trajectory suffixes (``x.traj.json`` → ``x``)."""
    name = path.name
    for suffix in (".traj.json", ".traj", ".jsonl", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return path.stem or name


def instance_id_from_path(path: Path) -> str:
    """The instance id a file's name gives (``<iid>.traj``), or its folder's for generic names."""
    stem = stem_of(path)
    if stem in _GENERIC_STEMS or stem.startswith("event-"):
        return path.resolve().parent.name or stem
    return stem


def default_run_id(path: Path, instance_id: str | None) -> str:
    """The run folder holding ``path``: its parent, skipping ``<iid>/`` and ``attempt_<n>/``.

    Matches the usual layouts: ``<run>/<iid>/<iid>.traj`` (SWE-agent, mini-swe-agent),
    ``<run>/output.jsonl`` (OpenHands), ``<run>/preds.jsonl``.
    """
    folder = path.resolve().parent
    if _ATTEMPT_DIR.fullmatch(folder.name):
        folder = folder.parent
    if instance_id is not None and folder.name == instance_id and folder.parent != folder:
        folder = folder.parent
    return folder.name or str(folder)
