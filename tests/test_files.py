"""pezo.files, the one writer: whole or nothing, never over what pezo did not write, no staging left behind."""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pezo import files


def tree(folder):
    """{relative path: bytes} of every file under `folder`."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def test_a_new_folder_is_written_whole_and_marked(tmp_path):
    files.write_folder(tmp_path / "o", {"a.v": b"1", "sub/b.hex": b"2"})
    assert tree(tmp_path / "o") == {"a.v": b"1", "sub/b.hex": b"2", ".pezo.json": (tmp_path / "o/.pezo.json")
                                    .read_bytes()}
    assert json.loads((tmp_path / "o/.pezo.json").read_text())["owns"] == ["a.v", "sub/b.hex"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["o"]


def test_a_non_empty_folder_needs_force(tmp_path):
    files.write_folder(tmp_path / "o", {"a.v": b"1"})
    with pytest.raises(files.Refused, match="is not empty: replace it with --force"):
        files.write_folder(tmp_path / "o", {"a.v": b"2"})
    files.write_folder(tmp_path / "o", {"c.v": b"3"}, force=True)
    assert sorted(tree(tmp_path / "o")) == [".pezo.json", "c.v"]


@pytest.mark.parametrize("foreign", ["mine.txt", ".git/config", "sub/notes.md"])
def test_force_never_replaces_what_pezo_did_not_write(tmp_path, foreign):
    files.write_folder(tmp_path / "o", {"a.v": b"1", "sub/b.hex": b"2"})
    (tmp_path / "o" / foreign).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "o" / foreign).write_text("mine")
    before = tree(tmp_path / "o")
    shown = foreign.split("/")[0] + "/" if foreign.startswith(".") else foreign
    with pytest.raises(files.Refused, match=f"holds what pezo did not write \\({shown}\\)"):
        files.write_folder(tmp_path / "o", {"a.v": b"9"}, force=True)
    assert tree(tmp_path / "o") == before


def test_a_linked_folder_is_written_through_its_link(tmp_path):
    files.write_folder(tmp_path / "real", {"a.v": b"1"})
    (tmp_path / "link").symlink_to(tmp_path / "real")
    files.write_folder(tmp_path / "link", {"b.v": b"2"}, force=True)
    assert (tmp_path / "link").is_symlink() and sorted(tree(tmp_path / "real")) == [".pezo.json", "b.v"]


def test_an_unmarked_folder_is_all_foreign(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "spec.json").write_text("{}")
    with pytest.raises(files.Refused, match=r"\(spec.json\)"):
        files.write_folder(tmp_path / "proj", {"a.v": b"1"}, force=True)


def test_an_error_while_filling_keeps_the_old_folder_and_no_staging(tmp_path):
    files.write_folder(tmp_path / "o", {"a.v": b"1"})
    with pytest.raises(RuntimeError):
        with files.replacing(tmp_path / "o", force=True) as staging:
            (staging / "a.v").write_bytes(b"half")
            raise RuntimeError("the exporter failed")
    assert tree(tmp_path / "o")["a.v"] == b"1" and sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_the_current_folder_and_files_are_refused(tmp_path, monkeypatch):
    files.write_folder(tmp_path / "o", {"a.v": b"1"})
    monkeypatch.chdir(tmp_path / "o")
    for folder in (".", ".."):
        with pytest.raises(files.Refused, match="is the current folder or holds it"):
            files.write_folder(folder, {"a.v": b"2"}, force=True)
    with pytest.raises(files.Refused, match="a.v is a file: give a folder"):
        files.write_folder("a.v", {"x": b""}, force=True)
    with pytest.raises(files.Refused, match="is a folder: give a file name"):
        files.write_file(tmp_path, "text")


def test_write_file_replaces_whole(tmp_path):
    files.write_file(tmp_path / "deep" / "r.json", "{}\n")
    files.write_file(tmp_path / "deep" / "r.json", b"[]\n")
    assert tree(tmp_path) == {"deep/r.json": b"[]\n"}
    (tmp_path / "link.json").symlink_to(tmp_path / "deep" / "r.json")
    files.write_file(tmp_path / "link.json", "1\n")                  # the link is kept, its file written
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "deep" / "r.json").read_text() == "1\n"
    with pytest.raises(files.Refused, match="/dev/null is not a regular file"):
        files.write_file("/dev/null", "x")
    assert not list(Path("/dev").glob(".pezo-staging-*"))


def test_staging_of_a_killed_process_is_removed_and_nothing_else(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / f".pezo-staging-{dead}-o-abc").mkdir()
    (tmp_path / f".pezo-staging-{dead}-r.json-xyz").write_text("half")
    (tmp_path / f".pezo-staging-{os.getpid()}-busy").mkdir()     # a live writer's
    (tmp_path / ".o.abc.old").mkdir()                               # not pezo's name
    files.write_file(tmp_path / "r.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".o.abc.old", f".pezo-staging-{os.getpid()}-busy",
                                                          "r.json"]


def test_a_swap_cut_short_puts_the_old_folder_back(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    files.write_folder(tmp_path / "checkpoint", {"w": b"old"})
    (tmp_path / "checkpoint").rename(tmp_path / f".pezo-staging-{dead}-checkpoint-old")    # killed mid-swap
    files.write_file(tmp_path / "metrics.jsonl", "")
    assert tree(tmp_path / "checkpoint")["w"] == b"old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint", "metrics.jsonl"]


def test_work_folder_claims_and_locks(tmp_path):
    with files.work_folder(tmp_path / "w", ["run/"]) as folder:
        (folder / "run").mkdir()
        with pytest.raises(files.Busy, match="is in use by another pezo process"):
            with files.work_folder(folder, ["run/"]):
                pass
    with files.work_folder(tmp_path / "w", ["run/"]):                # released, and pezo's own: taken again
        pass
    (tmp_path / "w" / "notes.md").write_text("mine")
    with pytest.raises(files.Refused, match=r"holds what pezo did not write \(notes.md\)"):
        with files.work_folder(tmp_path / "w", ["run/"]):
            pass


def test_owning_at_once_loses_no_name(tmp_path):
    """Threads of one process and several processes marking one folder at once: each name ends up owned, and no
    staging file is left."""
    code = "import sys; from pezo import files; [files.own(sys.argv[1], [f'{sys.argv[2]}-{i}/']) for i in range(20)]"
    runs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), f"process{p}"]) for p in range(3)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: files.own(tmp_path, [f"thread{i}/"]), range(32)))
    assert [run.wait() for run in runs] == [0, 0, 0]
    wanted = {f"thread{i}/" for i in range(32)} | {f"process{p}-{i}/" for p in range(3) for i in range(20)}
    assert wanted <= set(files._owned(tmp_path))
    assert not list(tmp_path.glob(files.STAGING + "*"))


def test_discard_removes_only_pezos(tmp_path):
    with files.work_folder(tmp_path / "w", ["run/"]) as folder:
        (folder / "run").mkdir()
        (folder / "run" / "words.hex").write_text("00\n")
        (folder / "mine.txt").write_text("mine")
        files.discard(folder / "run" / "words.hex")
        with pytest.raises(files.Refused, match="was not written by pezo"):
            files.discard(folder / "mine.txt")
    assert not (tmp_path / "w/run/words.hex").exists() and (tmp_path / "w/mine.txt").exists()
    files.write_folder(tmp_path / "o", {"a.v": b"1"})
    files.discard(tmp_path / "o")                                   # marked, and nothing else in it
    assert not (tmp_path / "o").exists()


def test_a_hand_edited_file_is_not_pezos_any_more(tmp_path):
    files.write_folder(tmp_path / "o", {"top.v": b"module top; endmodule\n"})
    (tmp_path / "o" / "top.v").write_text("module top; /* my fix */ endmodule\n")
    with pytest.raises(files.Refused, match=r"top.v \(changed since pezo wrote it\)"):
        files.write_folder(tmp_path / "o", {"top.v": b"new"}, force=True)
    assert "my fix" in (tmp_path / "o" / "top.v").read_text()


@pytest.fixture(params=["exchange", "two renames"])
def swap(request, monkeypatch):
    """Both ways of swapping folders: renameat2's exchange where Linux has it, and two renames elsewhere."""
    if request.param == "exchange":
        assert files._LIBC is not None and hasattr(files._LIBC, "renameat2")
    else:
        monkeypatch.setattr(files, "_LIBC", None)


def test_both_swaps_replace(tmp_path, swap):
    files.write_folder(tmp_path / "o", {"a.v": b"1"})
    files.write_folder(tmp_path / "o", {"b.v": b"2"}, force=True)
    assert sorted(tree(tmp_path / "o")) == [".pezo.json", "b.v"] and [p.name for p in tmp_path.iterdir()] == ["o"]


def test_what_appears_while_writing_is_kept(tmp_path, swap):
    files.write_folder(tmp_path / "o", {"a.v": b"1"})
    with pytest.raises(files.Refused, match=r"\(late.txt\), written while pezo was writing: nothing was replaced"):
        with files.replacing(tmp_path / "o", force=True) as staging:
            (staging / "a.v").write_bytes(b"2")
            (tmp_path / "o" / "late.txt").write_text("mine")
    assert tree(tmp_path / "o")["late.txt"] == b"mine" and tree(tmp_path / "o")["a.v"] == b"1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_a_held_work_folder_is_neither_replaced_nor_discarded(tmp_path):
    with files.work_folder(tmp_path / "w", ["run/"]):
        with pytest.raises(files.Busy):
            files.write_folder(tmp_path / "w", {"a": b""}, force=True)
        with pytest.raises(files.Busy):
            files.discard(tmp_path / "w")
    assert (tmp_path / "w" / ".pezo.lock").exists()


def test_a_work_folder_left_by_a_killed_process_is_taken_back(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    with files.work_folder(tmp_path / "run", ["checkpoint/"]):
        files.write_folder(tmp_path / "run" / "checkpoint", {"w": b"old"})
    (tmp_path / "run" / "checkpoint").rename(tmp_path / "run" / f".pezo-staging-{dead}-checkpoint-old")
    (tmp_path / "run" / f".pezo-staging-{dead}-checkpoint-x1y2").mkdir()
    with files.work_folder(tmp_path / "run", ["checkpoint/"]):
        assert tree(tmp_path / "run" / "checkpoint")["w"] == b"old"
    assert not list((tmp_path / "run").glob(".pezo-staging-*"))


@pytest.mark.parametrize("name", ["../escape.v", "/tmp/abs.v", ""])
def test_names_that_leave_the_folder_are_refused(tmp_path, name):
    with pytest.raises(files.Refused, match="not a plain relative file name"):
        files.write_folder(tmp_path / "a" / "o", {name: b"x"})
    assert list(tmp_path.iterdir()) == []


def test_a_link_loop_is_refused(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(files.Refused, match="leads nowhere or in a loop"):
        files.write_folder(tmp_path / "loop", {"a": b""})


def test_a_failed_write_names_the_path_given(tmp_path):
    with pytest.raises(OSError) as error:
        files.write_folder("/proc/pezo-out", {"a": b""})
    assert error.value.filename == "/proc/pezo-out"


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser") or not os.path.exists(SYSTEM_PYTHON),
                    reason="acts as an unprivileged user (root removes read-only folders regardless)")
def test_force_refuses_a_read_only_folder_it_could_not_remove():
    """As a user without root's override: replacing a read-only build would leave the old one behind, under a
    staging name the next write cannot remove; pezo refuses instead, and writes nothing."""
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="pezo-read-only-"))
    try:
        base.chmod(0o777)
        script = ("import os, sys\nfrom pathlib import Path\nfrom pezo.files import Refused, write_folder\n"
                  "build = Path(sys.argv[1]) / 'build'\nwrite_folder(build, {'a.v': b'old'})\nbuild.chmod(0o555)\n"
                  "try:\n    write_folder(build, {'a.v': b'new'}, force=True)\nexcept Refused as error:\n"
                  "    print(error)\n")
        done = subprocess.run(["runuser", "-u", "nobody", "--", SYSTEM_PYTHON, "-c", script, str(base)],
                              capture_output=True, text=True,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(Path(__file__).parents[1])})
        assert done.returncode == 0, done.stderr
        assert "is read-only, so the old build could not be removed" in done.stdout
        assert sorted(path.name for path in base.iterdir()) == ["build"]
        assert (base / "build" / "a.v").read_bytes() == b"old"
    finally:
        for path in [base, *base.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(base)
