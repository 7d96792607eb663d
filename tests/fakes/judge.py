"""Judge behaviours for the fake OpenAI server (`tests.fakes.openai_server.FakeOpenAI.chat_reply`).

Each is a function of the chat completions request body returning the judge's reply text:

* `always_first`: prefers answer A whatever it says (pure position bias);
* `prefers(word)`: prefers the answer containing ``word`` (a fair, consistent judge);
* `malformed_then(reply, bad)`: answers ``bad`` the first time it sees a request, then ``reply``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

Reply = Callable[[dict[str, Any]], str]


def answers(body: dict[str, Any]) -> tuple[str, str]:
    """The two answers a judge request shows, A and B."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    a = re.search(r"\[Answer A\]\n(.*?)\n\[End of A\]", user, re.S)
    b = re.search(r"\[Answer B\]\n(.*?)\n\[End of B\]", user, re.S)
    assert a and b, "not a judge request"
    return a.group(1), b.group(1)


def verdict(winner: str, reason: str) -> str:
    return json.dumps({"reason": reason, "winner": winner})


def always_first(body: dict[str, Any]) -> str:
    answers(body)
    return verdict("A", "The first answer is better.")


def prefers(word: str) -> Reply:
    def reply(body: dict[str, Any]) -> str:
        a, b = answers(body)
        if (word in a) == (word in b):
            return verdict("tie", "Both answers are alike.")
        return verdict("A" if word in a else "B", f"Only that answer mentions {word}.")

    return reply


def malformed_then(reply: Reply, bad: str = "I think A is better, honestly.") -> Reply:
    seen: set[str] = set()

    def answer(body: dict[str, Any]) -> str:
        key = json.dumps(body["messages"])
        if key not in seen:
            seen.add(key)
            return bad
        return reply(body)

    return answer
