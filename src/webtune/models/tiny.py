"""A tiny random-weight Llama chat model, built locally in seconds, for tests.

It mirrors SmolLM2's layout where it matters to the rest of webtune: ChatML special tokens
(`<|endoftext|>`=0, `<|im_start|>`=1, `<|im_end|>`=2), eos = pad = `<|im_end|>`, a byte-level
BPE fast tokenizer, grouped-query attention, tied embeddings, and a ChatML chat template that
inserts a default system turn and marks assistant replies with `{% generation %}`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from webtune.models.catalog import chatml_template
from webtune.models.prepare import progress_bars

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TINY_SYSTEM_PROMPT = "You are a tiny test assistant."

_CORPUS = """\
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step.
Hello! How are you today? I am fine, thank you. What is your name? My name is Tiny.
The web is a large collection of pages. Each page has a title, some text, and links to other pages.
A model learns from examples. Training data should be clean, short, and useful.
Question: What is the capital of France? Answer: The capital of France is Paris.
Question: How many days are in a week? Answer: There are seven days in a week.
Summarize the following article in one sentence. The article explains how to bake bread at home.
You can find more information on the website. Please read the documentation before you start.
The system prompt tells the assistant how to behave. The user asks a question and the assistant answers.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 2024. Dates like 2024-01-31 and times like 12:30 are common.
Python code: def add(a, b): return a + b. JSON looks like {"key": "value", "list": [1, 2, 3]}.
Good answers are clear, correct, and polite. Bad answers are vague or wrong.
In the morning the sun rises in the east, and in the evening it sets in the west.
Water boils at one hundred degrees Celsius at sea level. Ice melts when it gets warm.
People read news, recipes, guides, forums, and reference pages on the internet every day.
"""


def build_tokenizer(
    vocab_corpus: Iterable[str] | None = None,
    vocab_size: int = 768,
    default_system: str | None = TINY_SYSTEM_PROMPT,
    model_max_length: int = 1024,
):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on a built-in corpus plus `vocab_corpus`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = _CORPUS.splitlines() + [str(t) for t in (vocab_corpus or [])]
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        model_max_length=model_max_length,
    )
    tokenizer.chat_template = chatml_template(default_system)
    return tokenizer


def build_tiny_model(
    out_dir: str | os.PathLike,
    *,
    vocab_corpus: Iterable[str] | None = None,
    seed: int = 0,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int | None = None,
    max_position_embeddings: int = 1024,
    vocab_size: int = 768,
    default_system: str | None = TINY_SYSTEM_PROMPT,
) -> Path:
    """Save a random-weight `LlamaForCausalLM` and its chat tokenizer to `out_dir`; return it.

    Deterministic for a given seed and arguments, needs no download, takes about a second.
    `kv_heads` defaults to heads // 2 (grouped-query attention, like SmolLM2); the vocabulary
    is at most `vocab_size` tokens (fewer if the corpus is too small to learn that many merges).
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    tokenizer = build_tokenizer(vocab_corpus, vocab_size, default_system, max_position_embeddings)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads or max(1, heads // 2),
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    out.mkdir(parents=True, exist_ok=True)
    with progress_bars(False):
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
