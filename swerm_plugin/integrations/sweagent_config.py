"""SWE-agent's retry agent with swerm as the reviewer of its score loop: the config and its checks.

SWE-agent's ``agent.type: retry`` runs attempts and asks a reviewer model after each one
(``retry_loop.type: score``); the reviewer's number decides whether another attempt starts and
which attempt is submitted (the highest). swerm answers as that model through litellm (the
``swerm`` provider its launcher registers, :mod:`.sweagent_review`), so SWE-agent itself is not
changed. swerm's policy makes the decision and encodes it in the number it answers:

- **accept**: ``1 + p`` (at least ``accept_score = 1``: the loop stops, and this attempt has
  the highest number so far, so SWE-agent submits it);
- **retry**: ``p`` (below 1: SWE-agent starts another attempt);
- **reject**: ``p`` when SWE-agent would stop anyway (its ``max_attempts`` reached), so it
  submits the attempt with the highest p; else ``1 + p`` to stop it now.

``p`` is the calibrated probability (the threshold for an attempt accepted by
``on_error = "accept"``, 0 for an empty patch). The reviewer sees a JSON envelope (Jinja's
``tojson``, so agent text cannot break out of it) with exactly what a ``.traj`` reader needs.
Nothing here imports SWE-agent: the config is handled as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import IntegrationError

#: The SWE-agent release the launcher and the reviewer were built and tested against.
SUPPORTED_VERSION = "1.1.0"
#: The litellm provider swerm registers, and the reviewer model name that reaches it.
PROVIDER = "swerm"
REVIEWER_MODEL = f"{PROVIDER}/verifier"
#: The loop's accept score: swerm answers at least this to stop, below it to retry.
ACCEPT_SCORE = 1.0
ENVELOPE_FORMAT = "swerm-review-1"

#: The reviewer's user message: one JSON object (every value through ``tojson``).
INSTANCE_TEMPLATE = (
    '{"format": "' + ENVELOPE_FORMAT + '", '
    '"problem_statement": {{ problem_statement|tojson }}, '
    '"submission": {{ submission|default("")|tojson }}, '
    '"exit_status": {{ exit_status|default("")|tojson }}, '
    '"instance_cost": {{ model_stats_instance_cost|default(0)|tojson }}, '
    '"steps": [{{ traj }}]}'
)
#: One trajectory step as a JSON object; SWE-agent joins steps with blank lines, so every
#: step after the first starts with the comma that makes the list valid JSON.
ITEM_TEMPLATE = (
    "{% if i_step %},{% endif %}"
    '{{ {"response": response, "thought": thought, "action": action, '
    '"observation": observation}|tojson }}'
)
SYSTEM_TEMPLATE = (
    "swerm verifier: the last line of the answer is swerm's verdict for SWE-agent's retry "
    "loop (1 + p: stop, p: retry)."
)


def retry_loop(config: SwermConfig, agent_cost_limit: float = 0.0) -> dict[str, Any]:
    """The ``retry_loop`` block that makes swerm the reviewer, with limits at least swerm's.

    :param agent_cost_limit: one attempt's ``per_instance_cost_limit`` (0: none). SWE-agent
        lowers each attempt's limit to what is left of ``cost_limit``, and ``cost_limit = 0``
        would lift it, so the loop's limit is the larger of swerm's budget and
        ``max_attempts`` attempts at this limit.
    """
    policy = config.policy
    cost_limit = max(policy.cost_budget or 0.0, policy.max_attempts * agent_cost_limit)
    return {
        "type": "score",
        "accept_score": ACCEPT_SCORE,
        "max_accepts": 1,
        "max_attempts": policy.max_attempts,
        "cost_limit": cost_limit,
        "model": {
            "name": REVIEWER_MODEL,
            # swerm's answers have no price: litellm cannot cost them, and any limit above 0
            # would make SWE-agent refuse the reviewer (every attempt would score -100).
            "per_instance_cost_limit": 0,
            "total_cost_limit": 0,
            "max_input_tokens": 0,
            "retry": {"retries": 1},
        },
        "reviewer_config": {
            "system_template": SYSTEM_TEMPLATE,
            "instance_template": INSTANCE_TEMPLATE,
            "n_sample": 1,
            "failure_score_penalty": 0.0,
            "reduce_by_std": 0.0,
            "traj_formatter": {"item_template": ITEM_TEMPLATE},
        },
    }


def retry_agent_config(agents: Sequence[Mapping[str, Any]], config: SwermConfig) -> dict[str, Any]:
    """A SWE-agent config whose agent is the retry agent over ``agents`` with swerm reviewing.

    ``agents`` are ``agent`` blocks of SWE-agent configs (e.g. ``config/default.yaml``); attempt
    *k* runs ``agents[k % len(agents)]``, as SWE-agent does.
    """
    if not agents:
        raise IntegrationError("give at least one SWE-agent agent config")
    configs = []
    for agent in agents:
        if agent.get("type", "default") != "default":
            raise IntegrationError(
                f"an attempt must be a default agent, not type {agent.get('type')!r} "
                "(a retry agent cannot run inside another)"
            )
        configs.append({"type": "default", **agent})
    limits = [float((a.get("model") or {}).get("per_instance_cost_limit", 0) or 0) for a in agents]
    return {
        "agent": {
            "type": "retry",
            "agent_configs": configs,
            "retry_loop": retry_loop(config, max(limits)),
        }
    }


def retry_config_yaml(
    agent_files: Sequence[Path], config: SwermConfig, *, model: str | None = None
) -> str:
    """:func:`retry_agent_config` over the ``agent:`` blocks of SWE-agent config files, as YAML
    for ``--config``; ``model`` names every attempt's model (SWE-agent's ``--agent.model.name``
    cannot reach into ``agent_configs``)."""
    import yaml

    agents = []
    for path in agent_files:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        agent = data.get("agent") if isinstance(data, dict) else None
        if not isinstance(agent, dict):
            raise IntegrationError(
                f"{path}: no 'agent:' block; expected a SWE-agent config such as "
                "config/default.yaml"
            )
        if model:
            agent["model"] = {**(agent.get("model") or {}), "name": model}
        agents.append(agent)
    return yaml.safe_dump(retry_agent_config(agents, config), sort_keys=False, width=100)


def swerm_retry_loop(agent: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The agent's ``retry_loop`` when its reviewer is swerm, else ``None``."""
    if agent.get("type") != "retry":
        return None
    loop = agent.get("retry_loop") or {}
    name = str((loop.get("model") or {}).get("name", ""))
    return loop if name.split("/", 1)[0] == PROVIDER else None


def check_retry_loop(loop: Mapping[str, Any], config: SwermConfig) -> list[str]:
    """What in a swerm-reviewed ``retry_loop`` breaks swerm's decisions (empty when fine)."""
    policy = config.policy
    problems = []
    if loop.get("type") != "score":
        problems.append(f"retry_loop.type must be 'score', not {loop.get('type')!r}")
    if loop.get("accept_score") != ACCEPT_SCORE:
        problems.append(f"accept_score must be {ACCEPT_SCORE:g} (got {loop.get('accept_score')})")
    if loop.get("max_accepts", 1) != 1:
        problems.append(f"max_accepts must be 1 (got {loop.get('max_accepts')})")
    if int(loop.get("max_attempts") or 0) < policy.max_attempts:
        problems.append(
            f"max_attempts {loop.get('max_attempts')} is below swerm's policy.max_attempts "
            f"{policy.max_attempts}"
        )
    cost_limit = float(loop.get("cost_limit") or 0)
    if policy.cost_budget is not None and 0 < cost_limit < policy.cost_budget:
        problems.append(
            f"cost_limit {cost_limit:g} is below swerm's policy.cost_budget {policy.cost_budget:g}"
        )
    model = loop.get("model") or {}
    for key in ("per_instance_cost_limit", "total_cost_limit"):
        if model.get(key, 0):
            problems.append(f"model.{key} must be 0 (swerm's answers have no price)")
    problems.extend(_check_reviewer(loop.get("reviewer_config") or {}))
    return problems


def _check_reviewer(reviewer: Mapping[str, Any]) -> list[str]:
    problems = []
    if ENVELOPE_FORMAT not in str(reviewer.get("instance_template", "")):
        problems.append("reviewer_config.instance_template must be swerm's JSON envelope")
    formatter = reviewer.get("traj_formatter") or {}
    if formatter.get("item_template") != ITEM_TEMPLATE:
        problems.append("reviewer_config.traj_formatter.item_template must be swerm's")
    if formatter.get("filter") or formatter.get("output_filter"):
        problems.append("traj_formatter filters must be empty (swerm reads every step)")
    if formatter.get("only_show_last_n_output", 0):
        problems.append("traj_formatter.only_show_last_n_output must be 0")
    for key in ("failure_score_penalty", "reduce_by_std"):
        if reviewer.get(key, 0):
            problems.append(f"reviewer_config.{key} must be 0 (it would shift swerm's verdict)")
    low, high = [*(reviewer.get("score_range") or []), None, None][:2]
    if (low is not None and low > 0) or (high is not None and high < 2):
        problems.append("reviewer_config.score_range must include [0, 2]")
    return problems
