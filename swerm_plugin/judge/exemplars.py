"""The judge's two files: the pool of worked examples (``swerm judge pool``) and the chosen
exemplars (``swerm judge select``; ``judge.exemplars`` names it).

Both are versioned JSON documents (``format``, ``version``). Each exemplar carries an ``id``:
a hash of everything of it the prompt shows, so the exemplars file names exactly the pool
entries it chose, and a score's template version names exactly the prompt it was made with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from swerm_plugin.errors import JudgeError
from swerm_plugin.jsonl import atomic_write_json

POOL_FORMAT = "swerm-judge-pool"
EXEMPLARS_FORMAT = "swerm-judge-exemplars"
#: The version this swerm writes; it reads this one and older ones.
FILE_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Exemplar(_Record):
    """One worked example: a labelled trajectory, condensed, and a rationale chain whose verdict
    agrees with the label. Text is stored as the prompt shows it (condensed, neutralised)."""

    id: str = Field("", description="hash of the shown content; filled in when empty")
    instance_id: str
    source_hash: str = Field(description="content hash of the trajectory it was made from")
    label: bool
    verdict: bool
    chain: int = Field(0, ge=0, description="which of the trajectory's chains")
    problem: str
    trajectory: str
    patch: str
    rationale: str = ""

    @model_validator(mode="after")
    def _identified(self) -> Exemplar:
        expected = self.content_id()
        if not self.id:
            self.id = expected
        elif self.id != expected:
            raise ValueError(
                f"exemplar {self.id} does not match its text (edited by hand?); delete its "
                "'id' to accept the edit"
            )
        return self

    def content_id(self) -> str:
        shown = [self.problem, self.trajectory, self.patch, self.rationale, self.verdict]
        return hashlib.sha256(orjson.dumps(shown)).hexdigest()[:16]


class PoolStats(_Record):
    """What augmenting and pruning did."""

    trajectories: int = 0
    chains: int = 0
    kept: int = 0
    contradicted: int = Field(0, description="chains whose verdict contradicts the label")
    unparsable: int = Field(0, description="chains without a verdict line")
    failed: int = Field(0, description="calls that failed")
    duplicates: int = 0


class Pool(_Record):
    """``pool.json``: the pruned rationale chains, and which trajectories are done (resume)."""

    format: Literal["swerm-judge-pool"] = "swerm-judge-pool"
    version: int = FILE_VERSION
    model: str
    settings: dict[str, Any] = Field(default_factory=dict)
    done: list[str] = Field(default_factory=list, description="content hashes augmented")
    exemplars: list[Exemplar] = Field(default_factory=list)
    stats: PoolStats = Field(default_factory=PoolStats)
    usage: dict[str, Any] = Field(default_factory=dict)


class PoolRef(_Record):
    path: str
    sha256: str
    exemplar_ids: list[str]


class ExemplarsFile(_Record):
    """``exemplars.json``: the chosen exemplars (in slot order) and how they were chosen."""

    format: Literal["swerm-judge-exemplars"] = "swerm-judge-exemplars"
    version: int = FILE_VERSION
    model: str
    settings: dict[str, Any] = Field(default_factory=dict)
    pool: PoolRef
    chosen: list[Exemplar]
    selection: dict[str, Any] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    final: dict[str, Any] | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    probabilities: list[list[float]] = Field(default_factory=list)
    stop_reason: str = ""


_Document = TypeVar("_Document", "Pool", "ExemplarsFile")


def _read(path: Path, expected: str, what: str) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise JudgeError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise JudgeError(f"{path}: cannot read the {what} file ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise JudgeError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != expected:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise JudgeError(f"{path}: not a {what} file (format {found!r}, expected {expected!r})")
    version = data.get("version")
    if not isinstance(version, int) or version > FILE_VERSION:
        raise JudgeError(
            f"{path}: {what} file version {version!r}; this swerm reads up to {FILE_VERSION}",
            hint="upgrade swerm-plugin, or write the file again with this version",
        )
    return data


def read_pool(path: str | Path) -> Pool:
    """The pool in ``path``. :raises JudgeError: naming the file and field."""
    return _load(Path(path), Pool, POOL_FORMAT, "judge pool")


def read_exemplars(path: str | Path) -> ExemplarsFile:
    """The exemplars file in ``path``. :raises JudgeError: naming the file and field."""
    return _load(Path(path), ExemplarsFile, EXEMPLARS_FORMAT, "judge exemplars")


def _load(path: Path, model: type[_Document], expected: str, what: str) -> _Document:
    data = _read(path, expected, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise JudgeError(f"{path}, field '{where}': {first['msg']}") from None


def write_document(path: str | Path, document: Pool | ExemplarsFile) -> None:
    """Write a pool or exemplars file atomically."""
    atomic_write_json(path, document.model_dump(mode="json"))


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


CHECKPOINT_FORMAT = "swerm-judge-select-checkpoint"


class SelectCheckpoint:
    """The state of a running ``swerm judge select``, saved after every step beside its output
    (``.<output>.partial``): a rerun of the same search resumes from it; the finished search
    removes it.

    :param key: what makes two searches the same one (model, pool, dev set, settings).
    """

    def __init__(self, output: str | Path, key: dict[str, Any]) -> None:
        output = Path(output)
        self.path = output.with_name(f".{output.name}.partial")
        self.key = orjson.loads(orjson.dumps(key))  # as it reads back from the file

    def load(self) -> dict[str, Any] | None:
        """The saved state of this same search, or ``None`` (none saved, or another search's:
        that one is then replaced as this one goes on)."""
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            return None
        if data.get("version") != FILE_VERSION or data.get("key") != self.key:
            return None
        state = data.get("state")
        return state if isinstance(state, dict) else None

    def save(self, state: dict[str, Any]) -> None:
        document = {"format": CHECKPOINT_FORMAT, "version": FILE_VERSION, "key": self.key}
        atomic_write_json(self.path, {**document, "state": state})

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
