"""The one file writer: everything pezo writes appears whole or not at all, and pezo never replaces or deletes a
file or folder it did not write (a file the user names as an output, such as `--json`, is written over).

- `write_file(path, data)`: one file, through a staging file beside it that is renamed over it.
- `replacing(folder, force)`: a folder filled in a staging sibling, then swapped into place; `write_folder` for
  files given as bytes.
- `work_folder(folder, owns)`: a folder pezo fills over time (a simulation's work folder, a training run), claimed
  and locked against a second pezo using it at the same time.
- `discard(path)`: remove something pezo wrote.

Reading input files back is pezo.reading's job.

Every folder pezo writes carries a marker, `.pezo.json`, listing what pezo put there (a name ending in "/" is a
folder pezo owns whole) with the sha256 of each file it wrote whole. A folder is replaced only with `force`, and
only when everything in it is pezo's and unchanged; otherwise the refusal names what is not. Staging files are
siblings named `.pezo-staging-<pid>-...`; they go away when the write ends (also on an exception, SIGINT or
SIGTERM), and any left by a killed process are cleared by the next write beside them. Files are flushed to disk
before they are renamed into place.
"""
import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import json
import os
import shutil
import signal
import stat
import tempfile
from pathlib import Path

MARKER = ".pezo.json"
LOCK = ".pezo.lock"
MARKING = ".pezo.marking"
BOOKKEEPING = (MARKER, LOCK, MARKING)
"""The files pezo keeps in a folder for itself: never counted as its contents."""
STAGING = ".pezo-staging-"
OLD = "-old"
NAME_BYTES = 255
"""The longest file name most file systems allow."""


class Refused(FileExistsError):
    """A write that would replace or delete something pezo did not write, or a folder another pezo is using."""


class Busy(Refused):
    """A work folder that another pezo process holds."""


def write_file(path, data):
    """Write `data` (bytes or text) to `path` whole or not at all."""
    path = _canonical(path)
    if path.is_dir():
        raise Refused(f"{path} is a folder: give a file name")
    if path.exists() and not path.is_file():
        raise Refused(f"{path} is not a regular file (a device or a pipe): give a file name")
    with staged_file(path) as staging:
        staging.write_bytes(data.encode() if isinstance(data, str) else data)


@contextlib.contextmanager
def staged_file(path):
    """A staging path beside `path` for the caller to write; flushed and renamed to `path` when the block ends
    normally."""
    path = _canonical(path)
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path.parent)
        handle, name = tempfile.mkstemp(prefix=_staging_prefix(path.name), dir=path.parent)
    os.close(handle)
    staging = Path(name)
    try:
        yield staging
        os.chmod(staging, 0o644)
        _sync(staging)
        os.replace(staging, path)
        _sync(path.parent)
    finally:
        with _finishing():
            staging.unlink(missing_ok=True)


def write_folder(folder, files, force=False):
    """Write `files` ({relative path: bytes}) as the folder `folder`, replacing it only as `replacing` allows;
    every path must stay inside the folder."""
    for name in files:
        if not name or Path(name).is_absolute() or ".." in Path(name).parts:
            raise Refused(f"{name!r} is not a plain relative file name: it would be written outside {folder}")
    with replacing(folder, force) as staging:
        for name, content in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(content)
    return Path(folder)


@contextlib.contextmanager
def replacing(folder, force=False):
    """A staging folder for the caller to fill; when the block ends normally it becomes `folder`, marked as pezo's.

    A new or empty `folder` is simply taken; a non-empty one only with `force`, and only when all it holds is
    pezo's, unchanged, and no pezo process holds it. The swap exchanges the two folders in one step where the
    system can (Linux renameat2), else in two renames whose interruption puts the old folder back; so `folder` is
    the old or the new one, never a mixture. What appeared in the old one meanwhile makes it refuse after all.
    """
    folder = _canonical(folder)
    check_replaceable(folder, force)
    whole = f"{folder.name}/" in _owned(folder.parent)
    with _naming(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(folder.parent)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(folder.name), dir=folder.parent))
    old = folder.with_name(f"{STAGING}{os.getpid()}-{folder.name}{OLD}")
    old = old if len(os.fsencode(old.name)) <= NAME_BYTES else None     # the fallback swap needs the whole name
    try:
        yield staging
        staging.chmod(0o755)
        files = sorted(name for name in _entries(staging) if not name.endswith("/"))
        _mark(staging, files, {} if whole else {name: _sha256(staging / name) for name in files})
        for name in files:
            _sync(staging / name)
        with _finishing():
            _swap(staging, folder, old)
        _sync(folder.parent)
    finally:
        with _finishing():
            _settle(old, folder)
            shutil.rmtree(staging, ignore_errors=True)


def _staging_prefix(name):
    """`.pezo-staging-<pid>-<name>-` for a staging file or folder beside `name`; a name too long to fit within
    NAME_BYTES with tempfile's random suffix is cut and given a digest of the whole (the staging name only has to
    be unique, and is never turned back into the name)."""
    prefix = f"{STAGING}{os.getpid()}-{name}-"
    if len(os.fsencode(prefix)) + 8 <= NAME_BYTES:
        return prefix
    raw = os.fsencode(name)
    return f"{STAGING}{os.getpid()}-{os.fsdecode(raw[:64])}~{hashlib.sha256(raw).hexdigest()[:16]}-"


def _swap(staging, folder, old):
    """Put `staging` in place of `folder`; the old folder ends up at `staging` (exchanged) or `old` (renamed)."""
    if not folder.exists():
        staging.rename(folder)
        return
    exchanged = _exchange(staging, folder)
    if not exchanged and old is None:
        raise Refused(f"{folder}: its name is too long to set the old folder aside under a staging name on this "
                      f"system (no atomic exchange): nothing was replaced")
    if not exchanged:
        folder.rename(old)
    replaced = staging if exchanged else old
    foreign = _foreign(replaced, folder.name)
    if foreign:                                     # written into it since it was checked: the old one stays
        if exchanged:
            _exchange(staging, folder)
        raise Refused(f"{folder} holds what pezo did not write ({_names(foreign)}), written while pezo was "
                      f"writing: nothing was replaced")
    if not exchanged:
        staging.rename(folder)


def _exchange(first, second):
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    renameat2 = getattr(_LIBC, "renameat2", None)
    if renameat2 is None:
        return False
    at_cwd, rename_exchange = -100, 2
    done = renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), rename_exchange)
    return done == 0


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if ctypes.util.find_library("c") else None


def _settle(old, folder):
    """After a two-rename swap, whole or interrupted: the old folder back where the new one never arrived, else
    removed."""
    if old is None or not old.exists():
        return
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.rename(folder)


@contextlib.contextmanager
def work_folder(folder, owns, shared=False):
    """Claim `folder` for one pezo process: new, empty or already pezo's (else `Refused`, naming what is not; a
    folder another pezo holds: `Busy`), marked as owning `owns` (names; "x/" a whole folder) and locked until the
    block ends. What a killed pezo left in it is cleared first. Yields the folder. `shared`: several pezo processes
    that each write only their own part of it (a sweep's workers) may hold it at once; none holds it alone then."""
    folder = _canonical(folder)
    if folder.exists() and not folder.is_dir():
        raise Refused(f"{folder} is a file: give a folder")
    foreign = _foreign(folder) if folder.exists() else []
    if foreign:
        raise Refused(f"{folder} holds what pezo did not write ({_names(foreign)}): give a new or empty folder")
    with _naming(folder):
        folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "a") as lock:
        try:
            fcntl.flock(lock, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"{folder} is in use by another pezo process: give another folder or wait") from None
        _remove_stale(folder)
        own(folder, [*owns, LOCK])
        yield folder


def own(folder, names):
    """Record in the marker of `folder` (created if need be) that pezo owns `names` there ("x/": a whole folder)."""
    folder = Path(folder)
    if set(names) <= set(_owned(folder)):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with _marking(folder):
        owned = _owned(folder)
        if not set(names) <= set(owned):
            _mark(folder, sorted(set(owned) | set(names)), _digests(folder))
    return folder


@contextlib.contextmanager
def _marking(folder):
    """Let one writer at a time, thread or process, read and rewrite the marker of `folder`, so that no name another
    adds meanwhile is lost: an flock of a file of its own (each open of it is locked apart, so threads exclude
    each other too; the work folder's lock file is held for as long as a run lasts)."""
    with open(folder / MARKING, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def discard(path):
    """Remove the file or folder `path`, which must be pezo's: listed, or inside a folder listed, by the nearest
    marker above it, or a marked folder holding nothing else and held by no pezo process. Anything else is
    `Refused`."""
    path = _canonical(path) if not Path(path).is_symlink() else Path(os.path.abspath(path))
    if not (path.exists() or path.is_symlink()):
        return
    whole = path.is_dir() and not path.is_symlink() and (path / MARKER).exists() and not _foreign(path)
    if not (whole or _is_pezos(path)):
        raise Refused(f"{path} was not written by pezo: pezo leaves it alone")
    if path.is_dir() and not path.is_symlink():
        _check_unlocked(path)
        shutil.rmtree(path)
    else:
        path.unlink()


def _is_pezos(path):
    """Whether the nearest marker above `path` lists it (or a folder holding it)."""
    for folder in path.parents:
        if (folder / MARKER).exists():
            name, owned = path.relative_to(folder).as_posix(), _owned(folder)
            return name in owned or f"{name}/" in owned or any(name.startswith(o) for o in owned if o.endswith("/"))
    return False


def is_empty(folder):
    """Whether `folder` holds nothing but pezo's marker and lock."""
    return all(path.name in BOOKKEEPING for path in Path(folder).iterdir())


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


def private_folder(name):
    """A folder `name` of this user's own in the system's temporary folder (mode 0700, refused if anyone else
    owns or may write it): for the links and builds that give simulators plain paths."""
    base = Path(tempfile.gettempdir()) / f"pezo-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    info = base.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise Refused(f"{base} is not a folder of this user's alone: remove it or set TMPDIR")
    (base / name).mkdir(exist_ok=True)
    return base / name


def check_replaceable(folder, force=False):
    """Refuse (`Refused`) where `replacing(folder, force)` would: a file, the current folder or one holding it, a
    folder a pezo process holds, a non-empty folder without `force`, a work folder (work_folder's: a run, a sweep,
    a simulation, whatever its files), or one holding anything pezo did not write or that changed since pezo wrote
    it."""
    folder = _canonical(folder)
    if folder.exists() and not folder.is_dir():
        raise Refused(f"{folder} is a file: give a folder")
    if not folder.exists():
        return
    if Path.cwd().resolve().is_relative_to(folder.resolve()):
        raise Refused(f"{folder} is the current folder or holds it: give a folder inside it")
    _check_unlocked(folder)
    if is_empty(folder):
        return
    if not force:
        raise Refused(f"{folder} is not empty: replace it with --force (force=True)")
    if LOCK in _owned(folder):
        raise Refused(f"{folder} is a folder a pezo command works in (a training run, a sweep, a simulation or "
                      f"proof): --force replaces only what pezo wrote whole, such as a build; give another folder")
    foreign = _foreign(folder)
    if foreign:
        raise Refused(f"{folder} holds what pezo did not write ({_names(foreign)}); --force replaces only pezo's "
                      f"own files: move those away or give another folder")
    locked = [path for path in [folder, *folder.rglob("*")] if path.is_dir() and not os.access(path, os.W_OK | os.X_OK)]
    if locked or not os.access(folder.parent, os.W_OK | os.X_OK):
        shown = locked[0] if locked else folder.parent
        raise Refused(f"{shown} is read-only, so the old {folder.name} could not be removed once replaced: make it "
                      f"writable or give another folder")


def _check_unlocked(folder):
    if not (folder / LOCK).exists():
        return
    with open(folder / LOCK) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"{folder} is in use by another pezo process: give another folder or wait") from None


def _canonical(path):
    """`path` with its folder resolved: where a symbolic link leads (a user's link stays, what it points to is
    written), and never a name like `..` that means a different folder than it reads."""
    path = Path(path)
    try:
        if path.is_symlink() or path.name in ("", ".", ".."):
            return path.resolve(strict=path.is_symlink())
        return path.parent.resolve() / path.name
    except (RuntimeError, OSError):
        raise Refused(f"{path} is a symbolic link that leads nowhere or in a loop: give another path") from None


@contextlib.contextmanager
def _naming(path):
    """Report a failure to create a staging file or folder as a failure to write `path`, the name the user gave."""
    try:
        yield
    except OSError as error:
        if error.filename and STAGING not in str(error.filename):
            raise
        raise OSError(error.errno, error.strerror, str(path)) from None


def _sync(path):
    """Flush a file or a folder's entries to disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    except OSError:
        pass                                    # some file systems cannot sync a folder
    finally:
        os.close(handle)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entries(folder):
    """Relative names of everything in `folder`: files, and folders with a trailing "/"."""
    for path in folder.rglob("*"):
        yield path.relative_to(folder).as_posix() + ("/" if path.is_dir() and not path.is_symlink() else "")


def _marker(folder):
    try:
        marker = json.loads((folder / MARKER).read_text())
        return marker if isinstance(marker, dict) else {}
    except (OSError, ValueError):
        return {}


def _owned(folder):
    """The names the marker of `folder` lists (none where it has no valid marker)."""
    owned = _marker(folder).get("owns", [])
    return [name for name in owned if isinstance(name, str)] if isinstance(owned, list) else []


def _digests(folder):
    digests = _marker(folder).get("sha256", {})
    return digests if isinstance(digests, dict) else {}


def _foreign(folder, name=None):
    """What `folder` (known by `name`, where it is not yet in place) holds that pezo did not write or that changed
    since, top-most first (a foreign folder is named, not entered); pezo's staging and lock never count. Nothing
    where the parent's marker owns the folder whole."""
    if f"{name or folder.name}/" in _owned(folder.parent):
        return []
    owned, digests, found = set(_owned(folder)) | set(BOOKKEEPING), _digests(folder), []

    def visit(directory, prefix):
        for entry in sorted(os.scandir(directory), key=lambda entry: entry.name):
            name = prefix + entry.name
            if entry.name.startswith(STAGING):
                continue
            if not entry.is_dir(follow_symlinks=False):
                if name not in owned and f"{name}/" not in owned:
                    found.append(name)
                elif name in digests and (entry.is_symlink() or _sha256(entry.path) != digests[name]):
                    found.append(f"{name} (changed since pezo wrote it)")
            elif f"{name}/" not in owned:
                if any(other.startswith(f"{name}/") for other in owned):
                    visit(entry.path, f"{name}/")
                else:
                    found.append(f"{name}/")

    visit(folder, "")
    return found


def _mark(folder, owns, digests=None):
    """Write the marker of `folder` (through a staging file, so it is never half-written)."""
    marker = {"written_by": "pezo", "owns": owns, **({"sha256": digests} if digests else {})}
    with staged_file(folder / MARKER) as staging:
        staging.write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")


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
