"""The one file writer: everything pezo writes appears whole or not at all, and nothing pezo did not write is ever
replaced or deleted.

- `write_file(path, data)`: one file, through a staging file beside it that is renamed over it.
- `replacing(folder, force)`: a folder filled in a staging sibling, then swapped into place; `write_folder` for
  files given as bytes.
- `work_folder(folder, owns)`: a folder pezo fills over time (a simulation's work folder, a training run), claimed
  and locked against a second pezo using it at the same time.
- `read_json(path)`: a JSON object from a file; anything else is a `BadFile` naming the file.

Every folder pezo writes carries a marker, `.pezo.json`, listing what pezo put there (a name ending in "/" is a
folder pezo owns whole). A folder is replaced only with `force`, and only when everything in it is pezo's;
otherwise the refusal names what is not. Staging files are siblings named `.pezo-staging-<pid>-...`; they go away
when the write ends (also on an exception, SIGINT or SIGTERM), and any left by a killed process are removed by the
next write beside them.
"""
import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

MARKER = ".pezo.json"
LOCK = ".pezo.lock"
STAGING = ".pezo-staging-"
OLD = "-old"


class Refused(FileExistsError):
    """A write that would replace or delete something pezo did not write, or a folder another pezo is using."""


class Busy(Refused):
    """A work folder that another pezo process holds."""


class BadFile(ValueError):
    """An input file that is missing, a folder, not JSON, or not the JSON object expected; the message names it."""


def read_json(path, what="a JSON object"):
    """The JSON object in the file `path`."""
    path = Path(path)
    if path.is_dir():
        raise BadFile(f"{path} is a folder: give a file holding {what}")
    if not path.exists():
        raise BadFile(f"{path} does not exist")
    try:
        value = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadFile(f"{path} is not JSON ({error}): give a file holding {what}") from None
    if not isinstance(value, dict):
        raise BadFile(f"{path} holds a JSON {type(value).__name__}, not {what}")
    return value


def write_file(path, data):
    """Write `data` (bytes or text) to `path` whole or not at all."""
    path = _followed(path)
    if path.is_dir():
        raise Refused(f"{path} is a folder: give a file name")
    if path.exists() and not path.is_file():
        raise Refused(f"{path} is not a regular file (a device or a pipe): give a file name")
    with staged_file(path) as staging:
        staging.write_bytes(data.encode() if isinstance(data, str) else data)


@contextlib.contextmanager
def staged_file(path):
    """A staging path beside `path` for the caller to write; renamed to `path` when the block ends normally."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path.parent)
    handle, name = tempfile.mkstemp(prefix=f"{STAGING}{os.getpid()}-{path.name}-", dir=path.parent)
    os.close(handle)
    staging = Path(name)
    try:
        yield staging
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    finally:
        with _finishing():
            staging.unlink(missing_ok=True)


def write_folder(folder, files, force=False):
    """Write `files` ({relative path: bytes}) as the folder `folder`, replacing it only as `replacing` allows."""
    with replacing(folder, force) as staging:
        for name, content in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(content)
    return Path(folder)


@contextlib.contextmanager
def replacing(folder, force=False):
    """A staging folder for the caller to fill; when the block ends normally it becomes `folder`, marked as pezo's.

    A new or empty `folder` is simply taken; a non-empty one only with `force`, and only when all it holds is
    pezo's. The swap is two renames (the old folder aside, the new one in); an interruption between them puts the
    old one back, so `folder` is the old or the new one, never a mixture and never missing.
    """
    folder = _followed(folder)
    check_replaceable(folder, force)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder.parent)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING}{os.getpid()}-{folder.name}-", dir=folder.parent))
    old = folder.with_name(f"{STAGING}{os.getpid()}-{folder.name}{OLD}")
    try:
        yield staging
        staging.chmod(0o755)
        _mark(staging, sorted(name for name in _entries(staging) if not name.endswith("/")))
        with _finishing():
            if folder.exists():
                folder.rename(old)
            staging.rename(folder)
    finally:
        with _finishing():
            _settle(old, folder)
            shutil.rmtree(staging, ignore_errors=True)


def _settle(old, folder):
    """After a swap, whole or interrupted: the old folder back where the new one never arrived, else removed."""
    if not old.exists():
        return
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.rename(folder)


@contextlib.contextmanager
def work_folder(folder, owns):
    """Claim `folder` for one pezo process: new, empty or already pezo's (else `Refused`, naming what is not);
    marked as owning `owns` (names; "x/" a whole folder) and locked until the block ends. Yields the folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise Refused(f"{folder} is a file: give a folder")
    foreign = [name for name in _foreign(folder) if name != LOCK] if folder.exists() else []
    if foreign:
        raise Refused(f"{folder} holds what pezo did not write ({_names(foreign)}): give a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"{folder} is in use by another pezo process: give another folder or wait") from None
        _mark(folder, sorted(set(_owned(folder)) | set(owns) | {LOCK}))
        yield folder


def own(folder, names):
    """Record in the marker of `folder` (created if need be) that pezo owns `names` there ("x/": a whole folder)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    owned = _owned(folder)
    if not set(names) <= set(owned):
        _mark(folder, sorted(set(owned) | set(names)))
    return folder


def discard(path):
    """Remove the file or folder `path`, which must be pezo's: listed, or inside a folder listed, by a marker above
    it, or a marked folder holding nothing else. Anything else is `Refused`."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return
    whole = path.is_dir() and (path / MARKER).exists() and not _foreign(path)
    if not (whole or _is_pezos(path)):
        raise Refused(f"{path} was not written by pezo: pezo leaves it alone")
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _is_pezos(path):
    path = Path(os.path.abspath(path))
    for folder in path.parents:
        name = path.relative_to(folder).as_posix()
        owned = _owned(folder)
        if name in owned or f"{name}/" in owned or any(name.startswith(o) for o in owned if o.endswith("/")):
            return True
    return False


def is_empty(folder):
    """Whether `folder` holds nothing but pezo's marker and lock."""
    return all(path.name in (MARKER, LOCK) for path in Path(folder).iterdir())


def link(path, target):
    """Make `path` a symbolic link to the folder `target`, replacing a link (or a folder of pezo's) there."""
    path = Path(path)
    if path.is_symlink() and os.readlink(path) == str(target):
        return path
    if path.exists() and not path.is_symlink():
        discard(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f"{STAGING}{os.getpid()}-{path.name}")
    staging.unlink(missing_ok=True)
    staging.symlink_to(target, target_is_directory=True)
    staging.replace(path)
    return path


def check_replaceable(folder, force=False):
    """Refuse (`Refused`) where `replacing(folder, force)` would: a file, the current folder or one holding it, a
    non-empty folder without `force`, or one holding anything pezo did not write."""
    folder = _followed(folder)
    if folder.exists() and not folder.is_dir():
        raise Refused(f"{folder} is a file: give a folder")
    if not folder.exists():
        return
    if Path.cwd().resolve().is_relative_to(folder.resolve()):
        raise Refused(f"{folder} is the current folder or holds it: give a folder inside it")
    if is_empty(folder):
        return
    if not force:
        raise Refused(f"{folder} is not empty: replace it with --force (force=True)")
    foreign = _foreign(folder)
    if foreign:
        raise Refused(f"{folder} holds what pezo did not write ({_names(foreign)}); --force replaces only pezo's "
                      f"own files: move those away or give another folder")


def _followed(path):
    """`path`, or where it leads if it is a symbolic link: a user's link stays, what it points to is written."""
    return Path(path).resolve() if Path(path).is_symlink() else Path(path)


def _entries(folder):
    """Relative names of everything in `folder`: files, and folders with a trailing "/"."""
    for path in folder.rglob("*"):
        yield path.relative_to(folder).as_posix() + ("/" if path.is_dir() and not path.is_symlink() else "")


def _owned(folder):
    """The names the marker of `folder` lists (none where it has no valid marker)."""
    try:
        owned = json.loads((folder / MARKER).read_text()).get("owns", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [name for name in owned if isinstance(name, str)]


def _foreign(folder):
    """What `folder` holds that pezo did not write, top-most first (a foreign folder is named, not entered):
    nothing where its parent's marker owns it whole."""
    if f"{folder.name}/" in _owned(folder.parent):
        return []
    owned, found = set(_owned(folder)) | {MARKER}, []

    def visit(directory, prefix):
        for entry in sorted(os.scandir(directory), key=lambda entry: entry.name):
            name = prefix + entry.name
            if not entry.is_dir(follow_symlinks=False):
                if name not in owned and f"{name}/" not in owned:
                    found.append(name)
            elif f"{name}/" not in owned:
                if any(other.startswith(f"{name}/") for other in owned):
                    visit(entry.path, f"{name}/")
                else:
                    found.append(f"{name}/")

    visit(folder, "")
    return found


def _mark(folder, owns):
    (folder / MARKER).write_text(json.dumps({"written_by": "pezo", "owns": owns}, indent=1) + "\n")


def _names(names, shown=5):
    listed = ", ".join(names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


_held = {"depth": 0, "signals": []}


def held(signum):
    """For a signal handler: True while a swap or clean-up is finishing; the signal is then kept and delivered
    again when it has finished, so that an interruption never leaves a folder set aside or staging behind."""
    if _held["depth"]:
        _held["signals"].append(signum)
    return bool(_held["depth"])


@contextlib.contextmanager
def _finishing():
    _held["depth"] += 1
    try:
        yield
    finally:
        _held["depth"] -= 1
        if not _held["depth"] and _held["signals"]:
            signum = _held["signals"].pop(0)
            _held["signals"].clear()
            signal.raise_signal(signum)


def _remove_stale(parent):
    """Clear up after pezo processes that no longer run: remove their staging files and folders, and put back a
    folder they had set aside for a swap that never finished."""
    for path in parent.glob(STAGING + "*"):
        pid, _, rest = path.name[len(STAGING):].partition("-")
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if path.name.endswith(OLD) and path.is_dir() and not path.is_symlink():
            _settle(path, parent / rest[:-len(OLD)])
        else:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
