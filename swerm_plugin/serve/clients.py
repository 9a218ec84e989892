"""Trainer-side clients of ``swerm serve``, in the standard library only: a trainer loads this
file by its path and needs nothing of swerm's installed.

verl (``verl/trainer/ppo/reward.py`` ``get_custom_reward_fn`` loads a function by file path)::

    reward:
      custom_reward_function:
        path: /path/to/swerm_plugin/serve/clients.py
        name: compute_score
        reward_kwargs: {url: "http://127.0.0.1:8080", mode: score}

OpenRLHF calls ``reward_func(queries, prompts, labels)`` from a ``.py`` file given as its remote
reward URL (``openrlhf/utils/agent.py``); use it when the server wants an API key, which
OpenRLHF's own HTTP client cannot send. Without a key, point OpenRLHF at the server's
``/v1/openrlhf/reward`` route directly.

The server is ``url`` (default: ``$SWERM_SERVE_URL``, else ``http://127.0.0.1:8080``), the key is
read from ``$SWERM_SERVE_API_KEY`` (or the variable ``api_key_env`` names). A busy or starting
server (503, 504) or a refused connection is retried, waiting as ``Retry-After`` says; any other
failure raises ``RuntimeError`` with the server's message: a failure is never a reward.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "SWERM_SERVE_URL"
KEY_ENV = "SWERM_SERVE_API_KEY"
#: Fields of verl's ``extra_info`` the server reads (others are not sent).
ROLLOUT_FIELDS = ("instance_id", "problem_statement", "patch", "exit_status", "resolved")
_RETRY_STATUSES = (503, 504)


def _headers(api_key_env: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(api_key_env or KEY_ENV, "")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _error_message(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace")


def post_json(
    url: str,
    payload: Any,
    *,
    api_key_env: str | None = None,
    timeout_s: float = 180.0,
    retries: int = 5,
) -> Any:
    """POST ``payload`` as JSON and return the JSON answer, retrying a busy server."""
    data = json.dumps(payload).encode()
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data, _headers(api_key_env), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = exc.read()
            if exc.code not in _RETRY_STATUSES or attempt == retries:
                raise RuntimeError(
                    f"swerm serve answered {exc.code}: {_error_message(body)}"
                ) from None
            wait = exc.headers.get("Retry-After", "")
            time.sleep(float(wait) if wait.isdigit() else min(2.0**attempt, 30.0))
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if attempt == retries:
                raise RuntimeError(f"swerm serve at {url} is unreachable: {exc}") from None
            time.sleep(min(2.0**attempt, 30.0))
    raise AssertionError("unreachable")


def _base(url: str | None) -> str:
    return (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    mode: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 180.0,
    **_: Any,
) -> dict[str, Any]:
    """verl's ``compute_score``: the reward of one rollout from the server's ``/v1/reward``.

    ``ground_truth`` is the resolved label (for ``mode: hybrid``) or a mapping of fields;
    ``extra_info`` may name ``instance_id``, ``problem_statement``, ``patch``,
    ``exit_status``. Returns ``{"score": reward, "swerm_probability", "swerm_raw"}``: verl
    uses ``score`` and logs the others.
    """
    info = extra_info or {}
    fields = {k: info[k] for k in ROLLOUT_FIELDS if info.get(k) is not None}
    fields.setdefault("instance_id", data_source)
    rollout = {"text": solution_str, "fields": fields, "ground_truth": ground_truth}
    payload: dict[str, Any] = {"rollouts": [rollout]}
    if mode is not None:
        payload["mode"] = mode
    answer = post_json(
        _base(url) + "/v1/reward", payload, api_key_env=api_key_env, timeout_s=timeout_s
    )
    result = answer["results"][0]
    return {
        "score": float(answer["rewards"][0]),
        "swerm_probability": result["calibrated"]
        if result["calibrated"] is not None
        else result["raw"],
        "swerm_raw": result["raw"],
    }


def reward_func(
    queries: Sequence[str],
    prompts: Sequence[str],
    labels: Sequence[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """OpenRLHF's ``reward_func(queries, prompts, labels)``: the server's OpenRLHF route
    (``{"rewards", "scores", "extra_logs"}``, one value per query), sent with the API key."""
    payload = {"query": list(queries), "prompts": list(prompts)}
    if labels is not None:
        payload["labels"] = list(labels)
    return dict(post_json(_base(None) + "/v1/openrlhf/reward", payload))
