"""A small inference server the fault tests control, run as its own process on 127.0.0.1.

It speaks the parts of vLLM's HTTP API the remote backends use (``/health``, ``/v1/models``,
``/tokenize``, ``/generative_scoring``, ``/v1/completions``, ``/v1/chat/completions``,
``/classify``, ``/pooling``) with the same JSON shapes, but its "model" is :func:`oracle_score`, a
hash of the exact token ids, so a test knows the right answer for every prompt no matter how the
client grouped or retried them. Faults are queued through ``POST /_faults`` and hit the next
scoring requests in order; ``GET /_log`` lists every request seen.

Run: ``python fake_server.py --model NAME [--api-key KEY] [--max-model-len N] [--tokens JSON]``;
the first line on stdout is the port.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCORING_PATHS = {
    "/generative_scoring",
    "/v1/completions",
    "/v1/chat/completions",
    "/classify",
    "/pooling",
}
#: Share of the next-token mass the two verdict tokens get together in /v1/completions replies.
VERDICT_MASS = 0.6


def oracle_score(ids: list[int] | str) -> float:
    """The fake model's P(YES) for a prompt: a stable hash of its token ids (or text) in (0, 1)."""
    key = json.dumps(ids, separators=(",", ":")).encode()
    value = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return (value % 999_983 + 1) / 999_985


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.model: str = args.model
        self.api_key: str | None = args.api_key
        self.max_model_len: int = args.max_model_len
        self.tokens: dict[str, list[int]] = json.loads(args.tokens)
        self.faults: deque[dict[str, Any]] = deque()
        self.delay = 0.0
        self.log: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # --- plumbing ---

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        state = self.state
        body = self._body() if method == "POST" else None
        path = self.path
        if path.startswith("/_"):
            self._control(path, body)
            return
        entry = {
            "path": path,
            "t": time.time(),
            "auth": self.headers.get("Authorization"),
            "body": body,
            "fault": None,
        }
        with state.lock:
            state.log.append(entry)
        authorised = self.headers.get("Authorization") == f"Bearer {state.api_key}"
        if state.api_key and path != "/health" and not authorised:
            self._send(401, {"error": {"message": "invalid api key", "code": 401}})
            return
        if path in SCORING_PATHS:
            with state.lock:
                fault = state.faults.popleft() if state.faults else None
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            entry["fault"] = fault
            try:
                if state.delay:
                    time.sleep(state.delay)
                if fault is not None and self._fault(fault):
                    return
                self._route(path, body)
            finally:
                with state.lock:
                    state.in_flight -= 1
            return
        self._route(path, body)

    def _fault(self, fault: dict[str, Any]) -> bool:
        """Apply ``fault``; True when it replaced the answer."""
        kind = fault["kind"]
        if kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if kind == "status":
            headers = {}
            if "retry_after" in fault:
                headers["Retry-After"] = str(fault["retry_after"])
            message = fault.get("message", f"injected {fault['status']}")
            self._send(fault["status"], {"error": {"message": message}}, headers)
            return True
        if kind == "malformed":
            self._send(200, b'{"data": [{"index": 0, "sco')
            return True
        if kind == "slow":
            time.sleep(float(fault["seconds"]))
            return False
        raise ValueError(f"unknown fault {fault!r}")

    def _control(self, path: str, body: Any) -> None:
        state = self.state
        with state.lock:
            if path == "/_faults":
                state.faults.extend(body["faults"])
                self._send(200, {"queued": len(state.faults)})
            elif path == "/_delay":
                state.delay = float(body["seconds"])
                self._send(200, {"delay": state.delay})
            elif path == "/_log":
                self._send(200, {"log": state.log, "max_in_flight": state.max_in_flight})
            else:
                self._send(404, {"error": {"message": f"no control route {path}"}})

    # --- the API ---

    def _route(self, path: str, body: Any) -> None:
        state = self.state
        if path == "/health":
            self._send(200, b"")  # as vLLM: 200 with an empty body
        elif path == "/v1/models":
            card = {"id": state.model, "object": "model", "max_model_len": state.max_model_len}
            self._send(200, {"object": "list", "data": [card]})
        elif path == "/tokenize":
            prompt = body["prompt"]
            tokens = state.tokens.get(prompt, [ord(c) for c in prompt])
            self._send(200, {"count": len(tokens), "max_model_len": 0, "tokens": tokens})
        elif body.get("model") != state.model:
            message = f"The model `{body.get('model')}` does not exist."
            self._send(404, {"error": {"message": message, "code": 404}})
        elif path == "/generative_scoring":
            self._generative_scoring(body)
        elif path == "/v1/completions":
            self._completions(body)
        elif path == "/v1/chat/completions":
            self._chat(body)
        else:
            self._pooling(path, body)

    def _generative_scoring(self, body: dict[str, Any]) -> None:
        query = body["query"]
        data = []
        for index, item in enumerate(body["items"]):
            score = oracle_score(query + item)
            data.append({"index": index, "object": "score", "score": score})
        self._send(200, {"object": "list", "model": self.state.model, "data": data})

    def _top(self, p: float, yes: str, no: str, k: int) -> dict[str, float]:
        """Top-k log-probs: the verdicts share VERDICT_MASS as p : 1-p, a filler token the rest."""
        everything = {
            yes: math.log(VERDICT_MASS * p),
            no: math.log(VERDICT_MASS * (1 - p)),
            "filler": math.log(1 - VERDICT_MASS),
        }
        ranked = sorted(everything.items(), key=lambda kv: kv[1], reverse=True)
        return dict(ranked[:k])

    def _completions(self, body: dict[str, Any]) -> None:
        prompt = body["prompt"]
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], list):
            prompt = prompt[0]
        verdict = self.state.tokens
        if body.get("return_tokens_as_token_ids"):
            yes, no = (f"token_id:{verdict['<YES>'][0]}", f"token_id:{verdict['<NO>'][0]}")
        else:
            yes, no = "<YES>", "<NO>"
        top = self._top(oracle_score(prompt), yes, no, int(body.get("logprobs") or 1))
        best = next(iter(top))
        choice = {
            "index": 0,
            "text": best,
            "finish_reason": "length",
            "logprobs": {
                "text_offset": [0],
                "token_logprobs": [top[best]],
                "tokens": [best],
                "top_logprobs": [top],
            },
        }
        self._send(200, self._completion_envelope("text_completion", choice))

    def _chat(self, body: dict[str, Any]) -> None:
        text = json.dumps(body["messages"], sort_keys=True)
        k = int(body.get("top_logprobs") or 1)
        top = self._top(oracle_score(text), "<YES>", "<NO>", k)
        entries = [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in top.items()]
        best = entries[0]
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": best["token"]},
            "finish_reason": "length",
            "logprobs": {"content": [{**best, "top_logprobs": entries}]},
        }
        self._send(200, self._completion_envelope("chat.completion", choice))

    def _completion_envelope(self, kind: str, choice: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "cmpl-fake",
            "object": kind,
            "created": int(time.time()),
            "model": self.state.model,
            "choices": [choice],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _pooling(self, path: str, body: dict[str, Any]) -> None:
        data = []
        for index, ids in enumerate(body["input"]):
            p = oracle_score(ids)
            # use_activation false: the raw logits, whose sigmoids are the probabilities.
            outputs = [1 - p, p] if body.get("use_activation", True) else [-logit(p), logit(p)]
            if path == "/classify":
                data.append({"index": index, "label": "LABEL_1", "probs": outputs})
            else:
                data.append({"index": index, "object": "pooling", "data": outputs})
        self._send(200, {"object": "list", "model": self.state.model, "data": data})


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key")
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--tokens", default="{}", help='JSON: {"<YES>": [id], ...} for /tokenize')
    args = parser.parse_args()
    handler = type("BoundHandler", (Handler,), {"state": State(args)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
