"""A scripted OpenAI-compatible chat server on 127.0.0.1: a stand-in for an API model when
testing the ``judge`` backend, or a plugin built on it, without one.

It answers ``POST /v1/chat/completions`` with replies a test prepares (a :data:`Script` maps each
request body to an :class:`Answer`), and, when asked for log-probs, gives every generated token
its log-prob and the verdict word the top alternatives the answer's ``p_yes`` implies. The HTTP,
the litellm client, the retries and the parsing on swerm's side are the real ones.
``GET /v1/models`` lists the model (with vLLM's ``max_model_len`` when given). Every request
body is kept (:meth:`ScriptedServer.chat_requests`).

    server = ScriptedServer(lambda body: Answer("Looks right.\nVERDICT: YES", p_yes=0.8))
    ...  # remote.endpoints = [server.url], judge.model = "scripted-judge"
    server.stop()
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The share of the verdict position's mass the two verdict words get together.
VERDICT_MASS = 0.9
_TOKENS = re.compile(r"\s*\S+|\s+")


@dataclass
class Answer:
    """What the server answers to one request.

    ``p_yes`` is the P(YES) the verdict word's log-probs show (``None``: the reply has no
    verdict word to give log-probs to). ``status`` other than 200 answers with that error;
    ``raw`` sends these bytes as the body instead of a reply.
    """

    text: str = ""
    p_yes: float | None = None
    status: int = 200
    raw: bytes | None = None


Script = Callable[[dict[str, Any]], Answer]


def tokens_of(text: str) -> list[str]:
    """The reply cut into tokens: each word with the spaces before it (they join back to it)."""
    return _TOKENS.findall(text)


class ScriptedServer:
    """The server, on its own thread; :meth:`stop` shuts it down."""

    def __init__(
        self,
        script: Script,
        *,
        model: str = "scripted-judge",
        logprobs: bool = True,
        verdicts: tuple[str, str] = ("YES", "NO"),
        usage: bool = True,
        max_model_len: int | None = None,
    ) -> None:
        self.script = script
        self.max_model_len = max_model_len
        self.model = model
        self.logprobs = logprobs
        self.verdicts = verdicts
        self.usage = usage
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def chat_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests)

    # --- the reply ---

    def reply(self, body: dict[str, Any], answer: Answer) -> dict[str, Any]:
        tokens = tokens_of(answer.text)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": answer.text},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if body.get("logprobs") and self.logprobs:
            k = int(body.get("top_logprobs") or 1)
            choice["logprobs"] = {"content": self._logprobs(tokens, answer.p_yes, k)}
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body["messages"])
        usage = {
            "prompt_tokens": prompt_chars // 4 + 1,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_chars // 4 + 1 + len(tokens),
        }
        return {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [choice],
            **({"usage": usage} if self.usage else {}),
        }

    def _logprobs(self, tokens: list[str], p_yes: float | None, k: int) -> list[dict[str, Any]]:
        at = self._verdict_index(tokens) if p_yes is not None else None
        entries = []
        for index, token in enumerate(tokens):
            if index == at and p_yes is not None:
                yes, no = self.verdicts
                mass = {
                    f" {yes}": VERDICT_MASS * p_yes,
                    f" {no}": VERDICT_MASS * (1 - p_yes),
                    " maybe": 1 - VERDICT_MASS,
                }
                ranked = sorted(
                    ((t, math.log(m)) for t, m in mass.items() if m > 0),
                    key=lambda tv: tv[1],
                    reverse=True,
                )
                top = [_entry(t, v) for t, v in ranked[:k]]
                own = dict(ranked).get(f" {token.strip()}", math.log(1e-6))
                entries.append({**_entry(token, own), "top_logprobs": top})
            else:
                entries.append({**_entry(token, -0.01), "top_logprobs": [_entry(token, -0.01)]})
        return entries

    def _verdict_index(self, tokens: list[str]) -> int | None:
        words = {w.lower() for w in self.verdicts}
        found = [i for i, t in enumerate(tokens) if t.strip().strip("*").lower() in words]
        return found[-1] if found else None


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: ScriptedServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server_state
        if self.path.rstrip("/") == "/v1/models":
            card: dict[str, Any] = {"id": state.model, "object": "model"}
            if state.max_model_len is not None:
                card["max_model_len"] = state.max_model_len
            self._send(200, {"object": "list", "data": [card]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        state = self.server_state
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        with state.lock:
            state.requests.append(body)
        if body.get("model") != state.model:
            self._send(
                404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}}
            )
            return
        answer = state.script(body)
        if answer.raw is not None:
            self._send(200, answer.raw)
        elif answer.status != 200:
            self._send(answer.status, {"error": {"message": f"scripted {answer.status}"}})
        else:
            self._send(200, state.reply(body, answer))
