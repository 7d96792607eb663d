"""The chat template renders examples, and only assistant tokens carry loss."""

from __future__ import annotations

import pytest

from webtune.chat_format import IGNORE_INDEX, encode_chat
from webtune.errors import WebtuneError
from webtune.models.catalog import chatml_template

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Rome, of course."},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from webtune.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


def labelled_text(tokenizer, enc) -> str:
    return tokenizer.decode([t for t in enc["labels"] if t != IGNORE_INDEX])


def test_only_assistant_replies_carry_labels(tokenizer):
    enc = encode_chat(tokenizer, CONVERSATION)
    assert len(enc["input_ids"]) == len(enc["labels"])
    assert enc["input_ids"] == tokenizer.apply_chat_template(CONVERSATION, tokenize=True, return_dict=True)["input_ids"]
    # Both replies and the token that ends each of them; nothing of system, user or template.
    assert labelled_text(tokenizer, enc) == "Paris.<|im_end|>Rome, of course.<|im_end|>"
    for ids, label in zip(enc["input_ids"], enc["labels"]):
        assert label in (ids, IGNORE_INDEX)


def test_changing_a_user_token_changes_no_label(tokenizer):
    a = encode_chat(tokenizer, CONVERSATION)
    for word in ("Paris", "Spain", "pages", "water", "model", "dog"):
        other = [dict(m) for m in CONVERSATION]
        other[1]["content"] = CONVERSATION[1]["content"].replace("France", word)
        b = encode_chat(tokenizer, other)
        if len(b["input_ids"]) == len(a["input_ids"]):
            break
    assert len(b["input_ids"]) == len(a["input_ids"])  # same length: compare position by position
    assert a["input_ids"] != b["input_ids"]
    assert a["labels"] == b["labels"]


def test_template_without_generation_markers_gives_the_same_tokens(tokenizer):
    plain = chatml_template("You are a tiny test assistant.")
    plain = plain.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    marked, located = encode_chat(tokenizer, CONVERSATION), encode_chat(tokenizer, CONVERSATION, chat_template=plain)
    assert located["input_ids"] == marked["input_ids"]
    # Located by rendering prefixes: the replies, their end token (and the newline after it).
    assert labelled_text(tokenizer, located).replace("\n", "") == labelled_text(tokenizer, marked)


def test_max_len_cuts_the_sequence(tokenizer):
    enc = encode_chat(tokenizer, CONVERSATION, max_len=10)
    assert len(enc["input_ids"]) == len(enc["labels"]) == 10
    assert enc["input_ids"] == encode_chat(tokenizer, CONVERSATION)["input_ids"][:10]


def test_tokenizer_without_chat_template_is_a_clear_error(tokenizer):
    import copy

    bare = copy.deepcopy(tokenizer)
    bare.chat_template = None
    with pytest.raises(WebtuneError, match="no chat template.*train.chat_template"):
        encode_chat(bare, CONVERSATION)
    # A configured template makes it work.
    assert encode_chat(bare, CONVERSATION, chat_template=chatml_template())["input_ids"]


def test_loss_counts_only_assistant_tokens(tiny_model_dir, tokenizer):
    """The training loss equals the mean NLL of the assistant tokens computed by hand."""
    import torch

    from webtune.models import load_causal_lm
    from webtune.train.loop import batch_nll
    from webtune.train.packing import Encoded, collate_packed

    model = load_causal_lm(tiny_model_dir).eval()
    enc = encode_chat(tokenizer, CONVERSATION)
    batch = collate_packed([[Encoded(enc["input_ids"], enc["labels"])]], tokenizer.pad_token_id)
    with torch.no_grad():
        nll, n = batch_nll(model, batch, "cpu")
        logits = model(torch.tensor([enc["input_ids"]])).logits[0]
    logp = torch.log_softmax(logits.float(), -1)
    picked = [-logp[t - 1, enc["input_ids"][t]] for t in range(1, len(enc["labels"]))
              if enc["labels"][t] != IGNORE_INDEX]
    assert n == len(picked) == len(tokenizer("Paris.Rome, of course.")["input_ids"]) + 2
    assert float(nll) == pytest.approx(float(sum(picked)), rel=1e-5)
