"""pezo used carelessly or with hostile input: no data lost, no false PASS, no crash on legal input, and bad input
gives exit 2 with one line naming it, in every subcommand."""
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pezo import files, reading
from pezo.cli import main

UNWRITABLE = Path("/sys/pezo-unwritable")       # sysfs refuses new entries, even to root
TINY = ["--strategy", "otf", "--generators", "3", "--width", "4"]


def run(capsys, *argv):
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def tree(folder):
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def one_error_line(err, *words):
    """stderr is one line, `error: ...`, naming every one of `words`."""
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert str(word) in lines[0], (word, err)


def pezo(*argv, cwd=None):
    return subprocess.Popen([sys.executable, "-m", "pezo.cli", *map(str, argv)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# --- data loss -------------------------------------------------------------------------------------------------

WRITERS = {
    "export": lambda out: ["export", "--preset", "otf-31x8", "--out", out],
    "synth ip": lambda out: ["synth", "ip", *TINY, "--out", out],
    "synth vivado": lambda out: ["synth", "vivado", "--saif-values", "0", "--out", out],
}


@pytest.mark.parametrize("writer", WRITERS)
def test_force_replaces_only_what_pezo_wrote(tmp_path, capsys, writer):
    out = tmp_path / "proj"
    assert run(capsys, *WRITERS[writer](out))[0] == 0
    assert run(capsys, *WRITERS[writer](out), "--force")[0] == 0          # its own output: replaced
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "myspec.json").write_text("{}")
    before = tree(out)
    status, _, err = run(capsys, *WRITERS[writer](out), "--force")
    assert status == 2 and tree(out) == before
    one_error_line(err, "holds what pezo did not write (.git/, myspec.json)")


def test_force_never_deletes_the_spec_being_read(tmp_path, capsys):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "myspec.json").write_text(json.dumps({"strategy": "otf", "generators": 7}))
    status, _, err = run(capsys, "export", "--spec", tmp_path / "proj" / "myspec.json", "--out", tmp_path / "proj",
                         "--force")
    assert status == 2 and tree(tmp_path / "proj") == {"myspec.json": b'{"strategy": "otf", "generators": 7}'}
    one_error_line(err, "myspec.json")


@pytest.mark.parametrize("folder", [".", ".."])
def test_force_refuses_the_current_folder(tmp_path, capsys, monkeypatch, folder):
    assert run(capsys, "export", *TINY, "--out", tmp_path / "o")[0] == 0
    monkeypatch.chdir(tmp_path / "o")
    before = tree(tmp_path)
    status, _, err = run(capsys, "export", *TINY, "--out", folder, "--force")
    assert status == 2 and tree(tmp_path) == before
    one_error_line(err, "is the current folder or holds it")


def test_sim_never_replaces_a_workdir_it_did_not_write(tmp_path, capsys):
    (tmp_path / "w" / "rtl").mkdir(parents=True)
    (tmp_path / "w" / "rtl" / "mine.v").write_text("module mine; endmodule\n")
    status, _, err = run(capsys, "sim", *TINY, "--simulator", "icarus", "--values", "30", "--workdir", tmp_path / "w")
    assert status == 2 and tree(tmp_path / "w") == {"rtl/mine.v": b"module mine; endmodule\n"}
    one_error_line(err, "holds what pezo did not write (rtl/)")


def test_the_root_is_not_a_workdir(capsys):
    status, _, err = run(capsys, "sim", *TINY, "--simulator", "icarus", "--workdir", "/")
    assert status == 2
    one_error_line(err, "/ holds what pezo did not write (")


def test_every_writer_goes_through_pezo_files():
    """Deleting, renaming and temporary folders happen in pezo/files.py alone (one writer, one rule)."""
    root = Path(__file__).parent.parent
    sources = [path for folder in ("pezo", "golden", "hw", "sim", "synth", "train", "bench") for path in
               (root / folder).rglob("*.py") if path != root / "pezo" / "files.py"]
    pattern = re.compile(r"rmtree|mkdtemp|mkstemp|os\.replace|\.rename\(|\.unlink\(|os\.remove")
    found = [f"{path.relative_to(root)}: {line.strip()}" for path in sources
             for line in path.read_text().splitlines() if pattern.search(line)]
    assert found == []


# --- false results ---------------------------------------------------------------------------------------------

@pytest.fixture
def build(tmp_path, capsys):
    assert run(capsys, "export", *TINY, "--out", tmp_path / "build")[0] == 0
    return tmp_path / "build"


def _rehash(build, name, content):
    (build / name).write_text(content)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(content.encode()).hexdigest()
    (build / "manifest.json").write_text(json.dumps(manifest))


def test_sim_of_a_build_simulates_its_own_verilog(build, tmp_path, capsys):
    verilog = build / "pezo_otf_3x4.v"
    status, out, _ = run(capsys, "sim", "--manifest", build, "--simulator", "icarus", "--values", "300",
                         "--workdir", tmp_path / "w")
    assert status == 0 and out.startswith("PASS") and f"simulated the build's own {verilog}" in out
    text = verilog.read_text()
    payload = re.search(r"assign o__payload = \{[^;]*?(\\\$\d+ )", text)
    _rehash(build, verilog.name, text[:payload.start(1)] + "~" + text[payload.start(1):])   # one lane inverted
    status, out, _ = run(capsys, "sim", "--manifest", build, "--simulator", "icarus", "--values", "300",
                         "--workdir", tmp_path / "w")
    assert status == 1 and out.startswith("FAIL") and "mantissas differ first at word 0, lane" in out


def _drop_the_verilog_entry(build):
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest["files"]["pezo_otf_3x4.v"]
    (build / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage, message", [
    (lambda build: (build / "pezo_otf_3x4.v").unlink(), "pezo_otf_3x4.v is missing"),
    (_drop_the_verilog_entry, "do not list the top module's Verilog pezo_otf_3x4.v"),
    (lambda build: (build / "manifest.json").write_text(json.dumps({"top": "x", "files": {}})),
     "no 'spec' dict: not the manifest.json of a pezo export"),
    (lambda build: (build / "manifest.json").write_text("[]"), "holds a JSON list"),
    (lambda build: _rehash(build, "../escape.sh", "echo\n"), "files lists '../escape.sh'"),
])
def test_sim_refuses_an_incomplete_build(build, capsys, damage, message):
    damage(build)
    status, _, err = run(capsys, "sim", "--manifest", build, "--simulator", "icarus", "--values", "30")
    assert status == 2
    one_error_line(err, message)


@pytest.mark.parametrize("command", [["sim"], ["synth", "estimate"], ["synth", "ip", "--out", "ip"]])
def test_a_build_is_not_reconfigured(build, capsys, command):
    status, _, err = run(capsys, *command, "--manifest", build, "--width", "5")
    assert status == 2
    one_error_line(err, "--width would change the configuration of the build")


def test_train_does_not_reconfigure_a_build(build, tmp_path, capsys):
    status, _, err = run(capsys, "train", "--manifest", build, "--generator-seed", "3", "--out", tmp_path / "r")
    assert status == 2 and not (tmp_path / "r").exists()
    one_error_line(err, "--generator-seed would change the configuration of the build")


def test_concurrent_simulations_each_get_their_own_folder(tmp_path):
    runs = [pezo("sim", *TINY, "--simulator", "icarus", "--values", values, cwd=tmp_path) for values in (3000, 900)]
    outputs = [process.communicate(timeout=300) for process in runs]
    assert [process.returncode for process in runs] == [0, 0], outputs
    assert all(out.startswith("PASS") for out, _ in outputs)


def test_a_busy_workdir_is_refused_and_a_busy_default_is_stepped_around(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with files.work_folder(tmp_path / "w", []):
        status, _, err = run(capsys, "sim", *TINY, "--simulator", "icarus", "--values", "30", "--workdir", "w")
        assert status == 2
        one_error_line(err, "w is in use by another pezo process")
    assert run(capsys, "sim", *TINY, "--simulator", "icarus", "--values", "30")[0] == 0
    (default,) = (tmp_path / "out" / "sim").iterdir()
    with files.work_folder(default, []):
        status, out, _ = run(capsys, "sim", *TINY, "--simulator", "icarus", "--values", "30")
    assert status == 0 and sorted(p.name for p in (tmp_path / "out" / "sim").iterdir()) == [default.name,
                                                                                           default.name + "-1"]


def test_the_default_folder_tells_seeds_apart(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for seed in (1, 2):
        assert run(capsys, "sim", *TINY, "--seed", seed, "--simulator", "icarus", "--values", "30")[0] == 0
    assert len(list((tmp_path / "out" / "sim").iterdir())) == 2


def test_a_short_length_input_gets_a_default_length_that_fits(tmp_path, capsys):
    status, out, _ = run(capsys, "sim", *TINY, "--length-bits", "2", "--simulator", "icarus", "--values", "30",
                         "--workdir", tmp_path / "w")
    assert status == 0 and out.startswith("PASS")
    status, _, err = run(capsys, "sim", *TINY, "--length-bits", "2", "--length", "4", "--workdir", tmp_path / "x")
    assert status == 2 and not (tmp_path / "x").exists()
    one_error_line(err, "--length 4 is out of range: allowed 1..3 words")


# --- legal input that cannot be built, interruptions, awkward paths --------------------------------------------

@pytest.mark.parametrize("config, message", [
    (["--strategy", "otf", "--generators", "4096", "--width", "16"], "4096 lanes x 16 bits = 65536 mantissa bits"),
    (["--strategy", "otf", "--generators", "4095", "--width", "24"], "4095 lanes x 24 bits = 98280 mantissa bits"),
    (["--strategy", "otf", "--generators", "31", "--width", "21"], "width=21 (an exponent table of 2^21 entries)"),
    (["--strategy", "pool", "--size", "8190", "--bits", "24", "--lanes", "4095"], "98280 mantissa bits"),
    (["--strategy", "pool", "--size", str((1 << 24) - 1), "--bits", "24"], "allowed up to 1048576 entries"),
])
@pytest.mark.parametrize("command", [["export", "--out", "o"], ["synth", "estimate"], ["sim"]])
def test_unbuildable_configurations_are_refused_at_once(tmp_path, capsys, monkeypatch, config, message, command):
    monkeypatch.chdir(tmp_path)
    begin = time.perf_counter()
    status, _, err = run(capsys, *command, *config)
    assert status == 2 and list(tmp_path.iterdir()) == []
    one_error_line(err, message)
    assert time.perf_counter() - begin < 60        # not minutes of elaboration first


def _descendants(pid):
    from pezo.cli import _descendants
    return _descendants(pid)


@pytest.mark.parametrize("signum, status, waves", [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, False),
                                                   (signal.SIGTERM, 143, True)])
def test_a_signal_stops_the_simulator_and_leaves_no_dump(tmp_path, signum, status, waves):
    process = pezo("sim", "--preset", "otf-31x8", "--simulator", "icarus", "--values", 10 ** 9,
                   "--workdir", tmp_path / "w", *(["--waves"] if waves else []))
    outputs = [tmp_path / "w" / "run" / name for name in ["words.hex"] + (["waves.fst"] if waves else [])]
    deadline = time.monotonic() + 120
    while not all(path.exists() for path in outputs) and time.monotonic() < deadline:
        time.sleep(0.2)
    children = _descendants(process.pid)
    assert children, "the simulator never started"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status and len(err.strip().splitlines()) == 1, err
    time.sleep(0.5)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()
                and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
    assert not [path for path in outputs if path.exists()]
    assert not list(tmp_path.rglob(".pezo-staging-*"))


@pytest.mark.parametrize("folder, simulator", [("with space", "verilator"), ("ünïcode", "icarus")])
def test_awkward_paths_simulate(tmp_path, capsys, monkeypatch, folder, simulator):
    (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / folder)
    status, out, err = run(capsys, "sim", *TINY, "--simulator", simulator, "--values", "300")
    assert status == 0 and out.startswith("PASS"), err


# --- one clear line for bad input, in every subcommand ---------------------------------------------------------

SPEC_READERS = [["export", "--out", "o"], ["sim"], ["synth", "estimate"], ["synth", "ip", "--out", "o"],
                ["train", "--out", "o"]]


@pytest.mark.parametrize("content, message", [("[1, 2]", "holds a JSON list"), ('"otf"', "holds a JSON str"),
                                              ('{"strategy": "otf",', "is not JSON"), (None, "is a folder")])
@pytest.mark.parametrize("command", SPEC_READERS)
def test_a_bad_spec_file_is_named(tmp_path, capsys, monkeypatch, content, message, command):
    monkeypatch.chdir(tmp_path)
    Path("s.json").mkdir() if content is None else Path("s.json").write_text(content)
    status, _, err = run(capsys, *command, "--spec", "s.json")
    assert status == 2 and not Path("o").exists()
    one_error_line(err, "s.json", message)


@pytest.mark.parametrize("command", [["export", "--preset", "otf-31x8", "--out"], ["synth", "ip", *TINY, "--out"],
                                     ["synth", "vivado", "--out"], ["train", "--out"], ["flow", "--out"],
                                     ["sim", *TINY, "--workdir"]])
def test_a_file_given_as_a_folder(tmp_path, capsys, command):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(SystemExit) as stop:
        main([*command, str(tmp_path / "f")])
    _, err = capsys.readouterr()
    assert stop.value.code == 2 and (tmp_path / "f").read_text() == "mine"
    one_error_line(err, "f is a file: give a folder")


@pytest.mark.parametrize("command", [["sim", *TINY, "--json"], ["sim", *TINY, "--saif"],
                                     ["synth", "estimate", *TINY, "--json"], ["synth", "table6", "--json"]])
def test_a_folder_given_as_a_file(tmp_path, capsys, command):
    with pytest.raises(SystemExit) as stop:
        main([*command, str(tmp_path)])
    assert stop.value.code == 2
    one_error_line(capsys.readouterr().err, f"{tmp_path} is a folder: give a file name")


@pytest.mark.parametrize("command", [["export", *TINY, "--out", UNWRITABLE / "o"],
                                     ["synth", "ip", *TINY, "--out", UNWRITABLE / "o"],
                                     ["sim", *TINY, "--simulator", "icarus", "--values", "30", "--workdir",
                                      UNWRITABLE / "w"],
                                     ["synth", "estimate", *TINY, "--blocks", "sequencer", "--json",
                                      UNWRITABLE / "e.json"]])
def test_an_unwritable_folder(capsys, command):
    status, _, err = run(capsys, *command)
    assert status == 2
    one_error_line(err, UNWRITABLE)


def test_the_folder_the_user_gave_is_named(capsys):
    status, _, err = run(capsys, "export", *TINY, "--out", "/proc/pezo-out")
    assert status == 2
    one_error_line(err, "error: /proc/pezo-out: ")


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and re.fullmatch(r"pezo \d+\.\d+\.\d+\n", capsys.readouterr().out)


@pytest.mark.parametrize("name", ["module", "logic", "pezo_harness", "9lives", "a-b", ""])
def test_module_names_that_tools_reserve_are_refused(tmp_path, capsys, name):
    status, _, err = run(capsys, "export", *TINY, "--name", name, "--out", tmp_path / "o")
    assert status == 2 and not (tmp_path / "o").exists()
    one_error_line(err, repr(name))


def test_the_power_of_two_warning_suggests_a_legal_size(tmp_path, capsys):
    status, _, err = run(capsys, "export", "--strategy", "pool", "--size", "2", "--bits", "4", "--out",
                         tmp_path / "o")
    assert status == 0 and "2^k - 1 (e.g. 3)" in err


def test_train_names_its_own_options(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--perturb", "pezo-otf", "--size", "7", "--out", tmp_path / "r")
    assert status == 2
    one_error_line(err, "--size does not apply to strategy otf: allowed --generators, --width, --generator-seed, "
                        "--reload, --leap, --exp-bits, --hop-bits")
    status, _, err = run(capsys, "train", "--model", "./no/such/folder", "--out", tmp_path / "r")
    assert status == 2
    one_error_line(err, "model folder ./no/such/folder does not exist")


@pytest.mark.parametrize("argv, named", [
    (["sim", "--preset", "otf-31x8", "--values", "0"], "--values: 0 is out of range"),
    (["sim", "--preset", "otf-31x8", "--engine", "fp32", "--values", "-5"], "--values: -5 is out of range"),
    (["flow", "--values-icarus", "-5", "--values-verilator", "0"], "--values-icarus: -5 is out of range"),
    (["train", "--lr", "inf", "--out", "{tmp}/r"], "lr=inf"),
    (["train", "--eps", "inf", "--out", "{tmp}/r"], "eps=inf"),
    (["train", "--device", "meta", "--out", "{tmp}/r"], "device 'meta'"),
    (["train", "--peft", "lora", "--lora-r", "2000000000", "--out", "{tmp}/r"], "lora_r=2000000000"),
])
def test_a_check_over_nothing_or_an_unusable_number_is_refused(argv, named, tmp_path, capsys):
    """Issue 'No data lost, no false PASS': values that compare nothing, non-finite steps, the meta device and a
    rank that would allocate terabytes get one line and exit 2, before anything is built or written."""
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    with pytest.raises(SystemExit) if argv[0] in ("sim", "flow") else contextlib.nullcontext() as stopped:
        status = main(argv)
    status = stopped.value.code if argv[0] in ("sim", "flow") else status
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and named in error
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


@pytest.mark.parametrize("options, named", [
    (["--lora-r", "4"], "lora_r=4 applies to peft lora"),
    (["--peft", "lora", "--prefix-tokens", "3"], "prefix_tokens=3 applies to peft prefix"),
])
def test_an_adapter_setting_without_its_adapter_is_refused(options, named, tmp_path, capsys):
    assert main(["train", *options, "--out", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error


@pytest.mark.parametrize("label", [1.7, 0.2, True, "1.0"])
def test_a_label_that_is_not_an_integer_is_refused(label, tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": f"review {i}", "label": i % 2}) + "\n" for i in range(20))
                    + json.dumps({"text": "odd", "label": label}) + "\n")
    assert main(["train", "--model", "rt-tiny", "--data", str(data), "--k", "2", "--test-size", "4",
                 "--out", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "row 21" in error and "is not an integer" in error


@pytest.mark.parametrize("edit, named", [
    (lambda state: state["progress"].update(step=99999), "disagrees with the checkpoint's lr schedule"),
    (lambda state: state["progress"].update(step="x"), 'progress: step="x" is not an integer'),
    (lambda state: state["progress"].update(extra=1), "progress: 'extra' is not a field of a checkpoint's progress"),
    (lambda state: state.update(progress={}), "progress lacks 'step'"),
    (lambda state: state["progress"].update(step=-5), "progress step -5, best_step 0: allowed non-negative"),
    (lambda state: state.update(later=1), "state.json: 'later' is not a field of a checkpoint's state"),
    (lambda state: state.clear(), "state.json lacks 'progress'"),
])
def test_an_edited_checkpoint_state_is_refused(edit, named, tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["--model", "rt-tiny", "--k", "4", "--test-size", "8", "--batch-size", "4", "--eval-every", "2",
            "--no-progress", "--out", str(out)]
    assert main(["train", *argv, "--steps", "2"]) == 0
    path = out / "checkpoint" / "state.json"
    state = json.loads(path.read_text())
    edit(state)
    path.write_text(json.dumps(state))
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--steps", "4", "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error and "state.json" in error


def test_resuming_to_fewer_steps_than_done_is_refused(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--model", "rt-tiny", "--k", "4", "--test-size", "8", "--batch-size", "4",
                 "--eval-every", "2", "--no-progress", "--steps", "4", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--steps", "2", "--no-progress"]) == 2
    assert "--steps 2 is below the checkpoint's step 4" in capsys.readouterr().err


def test_export_force_never_replaces_a_training_run(tmp_path, capsys):
    """Issue 'No data lost': every file of a finished run is pezo's, yet --force must not replace it."""
    out = tmp_path / "run"
    assert main(["train", "--model", "rt-tiny", "--k", "4", "--test-size", "8", "--batch-size", "4", "--steps", "1",
                 "--no-progress", "--out", str(out)]) == 0
    before = sorted(path.relative_to(out) for path in out.rglob("*"))
    capsys.readouterr()
    assert main(["export", "--preset", "otf-31x8", "--out", str(out), "--force"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "a folder a pezo command works in" in error
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == before


@pytest.mark.parametrize("kind, message", [("fifo", "is not a regular file"), ("device", "is not a regular file"),
                                           ("nested", "nests its JSON too deeply"), ("latin-1", "is not UTF-8"),
                                           ("large", "over the 64 bytes pezo reads")])
@pytest.mark.parametrize("command", [["export", "--out", "o", "--spec"], ["sweep", "run", "--out", "o", "--grid"]])
def test_input_files_are_read_only_when_regular_bounded_and_shallow(tmp_path, capsys, monkeypatch, kind, message,
                                                                    command):
    """A pipe nobody writes would block, /dev/zero never ends, deep nesting overflows the parser: each is refused
    by the one checked reader (pezo.reading.read_text) with one line naming the file."""
    monkeypatch.chdir(tmp_path)
    path = Path("in.json")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    elif kind == "nested":
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif kind == "latin-1":
        path.write_bytes('{"strategy": "otf", "x": "caf\u00e9"}'.encode("latin-1"))
    else:
        monkeypatch.setattr(reading, "MAX_READ_BYTES", 64)
        path.write_text(json.dumps({"strategy": "otf", "padding": "x" * 100}))
    status, _, err = run(capsys, *command, str(path))
    assert status == 2 and not Path("o").exists()
    one_error_line(err, str(path), message)


@pytest.mark.parametrize("line, named", [("5", "row 21 holds a JSON int"), ('"text"', "row 21 holds a JSON str"),
                                         ("{bad", "row 21 is not JSON")])
def test_a_data_line_that_is_not_an_object_is_named(line, named, tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": f"review {i}", "label": i % 2}) + "\n" for i in range(20)) + line)
    assert main(["train", "--model", "rt-tiny", "--data", str(data), "--k", "2", "--test-size", "4",
                 "--out", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error and str(data) in error


@pytest.mark.parametrize("name", ["n" * 240, "n" * 250, "n" * 255, os.fsdecode(b"\xff" + b"n" * 245)],
                         ids=["240", "250", "255", "not-utf-8"])
def test_output_names_up_to_the_limit_are_written_and_replaced(tmp_path, capsys, monkeypatch, name):
    """The staging names beside an output (`.pezo-staging-<pid>-<name>-...`) are cut and given a digest where the
    whole name would pass 255 bytes (counted as the system stores it, also for a name that is not UTF-8), so every
    legal name works, also with --force."""
    monkeypatch.chdir(tmp_path)
    for extra in ([], ["--force"]):
        assert run(capsys, "export", "--preset", "otf-31x8", "--out", name, *extra)[0] == 0
    assert (tmp_path / name / "manifest.json").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("path", ["m" * 256, "/".join(["p" * 200] * 22)])
def test_a_path_the_system_cannot_look_up_is_one_line(tmp_path, capsys, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["export", "--preset", "otf-31x8", "--out", path])
    assert stop.value.code == 2 and list(tmp_path.iterdir()) == []
    one_error_line(capsys.readouterr().err, "File name too long")


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_step_0(tmp_path, capsys, monkeypatch):
    """Stopped between config.json and its first checkpoint (here: the starting weights' evaluation, which
    writes it, is interrupted), --resume starts the run again from step 0 and ends as an uninterrupted run does,
    instead of finding no checkpoint."""
    from pezo.train import loop
    argv = ["--model", "rt-tiny", "--k", "4", "--test-size", "8", "--batch-size", "4", "--eval-every", "2",
            "--no-progress", "--steps", "4"]
    assert main(["train", *argv, "--out", str(tmp_path / "whole")]) == 0

    def stopped(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(loop.Run, "_evaluate", stopped)
        assert main(["train", *argv, "--out", str(tmp_path / "r")]) != 0
    assert (tmp_path / "r" / "config.json").exists() and not (tmp_path / "r" / "checkpoint").exists()
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "r"), "--resume", "--no-progress"]) == 0
    done, whole = (json.loads((tmp_path / name / "summary.json").read_text()) for name in ("r", "whole"))
    assert done["steps_done"] == 4 and done["test_accuracy"] == whole["test_accuracy"]
    losses = [[json.loads(line).get("loss") for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
              for name in ("r", "whole")]
    assert [loss for loss in losses[0] if loss is not None] == [loss for loss in losses[1] if loss is not None]


@pytest.mark.parametrize("argv, named", [
    (["sweep", "run", "--preset", "smoke", "--list", "--shard", "\u00b2/\u00b3"], "'\u00b2/\u00b3' is not I/N"),
    (["train", "--queries", "abc", "--out", "{tmp}/r"], "'abc' is not int: allowed 1 <= int <= 1024"),
])
def test_option_values_are_named_not_the_parsers_internals(argv, named, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and named in err and "invalid" not in err
