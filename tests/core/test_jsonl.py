"""JSONL stores: atomic writes and errors that name file and line."""

import pytest

from webtune.errors import InputError
from webtune.jsonl import JsonlWriter, atomic_write_json, iter_jsonl_lines, read_jsonl, write_jsonl
from webtune.records import Example, Message


def test_round_trip_of_records(tmp_path):
    path = tmp_path / "ex.jsonl"
    example = Example(messages=[Message(role="user", content="hi"), Message(role="assistant", content="yo")],
                      meta={"template": "t"})
    assert write_jsonl(path, [example, {"a": 1}]) == 2
    rows = list(read_jsonl(path))
    assert rows[0] == {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
                       "meta": {"template": "t"}}
    assert rows[1] == {"a": 1}


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"old": True}])
    with pytest.raises(RuntimeError):
        with JsonlWriter(path) as writer:
            writer.write({"new": True})
            raise RuntimeError("killed")
    assert list(read_jsonl(path)) == [{"old": True}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(InputError, match=r"bad.jsonl:3: invalid JSON"):
        list(read_jsonl(path))
    lenient = list(iter_jsonl_lines(path))
    assert lenient[0] == (1, {"a": 1}, None)
    assert lenient[1][0] == 3 and lenient[1][2].startswith("invalid JSON")


def test_atomic_json(tmp_path):
    atomic_write_json(tmp_path / "a" / "m.json", {"x": [1, 2]})
    assert (tmp_path / "a" / "m.json").read_text().startswith("{")
