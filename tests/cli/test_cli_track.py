"""``cytolab track``: help, a run on a small agar-pad movie with hand-made
ONNX networks, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

import cytolab
from cytolab.cli.main import VERBS, main
from cytolab.simulate.movies import simulate_agarpad
from cytolab.timelapse.config import Config
from cytolab.timelapse.position import Position

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _save(graph_nodes, inputs, outputs, initializers, path):
    from onnx import helper

    graph = helper.make_graph(graph_nodes, path.stem, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def seg_model(path):
    """Cells are darker than 0.37: sigmoid(60 (0.37 - x))."""
    from onnx import TensorProto, helper, numpy_helper

    value = helper.make_tensor_value_info
    nodes = [helper.make_node("Sub", ["level", "input"], ["d"]),
             helper.make_node("Mul", ["d", "gain"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["output"])]
    consts = [numpy_helper.from_array(np.array(0.37, np.float32), "level"),
              numpy_helper.from_array(np.array(60.0, np.float32), "gain")]
    return _save(nodes, [value("input", TensorProto.FLOAT, ["n", "y", "x", 1])],
                 [value("output", TensorProto.FLOAT, ["n", "y", "x", 1])],
                 consts, path)


def track_model(path):
    """The tracked cell where it overlaps cells now: seg(t-1) * segall(t)."""
    from onnx import TensorProto, helper, numpy_helper

    value = helper.make_tensor_value_info
    ints = {name: numpy_helper.from_array(np.array(v, np.int64), name)
            for name, v in (("s1", [1]), ("e1", [2]), ("s3", [3]), ("e3", [4]),
                            ("axis", [3]))}
    nodes = [helper.make_node("Slice", ["input", "s1", "e1", "axis"], ["seed"]),
             helper.make_node("Slice", ["input", "s3", "e3", "axis"], ["segall"]),
             helper.make_node("Mul", ["seed", "segall"], ["mother"]),
             helper.make_node("Sub", ["mother", "mother"], ["daughter"]),
             helper.make_node("Concat", ["mother", "daughter"], ["output"], axis=3)]
    return _save(nodes, [value("input", TensorProto.FLOAT, ["n", "y", "x", 4])],
                 [value("output", TensorProto.FLOAT, ["n", "y", "x", 2])],
                 list(ints.values()), path)


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    """A 4-frame agar-pad movie (multi-page TIFF), networks and a config."""
    folder = tmp_path_factory.mktemp("track")
    truth = simulate_agarpad(4, seed=3, n_founders=3, shape=(128, 128))
    path = folder / "pad.tif"
    tifffile.imwrite(path, np.round(truth.images[:, 0] * 65535).astype(np.uint16),
                     photometric="minisblack")
    config = Config.default("2D")
    config.update("models.seg.target_size", (64, 64))
    config.update("models.track.target_size", (64, 64))
    config.write(folder / "config.json")
    return (path, folder / "config.json", seg_model(folder / "seg.onnx"),
            track_model(folder / "track.onnx"), truth)


def test_help(capsys):
    assert "track" in VERBS
    with pytest.raises(SystemExit) as info:
        main(["track", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--preset", "--out", "--frames", "--positions", "--save-as",
                   "--procs", "--config", "--model-seg", "--model-track",
                   "--model-rois", "--no-progress", "--rtdc", "Exit codes"):
        assert option in text


def test_track_movie(movie, tmp_path, capsys):
    path, config, seg, track, truth = movie
    out = tmp_path / "res"
    code = main(["track", str(path), "--config", str(config), "--model-seg", str(seg),
                 "--model-track", str(track), "--out", str(out), "--frames", "0:3",
                 "--save-as", "netCDF", "labeled-movie", "--rtdc", "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert f"{path}: 1 position, 1 channel, 4 frames" in text
    assert "position 0: 1 ROI, " in text and "frames 0-2" in text
    assert str(out / "Position000000.nc") in text
    assert (out / "Position000000_labeled.mp4").exists()
    position = Position.load_netcdf(out / "Position000000.nc")
    assert position.rois[0].frames == range(3)
    cells = len(position.rois[0].lineage)
    assert f"{cells} cells" in text
    # the threshold network finds the cells (a few may touch and merge)
    found = len(np.unique(position.rois[0].get_labels(0))) - 1
    assert 0.5 * len(truth.cells_on(0)) <= found <= len(truth.cells_on(0))
    # the overlap network follows them: no new cells on the next frame
    assert set(np.unique(position.rois[0].get_labels(1))) - {0} <= \
        set(position.rois[0].lineage.cellids_at(0)) | {
            c for c in position.rois[0].lineage.cells
            if position.rois[0].lineage.cells[c].motherid is not None}
    with cytolab.new_dataset(out / "Position000000.rtdc") as ds:
        assert len(ds) == sum(len(c.frames) for c in
                              position.rois[0].lineage.cells.values())
    settings = json.loads(position.config.serialize())
    assert settings["models"]["seg"]["model_path"] == str(seg)


def test_track_errors(movie, tmp_path, capsys):
    path, config, seg, track, _ = movie
    assert main(["track", str(path), "--out", str(tmp_path)]) == 1
    assert "--preset" in capsys.readouterr().err
    assert main(["track", str(tmp_path / "missing"), "--preset", "2D"]) == 1
    assert "does not exist" in capsys.readouterr().err
    # no such model file: nothing processed, the message says how to fix it
    assert main(["track", str(path), "--preset", "2D", "--model-seg",
                 str(tmp_path / "nope.onnx"), "--out", str(tmp_path)]) == 1
    assert "model_path" in capsys.readouterr().err
    assert main(["track", str(path), "--preset", "2D", "--model-rois", str(seg)]) == 1
    assert "no 'rois' model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["track", str(path), "--preset", "3D"])
    assert info.value.code == 2


def test_demo_timelapse_cli(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--timelapse" in capsys.readouterr().out
    code = main(["demo", "--timelapse", "--out", str(tmp_path / "demo"), "--no-plot"])
    assert code == 0
    text = capsys.readouterr().out
    assert "accuracy against the ground truth" in text
    assert (tmp_path / "demo" / "results" / "Position000000.mp4").exists()
