"""A local HTTP server that speaks the OpenAI chat completions API, scripted for tests.

The reply depends on the last user message:
* contains ``MALFORMED``: a reply that is not JSON;
* contains ``WRONGSHAPE``: JSON of the wrong shape;
* contains ``RATE<n>``: the first ``n`` requests with that prompt get HTTP 429;
* contains ``BOOM<n>``: the first ``n`` requests get HTTP 503;
* otherwise (qa prompt): ``{"pairs": [...]}`` with pairs quoting the passage; (rewrite
  prompt): ``{"answer": "REWRITTEN: <old answer>"}``.
It counts every request, the most requests in flight at once, and the Authorization headers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.retry_after = "0"  # the Retry-After header sent with 429s
        self.requests = 0
        self.status_counts: Counter = Counter()
        self.per_prompt: Counter = Counter()
        self.auth_headers: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server.auth_headers.append(self.headers.get("Authorization", ""))
                try:
                    time.sleep(server.delay_s)
                    status, payload = server.answer(self.path, body)
                finally:
                    with server.lock:
                        server.in_flight -= 1
                        server.status_counts[status] += 1
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", server.retry_after)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "ChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}"}}
        prompt = body["messages"][-1]["content"]
        with self.lock:
            self.per_prompt[prompt] += 1
            seen = self.per_prompt[prompt]
        for marker, status in (("RATE", 429), ("BOOM", 503)):
            match = re.search(marker + r"(\d+)", prompt)
            if match and seen <= int(match.group(1)):
                return status, {"error": {"message": "slow down", "type": "rate_limit"}}
        if "MALFORMED" in prompt:
            content = "Sure! Here are some questions: 1. What?"
        elif "WRONGSHAPE" in prompt:
            content = json.dumps({"questions": ["What?"]})
        elif "Current answer:" in prompt:
            old = prompt.split("Current answer:\n", 1)[1]
            content = json.dumps({"answer": f"REWRITTEN: {old}"})
        else:
            passage = prompt.split("Passage:\n", 1)[-1]
            first = passage.split(".")[0].strip()
            content = "```json\n" + json.dumps({"pairs": [
                {"question": f"What does the passage say first? ({first[:40]})", "answer": first + "."},
                {"question": f"How long is the passage on {first[:40]}?", "answer": f"{len(passage.split())} words."},
            ]}) + "\n```"
        return 200, {
            "id": f"chatcmpl-{self.requests}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
