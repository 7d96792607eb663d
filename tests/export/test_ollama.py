"""Ollama export: the Modelfile, and refusing a chat template it cannot translate."""

from __future__ import annotations

import pytest

from webtune.errors import InputError
from webtune.export.ollama import CHATML_GO_TEMPLATE, chatml_default_system
from webtune.models.tiny import TINY_SYSTEM_PROMPT


def test_modelfile_points_at_the_proven_gguf_with_template_stops_and_system(exported):
    _, out, _ = exported
    text = (out / "ollama" / "Modelfile").read_text()
    lines = text.splitlines()
    assert lines[0] == "FROM ../gguf/tiny-v1-q8_0.gguf" and (out / "ollama" / "../gguf/tiny-v1-q8_0.gguf").is_file()
    assert f'TEMPLATE """{CHATML_GO_TEMPLATE}"""' in text
    assert "{{ .System }}" in text and "{{- range .Messages }}" in text and text.count("<|im_start|>assistant\n") == 1
    assert 'PARAMETER stop "<|im_end|>"' in lines
    assert f'SYSTEM """{TINY_SYSTEM_PROMPT}"""' in lines
    assert not list((out / "ollama").glob("*.gguf"))  # reuses the gguf export's file


def test_a_template_that_is_not_chatml_is_refused_in_one_line(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert chatml_default_system(tokenizer, "tiny") == TINY_SYSTEM_PROMPT
    tokenizer.chat_template = "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
    with pytest.raises(InputError, match="translates ChatML chat templates only") as info:
        chatml_default_system(tokenizer, "tiny")
    assert "\n" not in str(info.value)
    tokenizer.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                               "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    assert chatml_default_system(tokenizer, "tiny") is None  # ChatML without a default system prompt
