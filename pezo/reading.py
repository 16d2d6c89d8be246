"""The checked reader of input files: a file a user gives (a grid, a spec, data) and the records pezo reads back (a
run's config, metrics, checkpoint state) arrive as checked text or JSON, or as a `BadFile` whose one line names
the file and what it should hold.

- `read_text(path, what)`: an input file's text (a regular file of bounded size, UTF-8; gzip-compressed where the
  caller says so); `read_json(path)` and `read_jsonl(path, what)`: its JSON object or JSON-lines objects.
- `check_record(record, path, what, kinds)`: the keys and value types of a record read from a file (`kinds_of(cls)`
  gives a dataclass's), or a `BadFile` naming the file, the key and what is allowed.
"""
import dataclasses
import gzip
import json
import typing
import zlib
from pathlib import Path


class BadFile(ValueError):
    """An input file that is missing, a folder, not JSON, or not the JSON object expected; the message names it."""


MAX_READ_BYTES = 256 << 20
"""The largest input file pezo reads as text (a grid, a spec, a manifest, a data file): 256 MiB."""


def read_text(path, what, gzipped=False):
    """The UTF-8 text of the input file `path`, a regular file of at most MAX_READ_BYTES (a pipe would block and a
    device never end), decompressed first where `gzipped`, or a `BadFile` naming it and `what` it should hold."""
    path = Path(path)
    if path.is_dir():
        raise BadFile(f"{path} is a folder: give a file holding {what}")
    if not path.exists():
        raise BadFile(f"{path} does not exist")
    if not path.is_file():
        raise BadFile(f"{path} is not a regular file (a pipe or a device): give a file holding {what}")
    if path.stat().st_size > MAX_READ_BYTES:
        raise BadFile(f"{path} has {path.stat().st_size:,} bytes, over the {MAX_READ_BYTES:,} bytes pezo reads: "
                      f"give a file holding {what}")
    try:
        return (_decompressed(path, what) if gzipped else path.read_bytes()).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadFile(f"{path} is not UTF-8 text (byte {error.start}): give a file holding {what}") from None


def _decompressed(path, what):
    """The bytes of the gzip file `path`, at most MAX_READ_BYTES of them."""
    try:
        with gzip.open(path) as file:
            data = file.read(MAX_READ_BYTES + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise BadFile(f"{path} is not a whole gzip file ({error or 'it ends early'}): give a file holding "
                      f"{what}") from None
    if len(data) > MAX_READ_BYTES:
        raise BadFile(f"{path} holds over the {MAX_READ_BYTES:,} bytes pezo reads: give a file holding {what}")
    return data


def read_json(path, what="a JSON object"):
    """The JSON object in the input file `path` (read by `read_text`)."""
    text = read_text(path, what)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadFile(f"{path} is not JSON ({error}): give a file holding {what}") from None
    except RecursionError:
        raise BadFile(f"{path} nests its JSON too deeply to read: give a file holding {what}") from None
    if not isinstance(value, dict):
        raise BadFile(f"{path} holds a JSON {type(value).__name__}, not {what}")
    return value


def read_jsonl(path, what, cut_last=False, gzipped=False):
    """The records of the JSON-lines file `path` (read by `read_text`, decompressed first where `gzipped`), each a
    JSON object; `cut_last`: a last line that is not JSON (a writer killed mid-line) is dropped. A BadFile naming
    the file and the line otherwise."""
    lines = read_text(path, what, gzipped).splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            if cut_last and number == len(lines):
                break
            raise BadFile(f"{path} line {number} is not JSON: give a file holding {what}") from None
        if not isinstance(record, dict):
            raise BadFile(f"{path} line {number} holds {_shown(record)}, not a JSON object: give a file holding "
                          f"{what}")
        records.append(record)
    return records


KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "text", list: "a list",
              dict: "an object", type(None): "null"}


def kinds_of(cls):
    """{field: (types)} of a dataclass from its annotations (`int`, `str | None`, `list`...), for check_record."""
    hints = typing.get_type_hints(cls)
    return {field.name: tuple(typing.get_origin(kind) or kind for kind in (typing.get_args(hints[field.name])
                                                                            or (hints[field.name],)))
            for field in dataclasses.fields(cls)}


def is_kind(value, kinds):
    """Whether a JSON value is one of `kinds` (int excludes true/false; float takes integers too)."""
    for kind in kinds:
        if kind is bool and isinstance(value, bool):
            return True
        if not isinstance(value, bool) and (isinstance(value, kind) or (kind is float and isinstance(value, int))):
            return True
    return False


def kind_error(name, value, kinds):
    """"name=value is not <what kinds allow>" where `value` is not of `kinds`, else None."""
    if is_kind(value, kinds):
        return None
    return f"{name}={_shown(value)} is not {' or '.join(KIND_NAMES.get(kind, kind.__name__) for kind in kinds)}"


def check_record(record, path, what, kinds, required=(), others=False):
    """`record` (read from the file `path`, which holds `what`) as an object whose keys are among `kinds`
    ({key: (types)}), with every `required` key present and each value of its kinds; `others`: keys outside
    `kinds` are allowed (and not checked). Returns the record; a BadFile naming the file, the key and what is
    allowed otherwise."""
    if not isinstance(record, dict):
        raise BadFile(f"{path} holds {_shown(record)}, not {what} (a JSON object)")
    missing = [key for key in required if key not in record]
    if missing:
        raise BadFile(f"{path} lacks {missing[0]!r}: {what} holds {', '.join(required)}")
    for key, value in record.items():
        if key not in kinds:
            if not others:
                raise BadFile(f"{path}: {key!r} is not a field of {what}: allowed {', '.join(kinds)}")
        elif error := kind_error(key, value, kinds[key]):
            raise BadFile(f"{path}: {error}, as {what} holds")
    return record


def _shown(value):
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
