"""Consensus voting: what the normal form ignores, what it keeps, and how votes are counted."""

from __future__ import annotations

import numpy as np
import pytest

from swerm_plugin.backends.consensus import (
    ConsensusScorer,
    consensus_scores,
    naive_consensus_scores,
    vote_matrix,
)
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import CandidateGroup
from swerm_plugin.patches import normalize_patch, parse_patch, patch_similarity

from .conftest import MakeDiff, MakeTrajectory


def test_equal_up_to_whitespace_comments_offsets_and_context(fix: str, make_diff: MakeDiff) -> None:
    variants = [
        make_diff(
            "pkg/mod.py",
            ["    return items[0]"],
            ["    if not items :  # guard the empty case", "        return   None", ""],
            start=200,
        ),
        # one more context line and a comment-only addition
        fix.replace(" def f():\n     context = 1\n", " def f():\n     a = 0\n     context = 1\n")
        + "+    # done\n",
    ]
    for variant in variants:
        assert normalize_patch(variant) == normalize_patch(fix)
        assert naive_consensus_scores([variant, fix]).tolist() == [0.5, 0.5]  # naive splits


def test_file_order_and_unchanged_rewrites_do_not_matter(fix: str, make_diff: MakeDiff) -> None:
    other = make_diff("pkg/other.py", ["x = 1"], ["x = 2"])
    assert normalize_patch(fix + other) == normalize_patch(other + fix)
    rewrite = make_diff(
        "pkg/mod.py",
        ["y  =  3", "    return items[0]"],
        ["y = 3", "    if not items:", "        return None"],
    )
    assert normalize_patch(rewrite) == normalize_patch(fix)


def test_behaviour_changes_stay_distinct(fix: str, make_diff: MakeDiff) -> None:
    indented = make_diff(
        "pkg/mod.py", ["    return items[0]"], ["if not items:", "    return None"]
    )
    other_value = make_diff(
        "pkg/mod.py", ["    return items[0]"], ["    if not items:", "        return 0"]
    )
    in_string = make_diff("pkg/mod.py", ["x = 'a'"], ["x = 'a#b'"])
    assert normalize_patch(indented) != normalize_patch(fix)  # Python indentation is syntax
    assert normalize_patch(other_value) != normalize_patch(fix)
    assert "'a#b'" in normalize_patch(in_string)  # a '#' inside a string is not a comment


def test_c_like_comments_and_deleted_files(make_diff: MakeDiff) -> None:
    c_a = make_diff("src/x.c", [], ["int y = 1; /* why */ // note"])
    c_b = make_diff("src/x.c", [], ["int y=1;"])
    assert normalize_patch(c_a) == normalize_patch(c_b)
    deleted = (
        "diff --git a/old.py b/old.py\ndeleted file mode 100644\n"
        "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n"
    )
    assert parse_patch(deleted)[0].path == "old.py"
    assert normalize_patch("") == "" and normalize_patch("diff --git a/x b/x\n") == ""


def test_vote_shares_by_hand(fix: str, make_diff: MakeDiff) -> None:
    other = make_diff(
        "pkg/mod.py", ["    return items[0]"], ["    return items[0] if items else None"]
    )
    patches = [fix, fix.replace("return None", "return  None"), other, ""]
    # Exact voting: the two equal fixes have 2 of 3 votes each, the other 1 of 3, empty 0.
    np.testing.assert_allclose(consensus_scores(patches, similarity=1.0), [2 / 3, 2 / 3, 1 / 3, 0])
    votes = vote_matrix(patches, similarity=1.0)
    assert votes[3].sum() == 0 and votes[:, 3].sum() == 0


def test_near_identical_patches_share_votes(make_diff: MakeDiff) -> None:
    # Same fix plus an extra change elsewhere: 4 of the 5 changed lines are shared.
    base = make_diff("pkg/mod.py", ["a = 1", "b = 2"], ["a = 10", "b = 20"])
    extended = make_diff("pkg/mod.py", ["a = 1", "b = 2"], ["a = 10", "b = 20", "c = 30"])
    similarity = patch_similarity(base, extended)
    assert similarity == pytest.approx(2 * 4 / (4 + 5))
    shares = consensus_scores([base, extended], similarity=0.7)
    np.testing.assert_allclose(shares, [(1 + similarity) / 2] * 2)
    np.testing.assert_allclose(consensus_scores([base, extended], similarity=0.95), [0.5, 0.5])
    assert patch_similarity(base, "") == 0.0


def test_score_group_and_bad_similarity(fix: str, make_trajectory: MakeTrajectory) -> None:
    group = CandidateGroup(
        instance_id="i",
        candidates=[make_trajectory(patch=fix), make_trajectory(patch=fix), make_trajectory()],
    )
    scores = ConsensusScorer(SwermConfig()).score_group(group)
    assert [s.raw for s in scores] == [1.0, 1.0, 0.0]
    assert {(s.backend, s.kind) for s in scores} == {("consensus", "vote_share")}
    with pytest.raises(ValueError, match=r"similarity must be in \(0, 1\]"):
        consensus_scores([fix], similarity=0.0)


def test_a_moved_line_stays_a_change() -> None:
    # Real case (django__django-15851): one run moves `args.extend(parameters)` above the
    # `if dbname:` block. Removed and added in different change blocks, it is a real change.
    moved = (
        "diff --git a/pkg/client.py b/pkg/client.py\n--- a/pkg/client.py\n+++ b/pkg/client.py\n"
        "@@ -32,6 +32,6 @@\n"
        "         if port:\n"
        "+        args.extend(parameters)\n"
        "         if dbname:\n"
        "             args += [dbname]\n"
        "-        args.extend(parameters)\n"
        " \n"
    )
    assert normalize_patch(moved) == (
        "@ pkg/client.py\n+        args.extend(parameters)\n-        args.extend(parameters)"
    )
    swapped = (
        "diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -1,4 +1,4 @@\n"
        " if x:\n-a = 1\n-b = 2\n+b = 2\n+a = 1\n y = 0\n"
    )
    assert normalize_patch(swapped) == "@ pkg/m.py\n+b=2\n-b=2"  # a swap is a change too


def test_whitespace_inside_a_string_literal_is_a_change(make_diff: MakeDiff) -> None:
    # Real case (pydata__xarray-5131): the fix removes one space before "\n" in a format string.
    before = '        return "{}, grouped over {!r} \\n{!r} groups".format('
    fix = make_diff("pkg/groupby.py", [before], [before.replace(" \\n", "\\n")])
    assert normalize_patch(fix) != ""
    spaced = make_diff("pkg/m.py", ['x = "a  b" + y'], ['x  =  "a  b"  +  y'])
    assert normalize_patch(spaced) == ""  # whitespace outside the literal: no change
    docstring = make_diff("pkg/m.py", ['    """Return  it.'], ['    """Return it.'])
    assert normalize_patch(docstring) != ""  # a literal that runs on is kept as written
