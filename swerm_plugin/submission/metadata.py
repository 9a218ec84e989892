"""``metadata.yaml``: the fields the leaderboard reads, filled from what swerm knows.

The shape is the one merged submissions use and ``analysis/get_leaderboard.py`` reads:
``info: {name, report, site, authors[, logo]}`` and ``tags: {checked, model, org, os_model,
os_system, system: {attempts}}`` (see ``docs/submission.md`` for the sources). swerm fills
``info.name``, ``tags.model`` (the agents' and the verifier's models), ``tags.checked`` (always
``false``: only the SWE-bench team checks a submission) and ``tags.system.attempts`` (``"2+"``
for a best-of-N pick, ``"1"`` otherwise); every other value is a ``TODO(swerm)`` placeholder a
person must replace.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from swerm_plugin.errors import SubmissionError
from swerm_plugin.submission.layout import TODO

if TYPE_CHECKING:
    from swerm_plugin.submission.record import SubmissionFacts

BEST_OF_K = "2+"
SINGLE_ATTEMPT = "1"


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise SubmissionError(
            "metadata.yaml needs PyYAML, which is not installed",
            hint="pip install 'swerm-plugin[submission]' (or pip install pyyaml)",
        ) from None
    return yaml


def attempts_tag(facts: SubmissionFacts) -> str:
    """``tags.system.attempts``: ``"2+"`` (Best@k) when any instance had several attempts."""
    return SINGLE_ATTEMPT if facts.pass_at_1 else BEST_OF_K


def metadata_document(facts: SubmissionFacts) -> dict[str, Any]:
    models = list(dict.fromkeys([*facts.agent_models, *facts.verifier_models]))
    return {
        "info": {
            "name": facts.name,
            "report": f"{TODO}: link to the technical report, paper or blog post on the system",
            "site": f"{TODO}: the system's or the first author's website",
            "authors": f"{TODO}: the people who produced this submission, comma-separated",
        },
        "tags": {
            "checked": False,
            "model": models or [f"{TODO}: the model(s) the agent used"],
            "org": [f"{TODO}: your organisation(s)"],
            "os_model": f"{TODO}: true if every model's weights are public, else false",
            "os_system": f"{TODO}: true if the whole system (agent and selection) is open source",
            "system": {"attempts": attempts_tag(facts)},
        },
    }


def render_metadata(facts: SubmissionFacts) -> str:
    """The file's text: a comment saying what to fill in, then the YAML."""
    from swerm_plugin import __version__

    header = (
        f"# Written by swerm {__version__} for SWE-bench/experiments.\n"
        f'# Replace every "{TODO}: ..." value, then run: swerm submission --check <this folder>\n'
        "# tags.checked stays false: only the SWE-bench team marks a submission as checked.\n"
        '# tags.system.attempts: "2+" when a module of the system chose one of several attempts\n'
        '# per instance (Best@k in checklist.md), "1" when each instance was attempted once.\n'
        "# Optional: info.logo (the URL of a logo image).\n"
    )
    body = _yaml().safe_dump(
        metadata_document(facts), sort_keys=False, allow_unicode=True, width=100
    )
    return header + body


def read_metadata(path: Path) -> Any:
    """The parsed file; a YAML error becomes a :class:`SubmissionError` naming the file."""
    yaml = _yaml()
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SubmissionError(f"{path}: cannot be read as YAML ({exc})") from None


def placeholders(value: Any, at: str = "") -> list[str]:
    """The dotted keys whose value still holds a ``TODO(swerm)`` placeholder."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in placeholders(v, f"{at}.{k}" if at else k)]
    if isinstance(value, list):
        return [p for item in value for p in placeholders(item, at)]
    return [at] if isinstance(value, str) and TODO in value else []
