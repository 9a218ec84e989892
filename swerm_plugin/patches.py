"""Unified diffs: parsed (with unidiff), measured, and put in a behaviour-preserving normal form.

Two candidate patches that differ only in things that do not change behaviour should count as
the same change (consensus voting, :mod:`swerm_plugin.backends.consensus`). The normal form
drops comments, blank lines, diff context and hunk offsets, sorts the files, and cancels lines
that a change block removes and re-adds unchanged (a line moved elsewhere stays a change).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

from unidiff import PatchedFile, PatchSet, UnidiffParseError

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


# A complete string literal on one line, with backslash escapes.
_STRING_LITERAL = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""")


def _squeeze_code(text: str) -> str:
    """:func:`_squeeze_spaces` outside string literals: whitespace inside a literal is
    behaviour (``"{} \\n"`` and ``"{}\\n"`` differ). After a quote that does not close on the line
    (a multi-line literal), the rest of the line is kept as it is."""
    out: list[str] = []
    start = 0
    for match in _STRING_LITERAL.finditer(text):
        code = text[start : match.start()]
        if "'" in code or '"' in code:
            break  # an opening quote the pattern could not close: a literal runs on
        out.extend((_squeeze_spaces(code), match.group()))
        start = match.end()
    rest = text[start:]
    quote = min((i for i in (rest.find("'"), rest.find('"')) if i != -1), default=-1)
    if quote == -1:
        out.append(_squeeze_spaces(rest))
    else:
        out.extend((_squeeze_spaces(rest[:quote]), rest[quote:]))
    return "".join(out)


def normalize_line(line: str, path: str) -> str:
    """One changed line in behaviour-preserving normal form ('' when nothing of it is left)."""
    ext = _extension(path)
    if ext in _HASH_COMMENT:
        line = _strip_comment(line, ("#",))
    elif ext in _SLASH_COMMENT:
        line = _strip_comment(line, ("//", "/*"))
    is_code = ext in _HASH_COMMENT or ext in _SLASH_COMMENT
    body = _squeeze_code(line) if is_code else _squeeze_spaces(line)
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


_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")


def _patch_set(patch: str) -> PatchSet | None:
    """The parsed diff; a diff whose hunk line counts are off (hand-edited, or lines added
    after the fact) is parsed again with the counts recomputed from its lines."""
    try:
        return PatchSet(patch)
    except UnidiffParseError:
        pass
    try:
        return PatchSet(recount_hunks(patch))
    except UnidiffParseError:
        return None


def _ends_hunk(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line.startswith(("diff ", "@@", "index ")):
        return True
    # "--- x" inside a hunk is a removed line "-- x", unless a "+++" header follows it.
    return line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def recount_hunks(patch: str) -> str:
    """``patch`` with every hunk header's line counts recomputed from the lines that follow."""
    lines = patch.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _HUNK_HEADER.match(lines[i].rstrip("\r\n"))
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        body: list[str] = []
        i += 1
        while i < len(lines) and not _ends_hunk(lines, i) and lines[i][:1] in " +-\\":
            body.append(lines[i])
            i += 1
        old = sum(1 for line in body if line[:1] in " -")
        new = sum(1 for line in body if line[:1] in " +")
        out.append(f"@@ -{match.group(1)},{old} +{match.group(2)},{new} @@{match.group(3)}\n")
        out.extend(body)
    return "".join(out)


def parse_patch(patch: str) -> list[FileChange]:
    """The files a unified diff changes, in normal form and sorted by path.

    Context lines, hunk offsets, ``index``/mode lines and comment-only or blank changes are
    dropped. Within each block of changed lines (the lines between two context lines), the
    normalised removed and added lines are diffed again, so a line rewritten only in whitespace
    or comments cancels out while a line moved elsewhere stays a change. Text that is not a
    unified diff (a bare edit script, a truncated export) is compared line by line as it is.
    """
    parsed = _patch_set(patch)
    files: dict[str, list[str]] = {}
    if parsed is None or (not len(parsed) and patch.strip()):
        lines = [_squeeze_spaces(line) for line in patch.splitlines()]
        files[""] = [line for line in lines if line]
    else:
        for changed in parsed:
            kept = _changed_lines(changed)
            if kept:
                files.setdefault(changed.path, []).extend(kept)
    return [FileChange(path=name, lines=tuple(files[name])) for name in sorted(files)]


def _changed_lines(changed: PatchedFile) -> list[str]:
    """The normalised ``-``/``+`` lines of one file, re-diffed block by block."""
    out: list[str] = []
    removed: list[str] = []
    added: list[str] = []
    for hunk in changed:
        for line in hunk:
            if line.line_type in "+-":
                normal = normalize_line(line.value.rstrip("\r\n"), changed.path)
                if normal:
                    (removed if line.line_type == "-" else added).append(normal)
            elif line.line_type == " ":
                out.extend(_rediff(removed, added))
                removed, added = [], []
        out.extend(_rediff(removed, added))
        removed, added = [], []
    return out


def _rediff(removed: list[str], added: list[str]) -> list[str]:
    """The lines of one change block that still differ once normalised (``-`` then ``+``)."""
    if not removed or not added:
        return [f"-{line}" for line in removed] + [f"+{line}" for line in added]
    out: list[str] = []
    matcher = SequenceMatcher(None, removed, added, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            out.extend(f"-{line}" for line in removed[i1:i2])
            out.extend(f"+{line}" for line in added[j1:j2])
    return out


@dataclass(frozen=True)
class PatchStats:
    """What a patch touches: files (new, deleted, test files) and changed lines."""

    files: tuple[str, ...]
    added_files: tuple[str, ...]
    removed_files: tuple[str, ...]
    lines_added: int
    lines_removed: int

    @property
    def lines_changed(self) -> int:
        return self.lines_added + self.lines_removed


def patch_stats(patch: str) -> PatchStats:
    """Files and changed-line counts of a unified diff (all zero for an empty or bad one)."""
    parsed = _patch_set(patch) if patch.strip() else None
    if parsed is None:
        return PatchStats((), (), (), 0, 0)
    return PatchStats(
        files=tuple(f.path for f in parsed),
        added_files=tuple(f.path for f in parsed.added_files),
        removed_files=tuple(f.path for f in parsed.removed_files),
        lines_added=sum(f.added for f in parsed),
        lines_removed=sum(f.removed for f in parsed),
    )


def patch_lines(patch: str) -> int:
    """Changed lines in a unified diff: ``+``/``-`` lines, not counting the file headers."""
    stats = patch_stats(patch)
    if stats.files or not patch.strip():
        return stats.lines_changed
    return sum(
        1
        for line in patch.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))
    )


@functools.lru_cache(maxsize=4096)
def normalize_patch(patch: str) -> str:
    """A canonical text for ``patch``: equal for patches that differ only in what
    :func:`parse_patch` drops. Empty for an empty (or comment-only) patch."""
    out = []
    for change in parse_patch(patch):
        out.append(f"@ {change.path}")
        out.extend(change.lines)
    return "\n".join(out)


def line_bag(normal: str) -> Counter[str]:
    """The changed lines of a normal form, each qualified by its file, as a multiset."""
    bag: Counter[str] = Counter()
    path = ""
    for line in normal.splitlines():
        if line.startswith("@ "):
            path = line[2:]
        else:
            bag[f"{path}\0{line}"] += 1
    return bag


def dice_overlap(a: Counter[str], b: Counter[str]) -> float:
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
    return 1.0 if na == nb else dice_overlap(line_bag(na), line_bag(nb))
