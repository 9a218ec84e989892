"""The SWE-bench experiments repository's layout for one submission, and its checklist.

Facts about the format, from the public ``SWE-bench/experiments`` repository (see
``docs/submission.md`` for the sources): a submission is ``evaluation/<split>/<date>_<name>/``
holding ``all_preds.jsonl``, ``metadata.yaml``, ``README.md``, ``trajs/`` and ``logs/<iid>/``;
``analysis/get_results.py`` deletes every other top-level entry before it writes ``results/``;
the checklist's items are quoted verbatim below.

swerm's own conventions inside ``trajs/<iid>/``: the submitted attempt as ``<iid><suffix>`` in its
framework's format, every other attempt under ``rank<r>.<run>.attempt<k>/<iid><suffix>``, and
the decision record ``decision.json``. Every trajectory file is named by its instance id, as the
submission guide asks, and the readers recover that id from the name.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from swerm_plugin.errors import SubmissionError

#: The folders under ``evaluation/`` of the experiments repository.
SPLITS = ("lite", "verified", "test", "multimodal", "multilingual", "bash-only")
#: Instances per split, the leaderboard's denominator (``analysis/get_leaderboard.py``).
SPLIT_SIZES = {"lite": 300, "verified": 500, "test": 2294, "multimodal": 517}

PREDICTIONS = "all_preds.jsonl"
METADATA = "metadata.yaml"
README = "README.md"
TRAJS = "trajs"
LOGS = "logs"
DECISION = "decision.json"
#: The top-level entries ``analysis/get_results.py`` keeps; it deletes (``rm -rf``) the rest.
KEPT_BY_GET_RESULTS = frozenset(
    {"preds.json", "all_preds.jsonl", "logs", "metadata.yaml", "metadata.yml", "trajs", "README.md"}
)
#: What ``analysis/get_results.py`` itself writes into the folder.
RESULTS = "results"
#: Files of a harness run's per-instance log folder; get_results needs the first two.
LOG_FILES = ("patch.diff", "test_output.txt", "report.json", "eval.sh")
#: Log entries not copied: the Docker build context (get_results deletes it anyway).
SKIPPED_LOG_ENTRIES = frozenset({"image_build_dir"})

#: The leaderboard checklist (``checklist.md``), item by item, exactly as it is written there.
CHECKLIST = (
    "Is a pass@1 submission (does not attempt the same task instance more than once)",
    "Does not use SWE-bench test knowledge (`PASS_TO_PASS`, `FAIL_TO_PASS`)",
    "Does not use the `hints` field in SWE-bench",
    "Does not have web-browsing OR has taken steps to prevent lookup of SWE-bench solutions via "
    "web-browsing",
)
PASS_AT_1_ITEM = CHECKLIST[0]
#: The words the README carries when an instance was attempted more than once.
NOT_PASS_AT_1 = "not a pass@1 submission"
#: Marks every value or sentence a person must still write; ``--check`` fails while one is left.
TODO = "TODO(swerm)"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_FOLDER = re.compile(r"(\d{8})_(.+)")


def parse_date(text: str | None) -> str:
    """``YYYYMMDD`` as given (checked to be a real date), or today's date."""
    if text is None:
        return dt.date.today().strftime("%Y%m%d")
    try:
        dt.datetime.strptime(text, "%Y%m%d")
    except ValueError:
        raise SubmissionError(
            f"--date {text!r} is not a date written YYYYMMDD (e.g. 20250131)"
        ) from None
    return text


def check_name(name: str) -> str:
    """A submission name usable in a folder name: letters, digits, ``. _ + -``."""
    if not _NAME.fullmatch(name):
        raise SubmissionError(
            f"--name {name!r} cannot name a submission folder: use letters, digits and . _ + - "
            "(e.g. swerm_mini_claude-sonnet-4)"
        )
    return name


def submission_folder(root: Path, split: str, date: str | None, name: str) -> Path:
    """``<root>/evaluation/<split>/<date>_<name>``."""
    if split not in SPLITS:
        raise SubmissionError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return Path(root) / "evaluation" / split / f"{parse_date(date)}_{check_name(name)}"


def split_of(folder: Path) -> str | None:
    """The split a submission folder sits in (its parent's name), if it is one."""
    parent = Path(folder).resolve().parent.name
    return parent if parent in SPLITS else None


def folder_name_ok(folder: Path) -> bool:
    """Whether the folder is named ``<YYYYMMDD>_<name>``."""
    match = _FOLDER.fullmatch(Path(folder).resolve().name)
    if match is None:
        return False
    try:
        dt.datetime.strptime(match.group(1), "%Y%m%d")
    except ValueError:
        return False
    return bool(_NAME.fullmatch(match.group(2)))


def slug(text: str) -> str:
    """``text`` reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._") or "run"


def trajectory_suffix(path: Path) -> str:
    """The suffix a copy of ``path`` keeps (``.traj.json``, ``.traj``, ``.json``, ``.jsonl``)."""
    if path.name.endswith(".traj.json"):
        return ".traj.json"
    return path.suffix
