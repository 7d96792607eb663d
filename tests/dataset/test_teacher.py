"""The teacher LLM against a local chat-completions server: parsing, 429s, 5xx, cache, concurrency."""

from __future__ import annotations


import pytest

from webtune.dataset.config import TeacherConfig
from webtune.dataset.teacher import QAReply, RewriteReply, TeacherClient, TeacherReplyError, parse_reply, run_requests
from webtune.errors import StageError

from tests.dataset.chat_server import ChatServer
from tests.dataset.helpers import product, read_rejects, read_split, run_dataset_stage

SECRET = "sk-test-SECRET-1234567890"


def teacher_cfg(server: ChatServer, tmp_path, **kw) -> dict:
    return {"model": "gpt-4o-mini", "base_url": server.base_url, "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05, "cache_dir": str(tmp_path / "cache"), **kw}


def article(i: int, extra: str = "") -> dict:
    text = (f"# Pen care {i}\n\n## How do I store pen {i}?\n\nStore pen {i} tip down in a cool place. "
            f"It keeps the ink flowing. {extra}\n\n## Cleaning pen {i}\n\nWipe the tip of pen {i} with a soft cloth.")
    return {"id": f"a{i:02d}", "source": {"kind": "files", "uri": f"docs/pen{i}.md"}, "text": text,
            "fields": {"title": f"Pen care {i}"}, "meta": {}}


@pytest.mark.parametrize("content, shape, message", [
    ("not json at all", QAReply, "not JSON"),
    ('{"pairs": [{"question": "Q"}]}', QAReply, "pairs.0.answer"),
    ('{"pairs": [{"question": "Q", "answer": "  "}]}', QAReply, "is empty"),
    ('{"pairs": [{"question": "Q", "answer": "A", "extra": 1}]}', QAReply, "extra"),
    ('{"pairs": []}', QAReply, "pairs is empty"),
    ('{"pairs": [{"question": 3, "answer": "A"}]}', QAReply, "pairs.0.question"),
    ("", QAReply, "empty reply"),
    ('{"text": "x"}', RewriteReply, "answer"),
])
def test_strict_parsing_rejects_anything_but_the_asked_shape(content, shape, message):
    with pytest.raises(TeacherReplyError) as info:
        parse_reply(content, shape)
    assert message in str(info.value)


def test_parsing_accepts_a_code_fence_and_a_bare_list():
    fenced = '```json\n{"pairs": [{"question": " Q? ", "answer": "A."}]}\n```'
    assert parse_reply(fenced, QAReply).pairs[0].question == "Q?"
    assert len(parse_reply('[{"question": "Q", "answer": "A"}]', QAReply).pairs) == 1


def test_retries_on_429_and_503_then_answers_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ChatServer() as server:
        cfg = TeacherConfig.model_validate(teacher_cfg(server, tmp_path, max_retries=3))
        client = TeacherClient(cfg, tmp_path / "cache")
        prompts = [[{"role": "user", "content": "Passage:\nRATE2 first."}],
                   [{"role": "user", "content": "Passage:\nBOOM1 second."}]]
        replies = run_requests(client, prompts)
        assert all(parse_reply(r, QAReply).pairs for r in replies)
        assert server.status_counts == {429: 2, 503: 1, 200: 2}
        assert client.usage.retries == 3 and client.usage.requests == 2
        assert set(server.auth_headers) == {f"Bearer {SECRET}"}  # the key from the environment is sent
        # a second client over the same cache sends nothing
        again = TeacherClient(cfg, tmp_path / "cache")
        assert run_requests(again, prompts) == replies
        assert server.requests == 5 and again.usage.cache_hits == 2 and again.usage.requests == 0


def test_a_429_waits_as_long_as_the_server_asks(tmp_path):
    import time

    with ChatServer() as server:
        server.retry_after = "0.4"
        cfg = TeacherConfig.model_validate(teacher_cfg(server, tmp_path))  # own backoff: 0.01-0.05 s
        client = TeacherClient(cfg, tmp_path / "cache")
        client._openai()  # import and set up the SDK before timing
        start = time.perf_counter()
        client.complete([{"role": "user", "content": "Passage:\nRATE1 text."}])
        assert time.perf_counter() - start >= 0.4
        assert server.status_counts == {429: 1, 200: 1}


def test_gives_up_after_max_retries_with_a_clear_error(tmp_path):
    with ChatServer() as server:
        cfg = TeacherConfig.model_validate(teacher_cfg(server, tmp_path, max_retries=2))
        client = TeacherClient(cfg, tmp_path / "cache")
        with pytest.raises(StageError, match="HTTP 429"):
            run_requests(client, [[{"role": "user", "content": "RATE9"}]])
        assert server.requests == 3  # the first try and two retries


def test_concurrency_limit_is_respected(tmp_path):
    with ChatServer(delay_s=0.05) as server:
        cfg = TeacherConfig.model_validate(teacher_cfg(server, tmp_path, concurrency=3))
        client = TeacherClient(cfg, tmp_path / "cache")
        run_requests(client, [[{"role": "user", "content": f"Passage:\nText {i}."}] for i in range(12)])
        assert server.requests == 12
        assert 2 <= server.max_in_flight <= 3


def test_openai_without_a_key_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = TeacherConfig(model="gpt-4o-mini", cache_dir=tmp_path)
    from webtune.openai_client import APIAuthError

    with pytest.raises(APIAuthError, match="set the environment variable OPENAI_API_KEY"):
        TeacherClient(cfg, tmp_path).complete([{"role": "user", "content": "x"}])


def test_build_with_teacher_qa_rejects_bad_replies_counts_cost_and_reruns_from_cache(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("MY_TEACHER_KEY", SECRET)
    docs = [article(i) for i in range(8)] + [article(8, "MALFORMED"), article(9, "WRONGSHAPE RATE1")]
    with ChatServer() as server:
        dataset = {"teacher": teacher_cfg(server, tmp_path, api_key_env="MY_TEACHER_KEY", concurrency=2),
                 "split": {"validation": 0.1, "test": 0.1}}
        manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
        first_requests = server.requests
        # 10 documents x 2 sections (the H1 has no text of its own) = 20 chunks; one 429 retried
        assert first_requests == 21
        rejects = read_rejects(out)
        bad = [r for r in rejects if r["reason"] == "unparseable_reply"]
        assert {r["id"] for r in bad} == {"a08", "a09"}
        assert any("not JSON" in r["value"] for r in bad) and any("wrong shape" in r["value"] for r in bad)
        assert all("reply" in r["record"] for r in bad)
        examples = [e for s in ("train", "validation", "test") for e in read_split(out, s)]
        # 18 chunks that parse x 2 pairs; one reject per unparseable reply
        assert len(examples) == 36 and len(rejects) == 2
        assert {e["meta"]["template"] for e in examples} == {"teacher-qa"}
        teacher = manifest.stats["teacher"]
        assert teacher["requests"] == 20 and teacher["retries"] == 1 and teacher["cache_hits"] == 0
        assert teacher["prompt_tokens"] == 2000 and teacher["completion_tokens"] == 400
        assert teacher["usd"] == pytest.approx((2000 * 0.15 + 400 * 0.60) / 1e6)
        counts = manifest.counts
        assert counts.seen == counts.kept + counts.rejected
        assert counts.kept == len(examples)
        # the secret appears nowhere in the outputs
        for path in out.rglob("*"):
            if path.is_file() and path.suffix in (".json", ".jsonl"):
                assert SECRET not in path.read_text()

        # a rerun is served by the cache: no request reaches the server, same output
        manifest2, out2 = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
        assert server.requests == first_requests
        assert manifest2.stats["teacher"]["cache_hits"] == 20
        assert manifest2.stats["teacher"]["requests"] == 0
        assert manifest2.counts == manifest.counts
        same = lambda m: [o for o in m.outputs if o.path != "stats.json"]  # noqa: E731
        assert same(manifest2) == same(manifest)  # byte-identical splits, rejects and exports


def test_build_with_teacher_rewrite_replaces_the_assistant_message(tmp_path, tiny_model_dir):
    docs = [product(i) for i in range(16)]
    docs[3]["fields"]["description"] = "MALFORMED text that the teacher cannot rewrite nicely."
    with ChatServer() as server:
        dataset = {"templates": [{"name": "copy", "user": "Describe {{ title }}.", "assistant": "{{ description }}"}],
                 "teacher": teacher_cfg(server, tmp_path, mode="rewrite")}
        manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
    examples = [e for s in ("train", "validation", "test") for e in read_split(out, s)]
    assert len(examples) == 15
    for e in examples:
        assert e["messages"][-1]["content"].startswith("REWRITTEN: The Gel Pen Pack")
        assert e["meta"]["rewritten_by"] == "gpt-4o-mini"
    [bad] = read_rejects(out)
    assert (bad["id"], bad["reason"]) == ("p003", "unparseable_reply")
