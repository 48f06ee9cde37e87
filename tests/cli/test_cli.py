"""The `cytolab` command: --help, --version, demo, exit codes."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

import cytolab
from cytolab.cli import demo
from cytolab.cli.main import main


def test_version_and_help(capsys):
    for args in (["--version"], ["--help"], ["demo", "--help"]):
        try:
            main(args)
        except SystemExit as exc:
            assert exc.code == 0
    out = capsys.readouterr().out
    assert f"cytolab {cytolab.__version__}" in out
    assert "demo" in out and "Exit codes" in out and "--events" in out


def test_no_verb_prints_help(capsys):
    assert main([]) == 0
    assert "usage: cytolab" in capsys.readouterr().out


def test_bad_arguments_exit_2(capsys):
    try:
        main(["demo", "--events", "many"])
    except SystemExit as exc:
        assert exc.code == 2
    else:  # pragma: no cover
        raise AssertionError("argparse did not exit")


def test_demo_function(tmp_path):
    stream = io.StringIO()
    derived = demo(tmp_path / "out", num_events=400, images=10, stream=stream)
    text = stream.getvalue()
    assert "events         400" in text and "from basin" in text
    with cytolab.new_dataset(derived) as dd, \
            cytolab.new_dataset(tmp_path / "out" / "measurement.rtdc") as ds:
        sel = dd["basinmap0"].astype(int)
        assert len(dd) == 200
        assert np.array_equal(dd["area_um"], ds["area_um"][sel])
        assert np.allclose(dd["userdef1"], ds["deform"][sel] / np.sqrt(
            ds["area_um"][sel]))
        assert "deform" in dd.features_basin
    # the measurement with images also has fluorescence traces
    with cytolab.new_dataset(tmp_path / "out" / "measurement_images.rtdc") as di:
        assert di["trace"]["fl1_raw"].shape[0] == len(di) == 10
    # overview figure: images and traces -> 10 x 8 inches at 100 dpi
    png = tmp_path / "out" / "overview.png"
    assert f"overview         {png}" in text
    mpimg = pytest.importorskip("matplotlib.image")
    pixels = mpimg.imread(png)
    assert pixels.shape[:2] == (800, 1000)
    assert pixels[..., :3].std() > 0.05  # not a blank canvas


def test_demo_without_plot(tmp_path, monkeypatch):
    stream = io.StringIO()
    demo(tmp_path / "a", num_events=50, images=3, stream=stream, plot=False)
    assert not (tmp_path / "a" / "overview.png").exists()
    assert "overview" not in stream.getvalue()
    # without matplotlib the demo still runs and says how to get plots
    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    demo(tmp_path / "b", num_events=50, images=3, stream=stream)
    assert not (tmp_path / "b" / "overview.png").exists()
    assert 'skipped (for plots: pip install "cytolab[plot]")' in stream.getvalue()


def test_demo_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cytolab.cli.main", "demo",
                           str(tmp_path / "d"), "--events", "200", "--images", "5",
                           "--no-plot"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "derived file" in proc.stdout
    assert (tmp_path / "d" / "derived.rtdc").exists()


def test_failure_exit_code_1(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("not a folder")
    assert main(["demo", str(target / "sub"), "--events", "10"]) == 1
    assert "error" in capsys.readouterr().err


def test_data_fetch_and_list_with_a_filled_cache(emodulus_data, capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert str(emodulus_data) in out and "missing" not in out
    assert out.count("cached ") == 10
    assert main(["data", "fetch"]) == 0  # verifies, downloads nothing
    assert "10 data files verified" in capsys.readouterr().out


def test_data_fetch_offline_fails_with_instructions(tmp_path, monkeypatch, capsys):
    from cytolab.features.emodulus import datafiles
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(tmp_path))
    # nothing listens on this loopback port: the download must fail cleanly
    monkeypatch.setattr(datafiles, "DATA_FILES", {
        "lut_LE-2D-FEM-19.txt": ("http://127.0.0.1:9/lut_LE-2D-FEM-19.txt", "0" * 64)})
    assert main(["data", "list"]) == 0
    assert "missing  lut_LE-2D-FEM-19.txt" in capsys.readouterr().out
    assert main(["data", "fetch"]) == 1
    err = capsys.readouterr().err
    assert "cytolab data fetch" in err and "CYTOLAB_DATA_CACHE" in err
    assert not (tmp_path / "lut_LE-2D-FEM-19.txt").exists()
