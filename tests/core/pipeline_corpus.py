"""Malformed pipeline files and the one-line error each must give (``file:line: key: message``).

The small ones are checked in under ``tests/core/malformed_pipelines/`` with ``expected.json``
(rewrite them with ``python -m tests.core.pipeline_corpus``); nesting 100,000 deep is
written at test time by `write_generated`. An expected error is the text after
``<file>:`` (so ``"5: train.epochs: duplicate key (also on line 3)"``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "malformed_pipelines"
DEEP = 100_000


def billion_laughs() -> str:
    """Nine levels of nine aliases: 9^9 (387 million) strings once expanded, in under 1 KB."""
    lines = ["name: lol", "lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*lol{level - 1}"] * 9)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


def bomb_in_inputs() -> str:
    """The bomb where the issue met it: inside a Bright Data source's ``inputs``."""
    lines = ["name: lol", "x0: &x0 [{url: 'https://a.test/'}, {url: 'https://a.test/'}, {url: 'https://a.test/'}]"]
    for level in range(1, 12):
        lines.append(f"x{level}: &x{level} [" + ", ".join([f"*x{level - 1}"] * 4) + "]")
    lines += ["sources:", "  - kind: brightdata", "    dataset_id: gd_x", "    inputs: *x11"]
    return "\n".join(lines) + "\n"


def nested(levels: int) -> str:
    """A block mapping nested ``levels`` deep under ``train:``."""
    return "name: deep\ntrain:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(levels - 1)) + \
        "  " * levels + "leaf: 1\n"


CASES: dict[str, tuple[bytes, str]] = {
    "latin1.yaml": ("name: demo\ndescription: caf\xe9 cr\xe8me\n".encode("latin-1"),
                    "2: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    "duplicate_key.yaml": (b"name: demo\ntrain:\n  epochs: 1\n  learning_rate: 0.001\n  epochs: 3\n",
                           "5: train.epochs: duplicate key (also on line 3)"),
    "duplicate_top_key.yaml": (b"name: demo\nseed: 1\nname: other\n", "3: name: duplicate key (also on line 1)"),
    "epochs_inf.yaml": (b"name: demo\ntrain:\n  epochs: .inf\n", "3: train.epochs: must be a finite number (got .inf)"),
    "epochs_nan.yaml": (b"name: demo\ntrain:\n  epochs: .nan\n", "3: train.epochs: must be a finite number (got .nan)"),
    "epochs_huge.yaml": (b"name: demo\ntrain:\n  epochs: 1.0e+12\n",
                         "3: train.epochs: Input should be less than or equal to 1000"),
    "max_new_tokens_1e21.yaml": (b"name: demo\nevaluate:\n  max_new_tokens: 1.0e+21\n",
                                 "3: evaluate.max_new_tokens: "),
    "max_new_tokens_over_context.yaml": (b"name: demo\nevaluate:\n  max_new_tokens: 100000\n",
                                         "3: evaluate.max_new_tokens: 100000 is more than the 8192 tokens of "
                                         "smollm2-135m-instruct's context"),
    "billion_laughs.yaml": (billion_laughs().encode(), "expands to more than 500,000 values"),
    "bomb_in_inputs.yaml": (bomb_in_inputs().encode(), "expands to more than 500,000 values"),
    "recursive_alias.yaml": (b"name: demo\nloop: &loop [1, *loop]\n",
                             "2: loop.1: an alias refers to a value that holds it"),
    "nested_past_limit.yaml": (nested(63).encode(), "65: nested more than 64 levels deep"),
}


def write_generated(directory: Path) -> dict[str, str]:
    """The 100,000-deep files (flow and block style): name -> expected error."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "deep_flow.yaml").write_text("name: deep\nsources: " + "[" * DEEP + "]" * DEEP + "\n")
    (directory / "deep_mapping.yaml").write_text("name: deep\nx: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n")
    return {"deep_flow.yaml": "2: nested more than 64 levels deep",
            "deep_mapping.yaml": "2: nested more than 64 levels deep"}


def expected() -> dict[str, str]:
    return json.loads((CORPUS / "expected.json").read_text())


def write_corpus(directory: Path = CORPUS) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (data, _) in CASES.items():
        (directory / name).write_bytes(data)
    errors = {name: error for name, (_, error) in CASES.items()}
    (directory / "expected.json").write_text(json.dumps(errors, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
