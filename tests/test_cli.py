"""The pezo command line: configurations from every source, clear errors with exit status 2, nothing half-written."""
import json

import pytest

from pezo.cli import main


def run(capsys, *argv):
    try:
        status = main(list(argv))
    except SystemExit as stop:                  # argparse's own refusals
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def test_export_a_preset(tmp_path, capsys):
    status, out, _ = run(capsys, "export", "--preset", "pool-4095x12", "--out", str(tmp_path / "pool"))
    assert status == 0 and "pezo_pool_4095x12" in out
    manifest = json.loads((tmp_path / "pool" / "manifest.json").read_text())
    assert manifest["spec"] == {"strategy": "pool", "size": 4095, "bits": 12, "lanes": 1, "seed": 1,
                                "exp_bits": None, "length_bits": 32}


def test_fields_refine_a_spec_file(tmp_path, capsys):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"strategy": "otf", "generators": 7, "width": 6}))
    status, _, _ = run(capsys, "export", "--spec", str(spec_file), "--seed", "9", "--out", str(tmp_path / "o"),
                       "--name", "my_gen")
    assert status == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["top"] == "my_gen" and manifest["spec"]["seed"] == 9 and manifest["spec"]["generators"] == 7


@pytest.mark.parametrize("argv, message", [
    (["--strategy", "otf", "--width", "30"], "width=30 is out of range: allowed 2..24"),
    (["--strategy", "otf", "--seed", "0"], "seed=0 is out of range: allowed 1..255"),
    (["--strategy", "otf", "--generators", "0"], "generators=0 is out of range"),
    (["--strategy", "pool", "--size", "1"], "size=1 is out of range: allowed 2.."),
    (["--strategy", "pool", "--lanes", "8"], "lanes=8 does not divide size=4095"),
    (["--preset", "otf-31x8", "--exp-bits", "3"], "overflow exp_bits=3"),
    (["--strategy", "pool", "--width", "8"], "--width does not apply to strategy pool"),
    (["--preset", "otf-31x8", "--strategy", "pool"], "contradicts"),
])
def test_bad_configurations_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    out_dir = tmp_path / "out"
    status, _, err = run(capsys, "export", *argv, "--out", str(out_dir))
    assert status == 2 and message in err and err.startswith("error: ")
    assert not out_dir.exists() and list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_without_force(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    status, _, err = run(capsys, "export", "--preset", "otf-31x8", "--out", str(tmp_path))
    assert status == 2 and "not empty" in err and (tmp_path / "keep.txt").read_text() == "mine"


def test_power_of_two_warns_but_exports(tmp_path, capsys):
    status, _, err = run(capsys, "export", "--strategy", "otf", "--generators", "4", "--width", "4",
                         "--out", str(tmp_path / "o"))
    assert status == 0 and "warning: generators=4 is a power of two" in err


def test_sim_from_a_manifest_reports_and_writes_json(tmp_path, capsys):
    assert run(capsys, "export", "--strategy", "pool", "--size", "255", "--bits", "8", "--lanes", "5",
               "--out", str(tmp_path / "rtl"))[0] == 0
    status, out, _ = run(capsys, "sim", "--manifest", str(tmp_path / "rtl"), "--simulator", "icarus",
                         "--values", "3000", "--length", "40", "--workdir", str(tmp_path / "sim"),
                         "--json", str(tmp_path / "result.json"))
    assert status == 0 and out.startswith("PASS pool-255x8-l5 on icarus: 3,000 values (600 words)")
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["passed"] and record["values"] == 3000 and record["spec"]["lanes"] == 5


def test_engine_export_and_its_simulation(tmp_path, capsys):
    """`pezo export --engine` writes the engine's build; `pezo sim --engine --manifest` simulates that very Verilog
    bit for bit; the wrong format, or a generator's command on an engine build, exits 2."""
    status, out, _ = run(capsys, "export", "--strategy", "otf", "--generators", "7", "--width", "6", "--engine", "bf16",
                         "--out", str(tmp_path / "rtl"))
    assert status == 0 and "the ZO engine with bf16 weights around otf-7x6 as module pezo_engine_bf16_otf_7x6" in out
    status, out, _ = run(capsys, "sim", "--manifest", str(tmp_path / "rtl"), "--engine", "bf16", "--simulator",
                         "icarus", "--values", "2000", "--workdir", str(tmp_path / "sim"))
    assert status == 0 and out.startswith("PASS engine bf16 around otf-7x6 on icarus")
    assert "simulated the build's own pezo_engine_bf16_otf_7x6.v" in out
    status, _, err = run(capsys, "sim", "--manifest", str(tmp_path / "rtl"), "--engine", "fp32")
    assert status == 2 and "is the engine's build with bf16 weights: give --engine bf16" in err
    status, _, err = run(capsys, "sim", "--manifest", str(tmp_path / "rtl"))
    assert status == 2 and "is the ZO engine's build: simulate it with --engine bf16" in err


@pytest.mark.parametrize("argv, message", [(["--values", "0"], "--values: 0 is out of range: allowed 1 or more"),
                                           (["--length", "0"], "--length 0 is out of range: allowed 1..4294967295 words"),
                                           (["--length-bits", "2", "--length", "4"],
                                            "--length 4 is out of range: allowed 1..3 words (the 2-bit length")])
def test_sim_rejects_bad_counts(capsys, argv, message):
    status, _, err = run(capsys, "sim", "--preset", "otf-31x8", *argv)
    assert status == 2 and message in err


def test_tampered_manifest_is_refused(tmp_path, capsys):
    run(capsys, "export", "--preset", "otf-31x8", "--out", str(tmp_path / "rtl"))
    manifest = tmp_path / "rtl" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["otf"]["stride"] += 1
    manifest.write_text(json.dumps(data))
    status, _, err = run(capsys, "sim", "--manifest", str(tmp_path / "rtl"), "--simulator", "icarus")
    assert status == 2 and "stride" in err


def test_sim_writes_waves_on_request(tmp_path, capsys):
    status, out, _ = run(capsys, "sim", "--strategy", "otf", "--generators", "3", "--width", "4", "--simulator",
                         "icarus", "--values", "90", "--waves", "--workdir", str(tmp_path))
    assert status == 0 and "waves in" in out
    assert (tmp_path / "run" / "waves.fst").stat().st_size > 1000


@pytest.mark.parametrize("command", [["sim", "--generators", "3", "--width", "4", "--workdir"],
                                     ["prove", "--generators", "3", "--width", "4", "--workdir"],
                                     ["flow", "--out"]])
def test_a_tool_folder_that_is_not_utf8_is_refused_before_anything_is_written(tmp_path, capsys, command):
    import os
    folder = os.fsdecode(os.fsencode(tmp_path) + b"/w\xffd")
    status, _, err = run(capsys, *command, folder)
    assert status == 2 and "is not UTF-8" in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["-V"], "-V is not an option of pezo itself: give a command first"),
    (["sweep", "run", "--preset", "smoke", "--shard", "-1/2", "--list"],
     "--shard -1/2: a value beginning with '-' reads as an option: write --shard=-1/2"),
])
def test_what_argparse_would_misreport_is_said_plainly(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_negative_numbers_still_reach_their_option(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--steps", "-5", "--out", str(tmp_path / "r"))
    assert status == 2 and "steps=-5 is out of range" in err
