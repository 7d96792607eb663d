"""The round-trip proof of a GGUF file: an independent reader loads it and answers like the merged model.

transformers' GGUF loader (``from_pretrained(dir, gguf_file=...)``) rebuilds the weights and the
tokenizer from the file alone, and the ``gguf`` package's `GGUFReader` reads its metadata. On the
test prompts, each side renders the prompt with its own chat template and tokenizer, and answers
greedily until its own stop tokens:

* ``exact_answers``: answers equal token for token (required of f16, whose weights are the merged
  model's rounded to half precision);
* ``token_agreement``: teacher-forced top-1 agreement, i.e. for each token of the merged model's
  answer, whether the GGUF model's most likely next token is the same (at least 95% for q8_0).
  Teacher forcing measures the quantization, not how early one different token derails the rest;
* the metadata: chat template, eos/eot/bos/pad tokens equal the source's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from webtune.export.source import ExportSource
from webtune.jsonl import atomic_write_json

REPORT_FILE = "roundtrip.json"
MIN_Q8_AGREEMENT = 0.95


def reference_answers(source: ExportSource) -> list[dict[str, Any]]:
    """The merged model's greedy answers on the test prompts (computed once per source)."""
    if source.answers is None:
        conversations, origin = source.prompts()
        tokenizer, stops = source.tokenizer, source.stop_ids()
        rows = []
        for messages in conversations:
            prompt = prompt_ids(tokenizer, messages)
            rows.append({"messages": messages, "prompt_ids": prompt, "origin": origin,
                         "answer": greedy(source.model, prompt, stops, source.max_new_tokens, tokenizer)})
        source.answers = rows
    return source.answers


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The prompt as rendered by ``tokenizer``'s chat template, ready for the assistant's answer."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer.encode(text, add_special_tokens=False)


def greedy(model: Any, prompt: list[int], stops: list[int], max_new_tokens: int, tokenizer: Any) -> list[int]:
    """The greedy continuation of ``prompt`` (token ids), ending at a stop token or the length limit."""
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    with torch.no_grad():
        output = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None,
                                top_k=None, eos_token_id=stops, pad_token_id=pad)
    return output[0, len(prompt):].tolist()


def forced_agreement(model: Any, prompt: list[int], answer: list[int]) -> int:
    """How many tokens of ``answer`` ``model`` predicts as its top-1 next token, fed the answer so far."""
    import torch

    if not answer:
        return 0
    ids = torch.tensor([prompt + answer])
    with torch.no_grad():
        logits = model(ids).logits[0, len(prompt) - 1: len(prompt) + len(answer) - 1]
    return int((logits.argmax(-1) == torch.tensor(answer)).sum())


def load_gguf(path: Path) -> tuple[Any, Any]:
    """(model, tokenizer) rebuilt by transformers from the GGUF file alone, as dense float32."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from webtune.models.prepare import progress_bars

    extra = {}
    if hasattr(transformers, "GgufConfig"):  # newer transformers: ask for dense weights
        extra["quantization_config"] = transformers.GgufConfig(dequantize=True)
    folder, name = str(path.parent), path.name
    with progress_bars(False):
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                     local_files_only=True, **extra)
    return model.eval(), tokenizer


def read_metadata(path: Path) -> dict[str, Any]:
    """The GGUF's scalar and string metadata (arrays left out), read by the gguf package."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    found: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if len(field.types) == 1 and key != "GGUF.kv_count":
            found[key] = field.contents()
    found["tokenizer.ggml.tokens.count"] = len(reader.fields["tokenizer.ggml.tokens"].data) \
        if "tokenizer.ggml.tokens" in reader.fields else 0
    return found


def metadata_checks(source: ExportSource, meta: dict[str, Any]) -> dict[str, bool]:
    """Whether the file's chat template and special tokens are the source's."""
    tokenizer = source.tokenizer
    expected = {"tokenizer.chat_template": tokenizer.chat_template,
                "tokenizer.ggml.eos_token_id": tokenizer.eos_token_id,
                "tokenizer.ggml.eot_token_id": source.end_of_turn_id(),
                "tokenizer.ggml.bos_token_id": tokenizer.bos_token_id,
                "tokenizer.ggml.padding_token_id": tokenizer.pad_token_id,
                "tokenizer.ggml.tokens.count": source.model.config.vocab_size}
    return {key: meta.get(key) == value for key, value in expected.items() if value is not None}


def check_gguf(source: ExportSource, path: Path, quant: str) -> dict[str, Any]:
    """Load ``path`` with transformers and the gguf reader, answer the prompts, compare with the merged model."""
    reference = reference_answers(source)
    meta = read_metadata(path)
    model, tokenizer = load_gguf(path)
    stops = [int(meta[k]) for k in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id") if k in meta]
    rows, agreed, compared = [], 0, 0
    for ref in reference:
        prompt = prompt_ids(tokenizer, ref["messages"])
        answer = greedy(model, prompt, stops, source.max_new_tokens, tokenizer)
        hits = forced_agreement(model, ref["prompt_ids"], ref["answer"])
        agreed, compared = agreed + hits, compared + len(ref["answer"])
        rows.append({"prompt": ref["messages"][-1]["content"][:60], "prompt_equal": prompt == ref["prompt_ids"],
                     "merged_tokens": len(ref["answer"]), "gguf_tokens": len(answer),
                     "exact": answer == ref["answer"], "agreement": hits / len(ref["answer"]) if ref["answer"] else 1.0,
                     "merged_answer": source.tokenizer.decode(ref["answer"], skip_special_tokens=True),
                     "gguf_answer": tokenizer.decode(answer, skip_special_tokens=True)})
    checks = metadata_checks(source, meta)
    exact = sum(row["exact"] for row in rows)
    agreement = agreed / compared if compared else 1.0
    prompts_equal = sum(row["prompt_equal"] for row in rows)
    if quant == "f16":
        passed = exact == len(rows) and prompts_equal == len(rows)
        rule = "every answer equal token for token"
    else:
        passed = agreement >= MIN_Q8_AGREEMENT and prompts_equal == len(rows)
        rule = f"token agreement >= {MIN_Q8_AGREEMENT:.0%}"
    return {"quantization": quant, "file": path.name, "bytes": path.stat().st_size,
            "prompt_source": reference[0]["origin"] if reference else None, "prompts": len(rows),
            "prompts_tokenized_equal": prompts_equal, "exact_answers": exact, "token_agreement": round(agreement, 4),
            "tokens_compared": compared, "metadata": checks, "rule": rule,
            "passed": bool(passed and all(checks.values())), "rows": rows}


def write_report(out_dir: Path, source: ExportSource, reports: dict[str, dict[str, Any]]) -> list[Path]:
    """Write ``roundtrip.json`` next to the files; return it in a list."""
    source.reports.update(reports)
    path = out_dir / REPORT_FILE
    atomic_write_json(path, {"model": source.label, "reader": "transformers GGUF loader + gguf.GGUFReader",
                             "max_new_tokens": source.max_new_tokens, "results": reports})
    return [path]


def roundtrip_table(reports: dict[str, dict[str, Any]]) -> Table:
    """One row per GGUF file: prompts, exact answers, token agreement, metadata, verdict."""
    table = Table(title="GGUF round trip: transformers' GGUF loader vs the merged model",
                  caption="f16: every answer equal token for token; q8_0: teacher-forced token agreement "
                          f">= {MIN_Q8_AGREEMENT:.0%}")
    for column in ("quant", "size", "prompts", "same prompt ids", "exact answers", "token agreement", "metadata",
                   "result"):
        table.add_column(column, justify="right" if column in ("size", "prompts") else "left")
    for quant, report in reports.items():
        meta_ok = sum(report["metadata"].values())
        table.add_row(quant, f"{report['bytes'] / 1e6:.1f} MB", str(report["prompts"]),
                      f"{report['prompts_tokenized_equal']}/{report['prompts']}",
                      f"{report['exact_answers']}/{report['prompts']}",
                      f"{report['token_agreement']:.1%} of {report['tokens_compared']}",
                      f"{meta_ok}/{len(report['metadata'])} keys",
                      "[green]pass[/green]" if report["passed"] else "[red]FAIL[/red]")
    return table
