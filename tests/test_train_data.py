"""Data: the Rotten Tomatoes corpus, user files and the seeded few-shot protocol."""
import json

import pytest

from pezo.train import data


def test_rotten_tomatoes_has_both_polarities_and_no_plots():
    examples = data.rotten_tomatoes()
    assert len(examples) == 7403 + 5405
    assert examples.labels.count(1) == 7403 and examples.labels.count(0) == 5405


def test_few_shot_sizes_disjointness_and_seeding():
    examples = data.rotten_tomatoes()
    split = data.few_shot(examples, 16, seed=7, classes=2)
    assert (len(split.train), len(split.dev), len(split.test)) == (32, 32, 1000)
    assert split.train.labels.count(0) == split.dev.labels.count(1) == 16
    assert not set(split.train.texts) & set(split.dev.texts)
    again = data.few_shot(examples, 16, seed=7, classes=2)
    assert again == split
    assert data.few_shot(examples, 16, seed=8, classes=2).train != split.train


def test_user_csv_and_jsonl(tmp_path):
    rows = [{"text": f"text {i}", "label": i % 3} for i in range(30)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "d.csv").write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))
    for name in ("d.jsonl", "d.csv"):
        examples = data.read_file(tmp_path / name, classes=3)
        assert examples.texts == [r["text"] for r in rows] and examples.labels == [r["label"] for r in rows]
        split = data.few_shot(examples, 2, seed=0, classes=3, test_size=10)
        assert (len(split.train), len(split.dev), len(split.test)) == (6, 6, 10)


def test_errors(tmp_path):
    examples = data.Examples(["a"] * 10, [0] * 6 + [1] * 4)
    with pytest.raises(ValueError, match="k=3 is out of range for this data: the smallest class has 4 examples, "
                                         "allowed k 1..2"):
        data.few_shot(examples, 3, seed=0, classes=2)
    with pytest.raises(ValueError, match="test size 1000 is out of range: 2 examples are left"):
        data.few_shot(examples, 2, seed=0, classes=2)
    (tmp_path / "bad.csv").write_text("text,label\nhello,2\n")
    with pytest.raises(ValueError, match="label 2 is out of range: allowed 0..1"):
        data.read_file(tmp_path / "bad.csv", classes=2)
    with pytest.raises(ValueError, match="allowed .csv, .jsonl"):
        data.read_file(tmp_path / "bad.txt", classes=2)
