"""SWE-agent ``.traj`` files, 0.x and 1.x, including the retry agent's ``attempts``.

Layout: ``<out>/<iid>/<iid>.traj`` (1.x) or ``trajectories/<user>/<run>/<iid>.traj`` (0.x).
A ``.traj`` is ``{trajectory: [...], history: [...], info: {...}, replay_config, environment}``;
0.x has no ``replay_config`` and stores each step's ``state`` as a JSON string. Each
``trajectory`` entry becomes one assistant :class:`Step` (thought, action, observation; the raw
model ``response`` as content). The instance id is ``replay_config.problem_statement.id``
(1.x), else the file name; the issue text is ``problem_statement.text`` when the config has it,
else the ``ISSUE:``/``<pr_description>`` part of the first user message in ``history``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from swerm_plugin.model import Step, Trajectory
from swerm_plugin.readers.base import JsonReader
from swerm_plugin.readers.fields import Obj, Where
from swerm_plugin.readers.probe import JsonSource
from swerm_plugin.readers.text import (
    extract_issue,
    instance_id_from_path,
    normalise_exit_status,
)


def _looks_like_traj(value: Any) -> bool:
    # Detection goes by keys only; reading checks the types, so a damaged .traj gets an error
    # naming the bad field rather than "unknown format".
    if not isinstance(value, dict) or "messages" in value:
        return False
    if isinstance(value.get("attempts"), list) and ("info" in value or len(value) == 1):
        return True  # the retry agent's file; only the attempts while it runs (or if it crashed)
    return "trajectory" in value and ("info" in value or "history" in value)


class SweAgentAdapter(JsonReader):
    name: ClassVar[str] = "swe-agent"
    description: ClassVar[str] = (
        "SWE-agent .traj (0.x or 1.x): an object with 'trajectory', 'history' and 'info'"
    )

    def accepts(self, value: Any, *, lines: bool) -> bool:
        return not lines and _looks_like_traj(value)

    def read_source(self, source: JsonSource) -> Iterator[Trajectory]:
        for _, document in source.records():
            yield from self._attempts(Obj.of(document, Where(source.path)))

    def _attempts(self, doc: Obj) -> Iterator[Trajectory]:
        """The trajectory of a .traj, or each attempt's for the retry agent's file."""
        attempts = list(doc.objects("attempts"))
        if not attempts:
            yield self._trajectory(doc, doc.where, attempt=1, chosen=None)
            return
        info = doc.opt_obj("info")
        best = info.integer("best_attempt_idx") if info is not None else None
        for i, attempt_doc in enumerate(attempts):
            # Each attempt is a complete .traj of its own; errors name 'attempts[i]'.
            where = Where(doc.where.path, record=f"attempts[{i}]")
            attempt = Obj.of(attempt_doc.data, where)
            chosen = None if best is None else best == i  # unknown before the run ends
            yield self._trajectory(attempt, where, attempt=i + 1, chosen=chosen)

    def _trajectory(
        self, doc: Obj, where: Where, *, attempt: int, chosen: bool | None
    ) -> Trajectory:
        replay = doc.obj_or_json("replay_config")
        problem = replay.opt_obj("problem_statement") if replay is not None else None
        info = doc.opt_obj("info") or Obj({}, where, "info")

        instance_id = (problem.scalar_text("id") if problem is not None else "") or (
            instance_id_from_path(where.path)
        )
        task_message, system_prompt = _first_messages(doc)
        statement = problem.text("text") if problem is not None else ""
        if not statement.strip():
            statement = extract_issue(task_message)

        raw_status = info.opt_str("exit_status")
        stats = info.opt_obj("model_stats")
        metadata: dict[str, Any] = {}
        if system_prompt:
            metadata["system_prompt"] = system_prompt
        if task_message and task_message.strip() != statement:
            metadata["task_message"] = task_message
        if chosen is not None:
            metadata["chosen"] = chosen
        if isinstance(info.raw("swe_agent_version"), str):  # bookkeeping: a bad one is no error
            metadata["framework_version"] = info.raw("swe_agent_version")
        return Trajectory(
            instance_id=instance_id,
            source="swe-agent/1.x" if replay is not None else "swe-agent/0.x",
            problem_statement=statement,
            steps=[_step(entry) for entry in doc.objects("trajectory", required=True)],
            patch=info.opt_str("submission") or "",
            exit_status=normalise_exit_status(raw_status),
            exit_status_raw=raw_status,
            attempt=attempt,
            model_name=_model_name(replay),
            cost=stats.number("instance_cost") if stats is not None else None,
            source_path=str(where.path),
            source_record=where.record,
            metadata=metadata,
        )


def trajectories_from_document(document: Any, path: str | Path) -> list[Trajectory]:
    """The trajectories of an in-memory ``.traj`` document (e.g. a live run's trajectory data).

    ``path`` is where the document is (or would be) saved; it names the instance when the
    document does not, and appears in error messages.
    """
    where = Where(Path(path))
    return list(SweAgentAdapter()._attempts(Obj.of(document, where)))


def _step(entry: Obj) -> Step:
    return Step(
        role="assistant",
        content=entry.text("response"),
        thought=entry.text("thought"),
        action=entry.text("action"),
        observation=entry.text("observation"),
    )


def _first_messages(doc: Obj) -> tuple[str, str]:
    """The first real (non-demonstration) user message and the system prompt in ``history``."""
    task, system = "", ""
    for message in doc.objects("history"):
        role = message.scalar_text("role")
        if role == "system" and not system:
            system = message.text("content")
        elif role == "user" and not _is_demo(message.raw("is_demo")) and not task:
            task = message.text("content")
        if task and system:
            break
    return task, system


def _is_demo(flag: Any) -> bool:
    # 0.x writes the flag as the string "True".
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def _model_name(replay: Obj | None) -> str | None:
    if replay is None:
        return None
    agent = replay.opt_obj("agent")
    model = agent.opt_obj("model") if agent is not None else None
    return model.opt_str("name") if model is not None else None
