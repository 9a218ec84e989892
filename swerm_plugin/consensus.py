"""Execution-free, model-free consensus scoring: majority voting over normalised patches.

Independent attempts that converge on the same change are more often right than a one-off
(Agentless's majority vote). A plain "strip whitespace and compare" vote splits votes that differ
only in things that do not change behaviour, so the normal form here also drops comments,
blank lines, diff context and hunk offsets, sorts the files, cancels lines that were removed and
re-added unchanged, and near-identical patches (similarity at or above a threshold) share votes.

A consensus score is a vote share in [0, 1], not a calibrated probability: fit a calibrator on it
(``swerm eval`` does) before reading it as P(resolved).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from swerm_plugin.trajectory import CandidateGroup, Score

BACKEND_NAME = "consensus"
DEFAULT_SIMILARITY = 0.7

# Languages by comment syntax, chosen by file extension.
_HASH_COMMENT = frozenset(
    {"py", "pyi", "pyx", "sh", "bash", "rb", "pl", "r", "yaml", "yml", "toml", "cfg", "ini"}
)
_SLASH_COMMENT = frozenset(
    {"c", "h", "cc", "cpp", "hpp", "cxx", "js", "jsx", "ts", "tsx", "java", "go", "rs", "cs",
     "kt", "swift", "scala", "php", "m", "mm"}
)  # fmt: skip
# Languages where leading whitespace is syntax and so must survive normalisation.
_INDENT_SENSITIVE = frozenset({"py", "pyi", "pyx", "yaml", "yml"})

_WORD = re.compile(r"\w")
_SPACES = re.compile(r"\s+")


def _extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _strip_comment(line: str, markers: tuple[str, ...]) -> str:
    """Cut ``line`` at the first comment marker outside a string literal (``/* */`` spans go)."""
    first = min((i for i in (line.find(m) for m in markers) if i != -1), default=-1)
    if first == -1:
        return line  # the common case: no comment at all
    if "'" not in line[:first] and '"' not in line[:first] and markers[0] != "//":
        return line[:first]  # no string can contain the marker
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif "/*" in markers and line.startswith("/*", i):
            end = line.find("*/", i + 2)
            if end == -1:
                return line[:i]
            line = line[:i] + " " + line[end + 2 :]
            continue
        elif any(line.startswith(marker, i) for marker in markers):
            return line[:i]
        i += 1
    return line


def _squeeze_spaces(text: str) -> str:
    """Keep a space only where it separates two word characters (``a = b`` == ``a=b``)."""
    parts = _SPACES.split(text.strip())
    out = parts[0] if parts else ""
    for part in parts[1:]:
        if out and part and _WORD.match(out[-1]) and _WORD.match(part[0]):
            out += " "
        out += part
    return out


def normalize_line(line: str, path: str) -> str:
    """One changed line in behaviour-preserving normal form ('' when nothing of it is left)."""
    ext = _extension(path)
    if ext in _HASH_COMMENT:
        line = _strip_comment(line, ("#",))
    elif ext in _SLASH_COMMENT:
        line = _strip_comment(line, ("//", "/*"))
    body = _squeeze_spaces(line)
    if not body:
        return ""
    if ext in _INDENT_SENSITIVE:
        indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        return " " * indent + body
    return body


@dataclass(frozen=True)
class FileChange:
    """The changed lines of one file, each prefixed ``-`` or ``+``, in patch order."""

    path: str
    lines: tuple[str, ...]


def _path_from_header(line: str) -> str | None:
    target = line[4:].split("\t", 1)[0].strip()
    if target == "/dev/null":
        return None
    return target[2:] if target.startswith(("a/", "b/")) else target


def parse_patch(patch: str) -> list[FileChange]:
    """The files a unified diff changes, in normal form and sorted by path.

    Context lines, hunk offsets, ``index``/mode lines and comment-only or blank changes are
    dropped; a line removed and added back (after normalisation) in the same file cancels out.
    """
    files: dict[str, list[str]] = {}
    path: str | None = None
    old_path: str | None = None
    in_hunk = False
    for raw in patch.splitlines():
        if raw.startswith("diff --git "):
            path, old_path, in_hunk = None, None, False
            parts = raw.split(" b/", 1)
            if len(parts) == 2:
                path = parts[1].strip()
            continue
        if not in_hunk and raw.startswith("--- "):
            old_path = _path_from_header(raw)
            continue
        if not in_hunk and raw.startswith("+++ "):
            path = _path_from_header(raw) or old_path or path
            continue
        if raw.startswith("@@"):
            in_hunk = path is not None
            continue
        if not in_hunk or path is None or not raw or raw[0] not in "+-":
            if raw and raw[0] not in " +-\\":
                in_hunk = False  # a metadata line ends the hunk (e.g. the next "diff" header)
            continue
        normal = normalize_line(raw[1:], path)
        if normal:
            files.setdefault(path, []).append(raw[0] + normal)
    if not files and patch.strip() and "\n@@" not in "\n" + patch and "diff --git" not in patch:
        # Not a unified diff (a bare edit script, a truncated export): compare its lines as-is.
        lines = [_squeeze_spaces(line) for line in patch.splitlines()]
        files[""] = [line for line in lines if line]
    changes = []
    for name in sorted(files):
        kept = _cancel_unchanged(files[name])
        if kept:
            changes.append(FileChange(path=name, lines=tuple(kept)))
    return changes


def _cancel_unchanged(lines: list[str]) -> list[str]:
    """Drop pairs of ``-x`` / ``+x``: a line rewritten only in whitespace or comments."""
    removed = Counter(line[1:] for line in lines if line[0] == "-")
    added = Counter(line[1:] for line in lines if line[0] == "+")
    same = removed & added
    if not same:
        return lines
    budget = {"-": Counter(same), "+": Counter(same)}
    kept = []
    for line in lines:
        left = budget.get(line[0])
        if left is not None and left[line[1:]] > 0:
            left[line[1:]] -= 1
            continue
        kept.append(line)
    return kept


@functools.lru_cache(maxsize=4096)
def normalize_patch(patch: str) -> str:
    """A canonical text for ``patch``: equal for patches that differ only in what
    :func:`parse_patch` drops. Empty for an empty (or comment-only) patch."""
    out = []
    for change in parse_patch(patch):
        out.append(f"@ {change.path}")
        out.extend(change.lines)
    return "\n".join(out)


def _line_bag(normal: str) -> Counter[str]:
    """The changed lines of a normal form, each qualified by its file, as a multiset."""
    bag: Counter[str] = Counter()
    path = ""
    for line in normal.splitlines():
        if line.startswith("@ "):
            path = line[2:]
        else:
            bag[f"{path}\0{line}"] += 1
    return bag


def _dice(a: Counter[str], b: Counter[str]) -> float:
    total = a.total() + b.total()
    return 2.0 * (a & b).total() / total if total else 0.0


def patch_similarity(a: str, b: str) -> float:
    """Similarity in [0, 1] of two patches: the Dice overlap of their normalised changed lines.

    1.0 for patches with the same normal form, 0.0 when either is empty or they share no
    changed line in the same file.
    """
    na, nb = normalize_patch(a), normalize_patch(b)
    if not na or not nb:
        return 0.0
    return 1.0 if na == nb else _dice(_line_bag(na), _line_bag(nb))


def vote_matrix(patches: Sequence[str], *, similarity: float = DEFAULT_SIMILARITY) -> np.ndarray:
    """``V[i, j]``: the vote candidate ``j`` gives candidate ``i``.

    1 when their normal forms are equal (so ``V[i, i] = 1``), their :func:`patch_similarity`
    when it is at least ``similarity``, else 0; rows and columns of empty patches are all 0.
    ``similarity=1`` gives exact voting.
    """
    if not 0.0 < similarity <= 1.0:
        raise ValueError(f"similarity must be in (0, 1], got {similarity}")
    normal = [normalize_patch(p) for p in patches]
    forms = sorted({n for n in normal if n})
    index = {form: i for i, form in enumerate(forms)}
    between = np.eye(len(forms))  # form-to-form votes, computed once per distinct form
    if similarity < 1.0:
        bags = [_line_bag(form) for form in forms]
        for a in range(len(forms)):
            for b in range(a + 1, len(forms)):
                sim = _dice(bags[a], bags[b])
                if sim >= similarity:
                    between[a, b] = between[b, a] = sim
    which = np.array([index.get(n, -1) for n in normal], dtype=int)
    real = np.flatnonzero(which >= 0)
    out = np.zeros((len(patches), len(patches)))
    out[np.ix_(real, real)] = between[np.ix_(which[real], which[real])]
    return out


def consensus_scores(
    patches: Sequence[str], *, similarity: float = DEFAULT_SIMILARITY
) -> np.ndarray:
    """Vote share of each candidate patch among the non-empty ones, in [0, 1].

    A candidate's support is the number of candidates with the same normal form (itself
    included) plus, for each similar one (:func:`patch_similarity` at or above ``similarity``),
    that similarity (:func:`vote_matrix`). Empty patches get 0 and cast no vote.
    """
    votes = vote_matrix(patches, similarity=similarity)
    n_voters = int(np.count_nonzero(np.diag(votes)))
    if n_voters == 0:
        return np.zeros(len(patches))
    out: np.ndarray = votes.sum(axis=1) / n_voters
    return out


def naive_consensus_scores(patches: Sequence[str]) -> np.ndarray:
    """The baseline vote: exact match after stripping each line's surrounding whitespace."""
    normal = ["\n".join(line.strip() for line in p.splitlines() if line.strip()) for p in patches]
    counts = Counter(n for n in normal if n)
    n_voters = sum(counts.values())
    if not n_voters:
        return np.zeros(len(patches))
    return np.array([counts[n] / n_voters if n else 0.0 for n in normal])


def score_group(group: CandidateGroup, *, similarity: float = DEFAULT_SIMILARITY) -> list[Score]:
    """Consensus :class:`Score` for each candidate of one task (``raw`` is the vote share)."""
    shares = consensus_scores([t.patch for t in group.candidates], similarity=similarity)
    return [Score(raw=float(share), backend=BACKEND_NAME, model="") for share in shares]


def hybrid(model: Sequence[float], consensus: Sequence[float], *, weight: float) -> np.ndarray:
    """Weighted mix ``(1 - weight) * model + weight * consensus`` of two score vectors."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"consensus weight must be in [0, 1], got {weight}")
    return (1.0 - weight) * np.asarray(model, dtype=float) + weight * np.asarray(
        consensus, dtype=float
    )
