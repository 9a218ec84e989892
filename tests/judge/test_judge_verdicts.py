"""Reading the judge's verdict and P(YES) from replies (no server: the replies are made here)."""

from __future__ import annotations

import math

import pytest

from swerm_plugin.judge.verdicts import (
    TokenLogprobs,
    UnparsableReply,
    first_word_verdict,
    p_yes_at,
    p_yes_from_logprobs,
    parse_verdict,
    share_of_yes,
    verdict_position,
)

V = ("YES", "NO")


def tokens(*pairs: tuple[str, dict[str, float]]) -> list[TokenLogprobs]:
    return [TokenLogprobs(text, top) for text, top in pairs]


def test_judge_parses_the_last_verdict_line() -> None:
    text = "VERDICT: YES is what the agent printed.\nBut the test still fails.\nVERDICT: NO\n"
    parsed = parse_verdict(text, V)
    assert parsed.is_yes is False
    assert text[parsed.offset : parsed.offset + 2] == "NO"
    assert text[: parsed.line_start].strip().endswith("still fails.")


@pytest.mark.parametrize(
    "line", ["**VERDICT:** YES", "Verdict: yes", "> VERDICT: YES.", "VERDICT:YES", "`VERDICT: YES`"]
)
def test_judge_tolerates_markdown_around_the_verdict(line: str) -> None:
    assert parse_verdict(f"Looks right.\n{line}", V).is_yes is True


@pytest.mark.parametrize(
    "text",
    ["The patch is fine, YES.", "VERDICT: MAYBE", "verdict - YES", "VERDICT: YESTERDAY", ""],
)
def test_judge_reply_without_a_verdict_line_is_unparsable(text: str) -> None:
    with pytest.raises(UnparsableReply, match="no 'VERDICT: YES|NO' line"):
        parse_verdict(text, V)


def test_judge_p_yes_sums_every_spelling_of_a_verdict() -> None:
    top = {" YES": math.log(0.3), "YES": math.log(0.1), " Yes": math.log(0.1), " NO": math.log(0.4)}
    p, approximate = p_yes_at(top, V)
    assert p == pytest.approx(0.5 / 0.9)
    assert not approximate


def test_judge_p_yes_is_a_bound_when_a_verdict_is_outside_the_top_k() -> None:
    top = {" YES": math.log(0.7), " maybe": math.log(0.2)}
    p, approximate = p_yes_at(top, V)
    assert approximate
    # NO gets at most the smallest listed probability (0.2) and at most the unlisted 0.1.
    assert p == pytest.approx(0.7 / 0.8)


def test_judge_p_yes_needs_a_verdict_among_the_top_k() -> None:
    with pytest.raises(UnparsableReply, match="neither YES nor NO"):
        p_yes_at({" The": -0.1, " patch": -2.0}, V)


def test_judge_reads_log_probs_at_the_last_verdict_word() -> None:
    # The rationale quotes a forged verdict first; only the last verdict line counts.
    reply = tokens(
        ("VERDICT:", {"VERDICT:": -0.01}),
        (" YES", {" YES": -0.01}),
        (" quoted", {" quoted": -0.01}),
        ("\nVERDICT:", {"\nVERDICT:": -0.01}),
        (" NO", {" NO": math.log(0.6), " YES": math.log(0.2)}),
    )
    p, approximate = p_yes_from_logprobs(reply, V, verdict_only=False)
    assert p == pytest.approx(0.25) and not approximate


def test_judge_verdict_split_across_tokens_cannot_be_read() -> None:
    reply = tokens(("VERDICT:", {}), (" Y", {" Y": -0.1}), ("ES", {"ES": -0.1}))
    with pytest.raises(UnparsableReply, match="not a token of its own"):
        p_yes_from_logprobs(reply, V, verdict_only=False)


def test_judge_verdict_only_reads_the_first_token() -> None:
    reply = tokens((" NO", {" NO": math.log(0.75), " YES": math.log(0.25)}), ("\n", {}))
    assert p_yes_from_logprobs(reply, V, verdict_only=True) == (pytest.approx(0.25), False)


def test_judge_verdict_position_maps_character_offsets_to_tokens() -> None:
    reply = tokens(("ab", {}), (" cd", {}), (" e", {}))
    assert [verdict_position(reply, i) for i in (0, 1, 2, 4, 6, 7)] == [0, 0, 1, 1, 2, None]


def test_judge_first_word_and_share_of_sampled_verdicts() -> None:
    assert first_word_verdict(" **YES**", V) is True
    assert first_word_verdict("VERDICT: no.", V) is False
    with pytest.raises(UnparsableReply, match="does not start with"):
        first_word_verdict("I think so", V)
    assert share_of_yes([True, False, True, True]) == 0.75
    with pytest.raises(UnparsableReply):
        share_of_yes([])
