"""Pure parts of the remote backends: the verdict arithmetic, request planning and reply reading."""

from __future__ import annotations

import math

import pytest

from swerm_plugin.backends.remote.base import ReplyError
from swerm_plugin.backends.remote.classify import read_outputs
from swerm_plugin.backends.remote.openai import top_logprobs_of, verdict_probability
from swerm_plugin.backends.remote.vllm import plan_requests, read_scores

YES, NO = ["<YES>", "token_id:3"], ["<NO>", "token_id:4"]


def test_both_verdicts_listed_gives_the_two_way_softmax() -> None:
    top = {"token_id:3": math.log(0.3), "token_id:4": math.log(0.1), "x": math.log(0.5)}
    p, approximate = verdict_probability(top, YES, NO)
    assert p == pytest.approx(0.75)  # 0.3 / (0.3 + 0.1)
    assert not approximate


def test_text_keys_match_too() -> None:
    top = {"<YES>": math.log(0.2), "<NO>": math.log(0.6)}
    assert verdict_probability(top, YES, NO) == (pytest.approx(0.25), False)


def test_missing_no_gets_the_largest_probability_it_could_have() -> None:
    # Listed: YES 0.5 and another token 0.3; NO is at most 0.3 (it ranks below the listed ones)
    # and at most 0.2 (the mass not listed): 0.5 / (0.5 + 0.2).
    top = {"<YES>": math.log(0.5), "x": math.log(0.3)}
    p, approximate = verdict_probability(top, YES, NO)
    assert p == pytest.approx(0.5 / 0.7)
    assert approximate


def test_missing_yes_is_bounded_by_the_smallest_listed_probability() -> None:
    # Listed mass 0.95 leaves 0.05 for the rest, but YES cannot exceed the smallest listed 0.01.
    top = {"<NO>": math.log(0.9), "x": math.log(0.04), "y": math.log(0.01)}
    p, approximate = verdict_probability(top, YES, NO)
    assert p == pytest.approx(0.01 / 0.91)
    assert approximate


def test_neither_verdict_listed_says_nothing() -> None:
    assert verdict_probability({"x": math.log(0.9)}, YES, NO) == (0.5, True)


def test_a_verdict_holding_all_the_mass_is_certain() -> None:
    p, approximate = verdict_probability({"<NO>": 0.0}, YES, NO)
    assert p == 0.0 and approximate


def test_top_logprobs_of_completion_and_chat_replies() -> None:
    completion = {"choices": [{"logprobs": {"top_logprobs": [{"a": -1.0, "b": -2.0}]}}]}
    assert top_logprobs_of(completion, chat=False) == {"a": -1.0, "b": -2.0}
    entries = [{"token": "a", "logprob": -1.5}, {"token": "a", "logprob": -0.5}]
    chat = {"choices": [{"logprobs": {"content": [{"token": "a", "top_logprobs": entries}]}}]}
    assert top_logprobs_of(chat, chat=True) == {"a": -0.5}, "duplicate texts keep the max"
    with pytest.raises(ReplyError, match="no top log-probs"):
        top_logprobs_of({"choices": [{"logprobs": None}]}, chat=False)
    with pytest.raises(ReplyError, match="no choices"):
        top_logprobs_of({"choices": []}, chat=True)


def test_plan_groups_by_exact_prefix_and_verdicts() -> None:
    ids = [[1, 2, 3, 10], [1, 2, 3, 11, 12], [1, 2, 9, 13], [1, 2, 3, 14], [5, 6]]
    labels = [(3, 4), (3, 4), (3, 4), (7, 8), (3, 4)]
    prefix = [3, 3, 3, 3, None]
    requests = plan_requests(ids, labels, prefix, group=True, max_items=8)
    by_indices = {tuple(r.indices): r for r in requests}
    assert set(by_indices) == {(0, 1), (2,), (3,), (4,)}
    shared = by_indices[(0, 1)]
    assert shared.query == [1, 2, 3] and shared.items == [[10], [11, 12]]
    assert by_indices[(4,)].query == [5, 6] and by_indices[(4,)].items == [[]]
    for request in requests:  # query + item is always the prompt itself
        for index, item in zip(request.indices, request.items, strict=True):
            assert request.query + item == ids[index]
            assert request.labels == labels[index]


def test_plan_respects_max_items_and_can_be_switched_off() -> None:
    ids = [[1, 2, i] for i in range(5)]
    grouped = plan_requests(ids, [(3, 4)] * 5, [2] * 5, group=True, max_items=2)
    assert [r.indices for r in grouped] == [[0, 1], [2, 3], [4]]
    single = plan_requests(ids, [(3, 4)] * 5, [2] * 5, group=False, max_items=2)
    assert [r.indices for r in single] == [[i] for i in range(5)]
    assert [r.singles()[0].items for r in grouped[:1]] == [[[0]]]


def test_read_scores_orders_by_index_and_rejects_bad_replies() -> None:
    reply = {"data": [{"index": 1, "score": 0.25}, {"index": 0, "score": 0.75}]}
    assert read_scores(reply, 2) == [0.75, 0.25]
    with pytest.raises(ReplyError, match="expected 3 scores"):
        read_scores(reply, 3)
    with pytest.raises(ReplyError, match="out of range"):
        read_scores({"data": [{"index": 0, "score": 1.5}]}, 1)
    with pytest.raises(ReplyError, match="repeated an index"):
        read_scores({"data": [{"index": 0, "score": 0.1}, {"index": 0, "score": 0.2}]}, 2)
    with pytest.raises(ReplyError, match="malformed"):
        read_scores({"data": [{"index": 0}]}, 1)


def test_read_outputs_takes_the_last_token_of_per_token_values() -> None:
    classify = {"data": [{"index": 0, "probs": [0.2, 0.8], "label": "LABEL_1"}]}
    assert read_outputs(classify, 1, "classify") == [[0.2, 0.8]]
    per_token = {"data": [{"index": 0, "data": [[0.9], [0.4], [0.3]]}]}
    assert read_outputs(per_token, 1, "pooling") == [[0.3]]
    with pytest.raises(ReplyError, match="malformed /pooling result"):
        read_outputs({"data": [{"index": 0, "data": "base64..."}]}, 1, "pooling")
