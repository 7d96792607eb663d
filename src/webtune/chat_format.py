"""Render a chat example with the base model's chat template and mask everything but the replies.

`encode_chat` is the one place where a conversation becomes training tokens; the train stage and
the evaluate stage's held-out loss both call it, so the loss means the same thing in both.

``labels`` follow the transformers convention: aligned with ``input_ids`` (the model shifts them
by one itself) and -100 wherever a token carries no loss: the system and user turns and the
template's own tokens (``<|im_start|>assistant\\n``). The assistant's reply and the token that
ends it (``<|im_end|>`` for ChatML) carry loss, so the model learns to stop.

Two ways to find the assistant tokens, in this order:

* the template marks replies with ``{% generation %}`` (webtune's catalog and tiny models do):
  transformers' ``return_assistant_tokens_mask`` gives the mask directly;
* otherwise the conversation is rendered up to each reply (with the generation prompt) and the
  text that the reply adds is located in the full rendering; tokens inside it carry loss.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from webtune.errors import WebtuneError

IGNORE_INDEX = -100


def _as_dicts(messages: Iterable[Any]) -> list[dict[str, str]]:
    """Messages as plain ``{"role", "content"}`` dicts (accepts dicts and pydantic Messages)."""
    out = []
    for message in messages:
        if isinstance(message, Mapping):
            out.append({"role": message["role"], "content": message["content"]})
        else:
            out.append({"role": message.role, "content": message.content})
    return out


def resolve_chat_template(tokenizer: Any, chat_template: str | None = None) -> str:
    """The template to render with: ``chat_template`` if given, else the tokenizer's own.

    Raises a WebtuneError when neither exists (a base model without a chat template).
    """
    template = chat_template or getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # some tokenizers keep named templates; use the default one
        template = template.get("default")
    if not template:
        name = getattr(tokenizer, "name_or_path", "") or "the base model"
        raise WebtuneError(
            f"{name}: the tokenizer has no chat template; set train.chat_template in the "
            "pipeline file (a Jinja chat template) or use a chat/instruct base model"
        )
    return template


def encode_chat(tokenizer: Any, messages: Iterable[Any], max_len: int | None = None, *,
                chat_template: str | None = None) -> dict[str, list[int]]:
    """Token ids and loss labels of one conversation, rendered with the chat template.

    Returns ``{"input_ids": [...], "labels": [...]}`` of equal length; ``labels`` is -100 on
    every token that is not part of an assistant reply. With ``max_len`` the sequence is cut to
    its first ``max_len`` tokens (callers drop examples left without any assistant label).
    """
    template = resolve_chat_template(tokenizer, chat_template)
    msgs = _as_dicts(messages)
    if "generation" in template and "endgeneration" in template:
        input_ids, mask = _encode_with_generation_markers(tokenizer, msgs, template)
    else:
        input_ids, mask = _encode_with_prefixes(tokenizer, msgs, template)
    labels = [tok if keep else IGNORE_INDEX for tok, keep in zip(input_ids, mask)]
    if max_len is not None:
        input_ids, labels = input_ids[:max_len], labels[:max_len]
    return {"input_ids": input_ids, "labels": labels}


def _encode_with_generation_markers(tokenizer: Any, msgs: list[dict[str, str]],
                                    template: str) -> tuple[list[int], list[int]]:
    """Ids and assistant mask via transformers' ``{% generation %}`` support."""
    out = tokenizer.apply_chat_template(
        msgs, chat_template=template, tokenize=True, return_dict=True,
        return_assistant_tokens_mask=True,
    )
    return list(out["input_ids"]), list(out["assistant_masks"])


def _render(tokenizer: Any, msgs: list[dict[str, str]], template: str, gen_prompt: bool) -> str:
    return tokenizer.apply_chat_template(msgs, chat_template=template, tokenize=False,
                                         add_generation_prompt=gen_prompt)


def _encode_with_prefixes(tokenizer: Any, msgs: list[dict[str, str]],
                          template: str) -> tuple[list[int], list[int]]:
    """Ids and assistant mask by rendering the conversation up to each reply.

    The span a reply adds is ``render(messages[:i+1])`` minus ``render(messages[:i]) + prompt``;
    a template whose partial renderings are not prefixes of the full one cannot be masked this
    way, and says so.
    """
    full = _render(tokenizer, msgs, template, gen_prompt=False)
    spans = []
    for i, message in enumerate(msgs):
        if message["role"] != "assistant":
            continue
        before = _render(tokenizer, msgs[:i], template, gen_prompt=True) if i else ""
        upto = _render(tokenizer, msgs[: i + 1], template, gen_prompt=False)
        if not full.startswith(upto) or not upto.startswith(before):
            raise WebtuneError(
                "the chat template renders earlier turns differently once a reply follows, so "
                "assistant tokens cannot be located; add {% generation %} markers around the "
                "assistant content in train.chat_template"
            )
        spans.append((len(before), len(upto)))
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(any(s <= start and end <= e and end > start for s, e in spans))
            for start, end in enc["offset_mapping"]]
    return list(enc["input_ids"]), mask
