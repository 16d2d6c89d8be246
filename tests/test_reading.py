"""pezo.reading, the one checked reader: an input file arrives as checked text or JSON, or as a BadFile naming
it."""
import dataclasses

import pytest

from pezo import reading


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "holds a JSON list, not a generator spec"), ('"otf"', "holds a JSON str, not a generator spec"),
    ("{", "is not JSON"), (None, "is a folder: give a file holding a generator spec"),
])
def test_read_json_names_the_file(tmp_path, content, message):
    path = tmp_path / "s.json"
    path.mkdir() if content is None else path.write_text(content)
    with pytest.raises(reading.BadFile, match=message) as error:
        reading.read_json(path, "a generator spec")
    assert str(path) in str(error.value)


def test_a_line_cut_short_is_dropped_only_at_the_end(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"ste')
    assert reading.read_jsonl(path, "metrics", cut_last=True) == [{"step": 1}, {"step": 2}]
    with pytest.raises(reading.BadFile, match="line 3 is not JSON"):
        reading.read_jsonl(path, "metrics")
    path.write_text('{"step": 1}\n{"ste\n{"step": 2}\n')
    with pytest.raises(reading.BadFile, match="line 2 is not JSON"):
        reading.read_jsonl(path, "metrics", cut_last=True)


def test_a_gzip_file_is_read_decompressed_where_asked_and_a_damaged_one_named(tmp_path, monkeypatch):
    import gzip
    path = tmp_path / "m.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"step": 1}\n{"step": 2}\n'))
    assert reading.read_jsonl(path, "metrics", gzipped=True) == [{"step": 1}, {"step": 2}]
    with pytest.raises(reading.BadFile, match="is not UTF-8 text"):         # a name ending in .gz alone: not asked
        reading.read_jsonl(path, "metrics")
    path.with_name("long.gz").write_bytes(gzip.compress(b'{"step": 1}\n' * 100))      # 1,200 bytes in under 100
    monkeypatch.setattr(reading, "MAX_READ_BYTES", 100)
    with pytest.raises(reading.BadFile, match="holds over the 100 bytes pezo reads"):
        reading.read_jsonl(path.with_name("long.gz"), "metrics", gzipped=True)
    monkeypatch.undo()
    for damaged in (path.read_bytes()[:-12], b"not gzip at all", path.read_bytes()[:10] + b"x" * 20):
        path.write_bytes(damaged)
        with pytest.raises(reading.BadFile, match="is not a whole gzip file") as error:
            reading.read_jsonl(path, "metrics", gzipped=True)
        assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


@dataclasses.dataclass
class Point:
    name: str
    steps: int
    lr: float | None = None


@pytest.mark.parametrize("record, message", [
    ({"steps": 3}, "lacks 'name'"), ({"name": "a", "steps": True}, "steps=true is not an integer"),
    ({"name": "a", "steps": 3, "lr": "x"}, 'lr="x" is not a number or null'),
    ({"name": "a", "steps": 3, "seed": 1}, "'seed' is not a field of a point: allowed name, steps, lr"),
])
def test_check_record_names_the_file_the_key_and_what_is_allowed(record, message):
    with pytest.raises(reading.BadFile, match=message) as error:
        reading.check_record(record, "p.json", "a point", reading.kinds_of(Point), required=("name", "steps"))
    assert str(error.value).startswith("p.json")
    assert reading.check_record({"name": "a", "steps": 3, "lr": 2}, "p.json", "a point", reading.kinds_of(Point))
