"""`cytolab verify`: exit codes 0-4, printed cues, bad input."""
from __future__ import annotations

import hashlib
import io
import pathlib
import shutil

import h5py
import pytest
from realdata import real_file

from cytolab.cli import verify, verify_dataset
from cytolab.cli._verify import get_exit_code
from cytolab.cli.main import main
from cytolab.rtdc.check import ICue
from cytolab.simulate import simulate_rtdc


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> pathlib.Path:
    return simulate_rtdc(tmp_path_factory.mktemp("verify") / "clean.rtdc",
                         num_events=40, seed=3)


def variant(clean: pathlib.Path, tmp_path: pathlib.Path, key: str,
            value) -> pathlib.Path:
    """A copy of the clean file with one metadata item changed."""
    path = tmp_path / "variant.rtdc"
    shutil.copy(clean, path)
    with h5py.File(path, "a") as h5:
        h5.attrs[key] = value
    return path


def run_verify(path) -> tuple[int, str]:
    stream = io.StringIO()
    code = verify(path, stream=stream)
    return code, stream.getvalue()


def test_alias():
    assert verify_dataset is verify


def test_exit_code_from_cues():
    info, alert = ICue("i", "info", "c"), ICue("a", "alert", "c")
    violation = ICue("v", "violation", "c")
    assert get_exit_code([]) == 0
    assert get_exit_code([info]) == 0
    assert get_exit_code([info, alert, alert]) == 1
    assert get_exit_code([violation]) == 2
    assert get_exit_code([alert, violation, info]) == 3


def test_valid_file_exit_0(clean, capsys):
    code, text = run_verify(clean)
    assert code == 0
    assert text.splitlines() == [
        f"checked: {clean}",
        "info (1):",
        "  - [compression] Compression: all 20 features compressed (20 with "
        "Zstandard level >= 5 and checksums)",
        "result: valid (0 violations, 0 alerts, 1 info)"]
    assert main(["verify", str(clean)]) == 0
    captured = capsys.readouterr()
    assert captured.out == text and captured.err == ""


def test_alert_exit_1(clean, tmp_path, capsys):
    path = variant(clean, tmp_path, "setup:flow rate", 0.05)  # 0.01 + 0.03 != 0.05
    code, text = run_verify(path)
    assert code == 1
    assert ("alerts (1):\n  - [metadata wrong] Flow rates do not add up: sample "
            "0.01 + sheath 0.03 = 0.04 µL/s, but [setup] 'flow rate' is 0.05 "
            "µL/s\n") in text
    assert text.endswith("result: alerts (0 violations, 1 alert, 1 info)\n")
    assert main(["verify", str(path)]) == 1
    assert capsys.readouterr().out == text


def test_violation_exit_2(clean, tmp_path, capsys):
    path = variant(clean, tmp_path, "imaging:pixel size", -0.34)
    code, text = run_verify(path)
    assert code == 2
    assert ("violations (1):\n  - [metadata wrong] Invalid value of [imaging] "
            "'pixel size': -0.34 (must be greater than zero)\n") in text
    assert text.endswith("result: violations (1 violation, 0 alerts, 1 info)\n")
    assert main(["verify", str(path)]) == 2
    assert capsys.readouterr().out == text


def test_alerts_and_violations_exit_3(clean, tmp_path, capsys):
    path = variant(clean, tmp_path, "setup:flow rate", 0.0)
    code, text = run_verify(path)
    assert code == 3
    assert "Invalid value of [setup] 'flow rate': 0 µL/s (zero flow rate)" in text
    assert "Flow rates do not add up" in text
    assert text.endswith("result: alerts and violations (1 violation, 1 alert, "
                         "1 info)\n")
    assert main(["verify", str(path)]) == 3
    assert "zero flow rate" in capsys.readouterr().out


def test_unreadable_hdf5_is_a_violation(clean, tmp_path, capsys):
    path = tmp_path / "truncated.rtdc"
    path.write_bytes(clean.read_bytes()[:4000])
    code, text = run_verify(path)
    assert code == 2
    assert f"[file] Cannot open '{path}'" in text
    assert main(["verify", str(path)]) == 2


def test_unreadable_tdms_is_a_violation(tmp_path, capsys):
    path = tmp_path / "M1_data.tdms"  # no para.ini, camera.ini, no TDMS data
    path.write_bytes(b"TDSm garbage")
    code, text = run_verify(path)
    assert code == 2
    assert f"[file] Cannot open '{path}'" in text


@pytest.mark.parametrize("kind", ["missing", "text", "folder"])
def test_other_errors_exit_4(tmp_path, capsys, kind):
    path = tmp_path / "input.rtdc"
    if kind == "text":
        path.write_text("deform\n0.1\n")
    elif kind == "folder":
        path.mkdir()
    message = {"missing": f"Input file not found: '{path}'",
               "text": f"Input '{path}' is not an RT-DC (HDF5) file",
               "folder": f"'{path}' is a directory"}[kind]
    code, text = run_verify(path)
    assert code == 4 and text == ""
    assert message in capsys.readouterr().err
    assert main(["verify", str(path)]) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cytolab verify: error: ")
    assert message in captured.err


def test_input_unchanged(clean):
    before = hashlib.md5(clean.read_bytes()).hexdigest(), clean.stat().st_mtime_ns
    assert main(["verify", str(clean)]) == 0
    assert (hashlib.md5(clean.read_bytes()).hexdigest(),
            clean.stat().st_mtime_ns) == before


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: cytolab verify [-h] path" in out
    assert "4  other error" in out and "cytolab verify measurement.rtdc" in out


def test_real_file_with_alerts_and_violations(real_rtdc_files, capsys):
    path = real_file(real_rtdc_files, "example_video")
    assert main(["verify", str(path)]) == 3
    out = capsys.readouterr().out
    assert "Feature 'mask' has 20 events, the dataset has 10" in out
    assert "Features stored without compression" in out
