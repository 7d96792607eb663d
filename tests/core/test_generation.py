"""Batched generation (webtune.generation) on the tiny model: batching must not change greedy answers."""

from __future__ import annotations

from webtune.generation import cut_at_stop, generate_batch, length_sorted_batches

PROMPTS = [
    [{"role": "user", "content": "Hi."}],
    [{"role": "user", "content": "Tell me about the quick brown fox and the lazy dog, in detail please."}],
    [{"role": "user", "content": "What is the web?"}],
    [{"role": "system", "content": "Be brief."},
     {"role": "user", "content": "Question: How many days are in a week? Answer with a number and a word."}],
    [{"role": "user", "content": "Water?"}],
]


def test_batched_greedy_equals_one_at_a_time_token_for_token(tiny_model_dir):
    from webtune.models import load_causal_lm, load_tokenizer
    from webtune.serve.models import LocalChatModel

    chat = LocalChatModel(load_causal_lm(tiny_model_dir), load_tokenizer(tiny_model_dir))
    prompts = [chat.render(p) for p in PROMPTS]
    lengths = {len(chat.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts}
    assert len(lengths) == len(PROMPTS)  # really different lengths: the batches are padded
    kwargs = dict(max_new_tokens=12, stop_ids=chat.stop_ids())
    seen: list[int] = []
    batched = generate_batch(chat.model, chat.tokenizer, prompts, batch_size=4, on_batch=seen.append, **kwargs)
    alone = [generate_batch(chat.model, chat.tokenizer, [p], batch_size=1, **kwargs)[0] for p in prompts]
    assert [g.ids for g in batched] == [g.ids for g in alone]
    assert [g.prompt_tokens for g in batched] == [g.prompt_tokens for g in alone]
    assert [g.finish_reason for g in batched] == [g.finish_reason for g in alone]
    assert seen == [4, 1]
    assert any(g.ids for g in batched)  # something was generated at all


def test_batches_are_length_sorted_and_answers_come_back_in_order():
    assert length_sorted_batches([5, 1, 4, 2, 3], 2) == [[1, 3], [4, 2], [0]]
    assert cut_at_stop([7, 8, 2, 9], {2}) == ([7, 8], "stop")
    assert cut_at_stop([7, 8], {2}) == ([7, 8], "length")
