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


def test_every_jsonl_reader_shares_one_line_parser(tmp_path):
    """The stores, collect's JSON Lines reader, the clean workers and lenient logs read a bad line alike."""
    from webtune.clean.runner import parse
    from webtune.collect.readers.json_reader import read_jsonl as collect_read_jsonl
    from webtune.jsonl import parse_json_line

    bad = '{"a": 1,}'
    _, expected = parse_json_line(bad)
    assert expected.startswith("invalid JSON: ") and "at column" in expected
    path = tmp_path / "mixed.jsonl"
    path.write_text(f'{{"a": 1}}\n{bad}\n{{"a": 2}}\n')
    assert [error for _, _, error in iter_jsonl_lines(path)] == [None, expected, None]
    assert [item.detail for item in collect_read_jsonl(path, None, {}) if item.problem] == [expected]
    assert parse(2, bad)[1].drop.value == expected
    assert list(read_jsonl(path, skip_invalid=True)) == [{"a": 1}, {"a": 2}]
    with pytest.raises(InputError, match=f"mixed.jsonl:2: {expected}"):
        list(read_jsonl(path))


def test_a_hostile_line_is_an_error_text_not_an_exception(tmp_path):
    from webtune.jsonl import parse_json_line

    assert parse_json_line("[" * 100_000 + "]" * 100_000) == (None, "invalid JSON: nested too deep to read")
    obj, error = parse_json_line('{"n": ' + "9" * 5000 + "}")
    assert obj is None and error.startswith("invalid JSON: a number too long to read (Exceeds the limit")
    path = tmp_path / "store.jsonl"
    path.write_text('{"a": 1}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    assert [(n, error) for n, _, error in iter_jsonl_lines(path)] == [
        (1, None), (2, "invalid JSON: nested too deep to read")]
