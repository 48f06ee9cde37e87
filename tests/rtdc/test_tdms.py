"""The legacy TDMS format: real measurements (2015-2017) and synthetic ones."""
from __future__ import annotations

import os
import pathlib
import shutil
import time
import warnings

import cv2
import numpy as np
import pytest

import cytolab
from cytolab.errors import BadFeatureSizeWarning, UnknownConfigurationKeyWarning
from cytolab.features.contour import get_contour
from cytolab.rtdc.formats.tdms import (
    RTDC_TDMS,
    BrokenVideoWarning,
    ContourMismatchWarning,
    IncompleteTDMSError,
    InvalidTDMSError,
    MissingFramesWarning,
    TraceWarning,
    TruncatedTDMSWarning,
    get_project_name_from_path,
    get_tdms_files,
)
from cytolab.rtdc.formats.tdms.contour import match_entries

nptdms = pytest.importorskip("nptdms")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

# ---------------------------------------------------------------- real data
#: archive -> (file, events, innate features, metadata sections)
REAL = {
    "fmt-tdms_2fl-no-image_2017": (
        "M1_data.tdms", 137,
        ["area_cvx", "area_msd", "area_ratio", "aspect", "bright_avg", "bright_sd",
         "circ", "deform", "fl1_area", "fl1_max", "fl1_pos", "fl1_width",
         "fl2_area", "fl2_max", "fl2_pos", "fl2_width", "frame", "index_online",
         "inert_ratio_cvx", "inert_ratio_raw", "pos_x", "pos_y", "size_x",
         "size_y", "trace"],
        ["experiment", "fluorescence", "fmt_tdms", "imaging", "online_contour",
         "setup"]),
    "fmt-tdms_fl-image-large-fov_2017": (
        "M14_0.024000ul_s.tdms", 1279,
        ["area_cvx", "area_msd", "bright_avg", "bright_sd", "circ", "contour",
         "frame", "image", "inert_ratio_cvx", "inert_ratio_raw", "mask", "pos_x",
         "pos_y", "size_x", "size_y"],
        ["experiment", "fmt_tdms", "imaging", "online_contour", "online_filter",
         "setup"]),
    "fmt-tdms_fl-image_2016": (
        "M1_20160905_greenBeads.tdms", 44,
        ["area_cvx", "area_msd", "circ", "contour", "fl1_area", "fl1_max",
         "fl1_pos", "fl1_width", "frame", "image", "mask", "nevents", "pos_x",
         "pos_y", "size_x", "size_y", "trace"],
        ["experiment", "fluorescence", "fmt_tdms", "imaging", "online_contour",
         "setup"]),
    "fmt-tdms_fl_2015": (
        "M1_20151026_1142_Laura-DyeCycle_1h.tdms", 919,
        ["area_cvx", "area_msd", "circ", "fl1_area", "fl1_max", "fl1_pos",
         "fl1_width", "frame", "pos_x", "pos_y", "size_x", "size_y"],
        ["experiment", "fluorescence", "imaging", "online_contour", "setup"]),
    "fmt-tdms_minimal_2016": (
        "M1_2us_70A_0.120000ul_s.tdms", 155,
        ["area_cvx", "area_msd", "circ", "contour", "frame", "mask", "pos_x",
         "pos_y", "size_x", "size_y"],
        ["experiment", "imaging", "online_contour", "setup"]),
    "fmt-tdms_shapein-2.0.1-no-image_2017": (
        "M1_data.tdms", 547,
        ["area_cvx", "area_msd", "area_ratio", "aspect", "bright_avg", "bright_sd",
         "circ", "deform", "frame", "index_online", "inert_ratio_cvx",
         "inert_ratio_raw", "pos_x", "pos_y", "size_x", "size_y"],
        ["experiment", "fmt_tdms", "imaging", "online_contour", "setup"]),
}
#: archive -> (first three frames, circ[0], trace name -> shape)
REAL_VALUES = {
    "fmt-tdms_2fl-no-image_2017": ([576, 615, 642], 0.9867457151412964,
                                   {"fl1_median": (137, 566)}),
    "fmt-tdms_fl-image-large-fov_2017": ([576, 577, 578], 0.9036339521408081, {}),
    "fmt-tdms_fl-image_2016": ([750, 4815, 4968], 0.9945377707481384,
                               {"fl1_raw": (44, 1000), "fl1_median": (44, 1000)}),
    "fmt-tdms_fl_2015": ([5261, 5262, 5263], 0.9909137487411499, {}),
    "fmt-tdms_minimal_2016": ([164975, 165052, 165081], 0.8829939961433411, {}),
    "fmt-tdms_shapein-2.0.1-no-image_2017": ([115, 155, 456], 0.9741533398628235,
                                             {}),
}


def real_tdms(real_tdms_dirs, name: str) -> pathlib.Path:
    if name not in real_tdms_dirs:
        pytest.skip(f"archive {name} not available")
    return real_tdms_dirs[name] / REAL[name][0]


def open_quiet(path, **kwargs) -> RTDC_TDMS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RTDC_TDMS(path, **kwargs)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_conformance(real_tdms_dirs, name):
    path = real_tdms(real_tdms_dirs, name)
    _, length, innate, sections = REAL[name]
    frames, circ0, traces = REAL_VALUES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = cytolab.new_dataset(path)
    with ds:
        assert isinstance(ds, RTDC_TDMS) and ds.format == "tdms"
        assert ds.path == path.resolve()
        assert len(ds) == length
        assert ds.features_innate == innate
        assert sorted(s for s in ds.config.keys()
                      if s not in ("filtering", "calculation")) == sections
        assert ds.config["experiment"]["event count"] == length
        assert ds["frame"][:3].tolist() == frames
        assert ds["frame"].dtype == np.int64
        assert float(ds["circ"][0]) == circ0
        assert "time" in ds.features and "index" in ds.features
        rate = ds.config["imaging"]["frame rate"]
        assert np.allclose(ds["time"], (ds["frame"] - frames[0]) / rate)
        for feat in innate:
            if cytolab.definitions.scalar_feature_exists(feat):
                assert len(ds[feat]) == length and not ds[feat].flags.writeable
        if "image" in ds.features_innate:
            image = ds["image"]
            assert image.shape == (length, ds.config["imaging"]["roi size y"],
                                   ds.config["imaging"]["roi size x"])
            assert image.dtype == np.uint8 and image[1].dtype == np.uint8
        if "contour" in ds.features_innate:
            height, width = ds["mask"].shape[1:]
            found = 0
            for ii in range(length):
                cont = ds["contour"][ii]
                assert cont.ndim == 2 and cont.shape[1] == 2
                if len(cont):
                    found += 1
                    assert cont[:, 0].min() >= 0 and cont[:, 0].max() < width
                    assert cont[:, 1].min() >= 0 and cont[:, 1].max() < height
            assert found > 0
        if traces:
            assert {k: v.shape for k, v in ds["trace"].items()} == traces
            for trace in ds["trace"].values():
                assert trace.dtype == np.int16
        else:
            assert "trace" not in ds


def test_real_images_and_contours_2016(real_tdms_dirs):
    """Frame offset 1: event i shows video frame i - 1, which shows its cell."""
    path = real_tdms(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    ds = open_quiet(path)
    with ds:
        assert ds.config["fmt_tdms"]["video frame offset"] == 1
        image = ds["image"]
        assert not image[0].any()  # no frame: zero image
        assert image[1].mean() == pytest.approx(47.709309895833336, abs=1e-12)
        assert int(image[1].sum()) == 1172504
        assert image[2].mean() == pytest.approx(47.633219401041664, abs=1e-12)
        assert not image[3].any()  # the (truncated) video has two frames
        # the image varies strongly inside the event's contour, not elsewhere
        for event in (1, 2):
            mask = ds["mask"][event]
            inside = image[event][mask].astype(float).std()
            outside = image[event][~mask].astype(float)
            assert inside > 2 * outside[outside > 20].std()
            center = ds["contour"][event].mean(axis=0)
            pos = np.array([ds["pos_x"][event], ds["pos_y"][event]]) / 0.34
            assert np.all(np.abs(center - pos) < 2)
        # contours of the first twelve events, matched by frame number
        cont = ds["contour"][0]
        assert cont.dtype == np.int32 and cont.shape == (89, 2)
        assert cont[:2].tolist() == [[20, 37], [19, 38]]
        assert [len(ds["contour"][i]) > 0 for i in range(14)] == [True] * 12 \
            + [False] * 2
        # masks are the filled contours; tracing them gives the contours back
        assert int(ds["mask"][0].sum()) == 809
        assert np.array_equal(get_contour(ds["mask"][0]).min(axis=0),
                              cont.min(axis=0))


def test_real_slicing(real_tdms_dirs):
    path = real_tdms(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    ds = open_quiet(path)
    with ds:
        for feat in ("image", "mask"):
            data = ds[feat]
            block = data[0:3]
            assert block.shape == (3,) + data.shape[1:]
            for ii in range(3):
                assert np.array_equal(block[ii], data[ii])
            picked = data[[2, 0, 1]]
            assert np.array_equal(picked[0], data[2])
            assert np.array_equal(data[np.array([False, True] + [False] * 42)][0],
                                  data[1])
        conts = ds["contour"][1:4]
        assert isinstance(conts, list) and len(conts) == 3
        assert np.array_equal(conts[0], ds["contour"][1])
        trace = ds["trace"]["fl1_raw"]
        assert np.array_equal(trace[1:3], np.stack([trace[1], trace[2]]))
        with pytest.raises(IndexError):
            ds["image"][44]


def test_real_traces_2016(real_tdms_dirs):
    path = real_tdms(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    with pytest.warns(TraceWarning, match="42 of 44 events"):
        ds = open_quiet_except_traces(path)
    stream = nptdms.TdmsFile.read(str(path.with_name(
        path.stem + "_traces.tdms")))["fluorescence traces"]["FL1raw"][:]
    with ds:
        raw = ds["trace"]["fl1_raw"]
        assert raw[0][:5].tolist() == [18, -20, 124, -18, -9]
        assert np.array_equal(raw[1], stream[1000:2000])
        assert np.array_equal(raw[2][:563], stream[2000:2563])
        assert not raw[2][563:].any() and not raw[3].any()
        assert ds.config["fluorescence"]["samples per event"] == 1000


def open_quiet_except_traces(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", TraceWarning)
        return RTDC_TDMS(path)


def test_real_metadata(real_tdms_dirs):
    ds = open_quiet(real_tdms(real_tdms_dirs, "fmt-tdms_2fl-no-image_2017"))
    with ds:
        cfg = ds.config
        assert cfg["experiment"]["date"] == "2017-10-12"
        assert cfg["experiment"]["time"] == "16:42:40"
        assert cfg["experiment"]["sample"] == "polyAn_best"
        assert cfg["setup"]["medium"] == "CellCarrierB"
        assert cfg["setup"]["software version"] == "ShapeIn 2.0.1"
        assert cfg["setup"]["chip region"] == "channel"
        assert cfg["imaging"]["frame rate"] == 1600
        assert cfg["imaging"]["roi size x"] == 250
        fluo = cfg["fluorescence"]
        assert (fluo["laser 1 lambda"], fluo["laser 2 lambda"]) == (488, 640)
        assert (fluo["laser 1 power"], fluo["laser 2 power"]) == (2, 5)
        assert (fluo["channel count"], fluo["laser count"]) == (2, 2)
        assert fluo["channel 2 name"] == "700/75"
        assert fluo["sample rate"] == 1000000
        assert "M1_SoftwareSettings.ini" in ds.logs
        assert ds.logs["M1_para.ini"][0] == "[General]"
    ds = open_quiet(real_tdms(real_tdms_dirs, "fmt-tdms_fl_2015"))
    with ds:
        cfg = ds.config
        assert cfg["setup"]["module composition"] == "Cell_Flow_2, Fluor"
        assert cfg["setup"]["software version"] == "fRT-DC V0.80 150601"
        assert cfg["setup"]["identifier"] == "47 red angels"
        assert cfg["imaging"]["flash duration"] == 2
        fluo = cfg["fluorescence"]
        assert fluo["trace median"] == 21 and fluo["laser count"] == 1
        assert "laser 2 power" not in fluo  # laser561 0: unused
        assert sorted(ds.logs) == ["FG_Config.mcf", "M1_camera.ini", "M1_log.ini",
                                   "M1_para.ini", "parameters.txt"]


def test_real_start_time_from_file_time(real_tdms_dirs, tmp_path):
    """Without a start time in para.ini: file time minus the duration."""
    src = real_tdms(real_tdms_dirs, "fmt-tdms_fl_2015")
    folder = tmp_path / "HLC12398" / "online"
    shutil.copytree(src.parent, folder)
    path = folder / src.name
    stamp = 1445856000.0
    os.utime(path, (stamp, stamp))
    ds = open_quiet(path)
    with ds:
        start = time.localtime(stamp - ds["frame"][-1] / 1000.0)
        assert ds.config["experiment"]["date"] == time.strftime("%Y-%m-%d", start)
        assert ds.config["experiment"]["time"] == time.strftime("%H:%M:%S", start)
        assert ds.config["experiment"]["sample"] == "HLC12398"
        assert ds.title == "M1: HLC12398"
        cfg, sources = RTDC_TDMS.extract_tdms_config(path, ret_source_files=True)
    assert cfg == ds.config
    assert [p.name for p in sources] == ["M1_para.ini", "M1_camera.ini",
                                         "parameters.txt", "M1_log.ini"]


def test_real_inputs_unchanged_and_hash(real_tdms_dirs):
    path = real_tdms(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in path.parent.iterdir()}
    hashes = []
    for _ in range(2):
        ds = open_quiet(path)
        with ds:
            ds["image"][1], ds["contour"][3], ds["trace"]["fl1_raw"][2]  # noqa: B018
            hashes.append(ds.hash)
    assert hashes[0] == hashes[1] and len(hashes[0]) == 32
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in path.parent.iterdir()}
    assert after == before


def test_real_missing_optional_files(real_tdms_dirs, tmp_path):
    src = real_tdms(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    shutil.copytree(src.parent, tmp_path / "m")
    path = tmp_path / "m" / src.name
    (path.parent / "M1_imaq.avi").unlink()
    ds = open_quiet(path)
    with ds:
        assert "image" not in ds.features_innate
        assert ds["mask"].shape == (44, 96, 256)  # from the camera ROI
        assert int(ds["mask"][0].sum()) == 809
    (path.parent / "M1_contours.txt").unlink()
    (path.parent / (path.stem + "_traces.tdms")).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about any more
        ds = RTDC_TDMS(path)
    with ds:
        assert ds.features_innate == [
            "area_cvx", "area_msd", "circ", "fl1_area", "fl1_max", "fl1_pos",
            "fl1_width", "frame", "nevents", "pos_x", "pos_y", "size_x", "size_y"]
        assert "samples per event" not in ds.config["fluorescence"]


def test_real_frame_offset_from_para_ini(real_tdms_dirs, tmp_path):
    src = real_tdms(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    shutil.copytree(src.parent, tmp_path / "m")
    path = tmp_path / "m" / src.name
    ds1 = open_quiet(src)
    para = path.with_name("M1_para.ini")
    para.write_text(para.read_text().replace(
        "Current LED = 100", "Current LED = 100\nVideo Frame Offset = 0"))
    ds0 = open_quiet(path)
    with ds0, ds1:
        assert ds0.config["fmt_tdms"]["video frame offset"] == 0
        assert np.array_equal(ds0["image"][0], ds1["image"][1])
        assert np.array_equal(ds0["image"][1], ds1["image"][2])


# --------------------------------------------------------------- bad input
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="M1_data.tdms"):
        RTDC_TDMS(tmp_path / "M1_data.tdms")
    with pytest.raises(cytolab.errors.FileFormatError, match="not found"):
        cytolab.new_dataset(tmp_path / "M1_data.tdms")


def test_missing_para_ini(real_tdms_dirs, tmp_path):
    src = real_tdms(real_tdms_dirs, "fmt-tdms_minimal_2016")
    shutil.copytree(src.parent, tmp_path / "m")
    path = tmp_path / "m" / src.name
    path.with_name("M1_para.ini").unlink()
    with pytest.raises(IncompleteTDMSError, match="missing M1_para.ini") as exc:
        cytolab.new_dataset(path)
    assert str(path) in str(exc.value)
    path.with_name("M1_camera.ini").unlink()
    with pytest.raises(IncompleteTDMSError, match="M1_para.ini and M1_camera.ini"):
        RTDC_TDMS.extract_tdms_config(path)


def test_corrupt_tdms(tmp_path):
    path = make_measurement(tmp_path / "m", video=False, contours=False,
                            traces=False)
    data = path.read_bytes()
    path.write_bytes(b"TDSm" + b"\xff" * 40 + data[200:300])
    with pytest.raises(InvalidTDMSError, match="damaged") as exc, \
            pytest.warns(TruncatedTDMSWarning):
        cytolab.new_dataset(path)
    assert str(path) in str(exc.value)
    path.write_bytes(b"not a tdms file at all")
    with pytest.raises(cytolab.errors.FileFormatError):
        RTDC_TDMS(path)


def test_trace_file_is_no_measurement(tmp_path):
    path = make_measurement(tmp_path / "m", video=False, contours=False)
    traces = path.with_name(path.stem + "_traces.tdms")
    with pytest.raises(InvalidTDMSError, match="no 'Cell Track' group"):
        RTDC_TDMS(traces)


# ----------------------------------------------------------- synthetic data
WIDTH, HEIGHT, PIXEL = 128, 32, 0.5


def _disk(x: float, y: float, radius: int = 5) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    cv2.circle(mask, (int(x), int(y)), radius, 1, thickness=-1)
    return mask.astype(bool)


def make_measurement(folder: pathlib.Path, num: int = 6, video: bool = True,
                     frame_events: tuple[int, int] = (1, None),
                     contour_events: list[int] | None = None,
                     contours: bool = True, traces: bool = True,
                     samples: int = 10, para_extra: str = "",
                     columns: dict[str, np.ndarray] | None = None,
                     spe_steps: np.ndarray | None = None) -> pathlib.Path:
    """A small measurement M1 like Shape-In wrote it.

    Events sit at x = 20 + 15 i px (y = 16 px); the video holds the frames of
    the events ``frame_events[0]:frame_events[1]`` (a dark disk at the event);
    the contour file the entries of `contour_events` (default: all but the
    first); the traces are ``arange`` streams (FL1raw) and their double
    (FL1med) with `samples` per event.
    """
    folder.mkdir(parents=True, exist_ok=True)
    idx = np.arange(num)
    frame = 100 + 7 * idx
    x_px, y_px = 20 + 15 * idx, np.full(num, 16)
    table = {
        "time": frame.astype(np.float32),
        "x": (x_px * PIXEL).astype(np.float32),
        "y": (y_px * PIXEL).astype(np.float32),
        "ax1": np.full(num, 5.5, dtype=np.float32),
        "ax2": np.full(num, 5.5, dtype=np.float32),
        "circularity": np.linspace(0.9, 0.99, num).astype(np.float32),
        "area": np.full(num, 80.0, dtype=np.float32),
        "raw area": np.full(num, 78.5, dtype=np.float32),
        "index": (idx + 1).astype(np.float32),
        "FL1max": (100 * idx).astype(np.int16),
        "FL1index": (np.concatenate([[0], np.cumsum(spe_steps)]) if spe_steps
                     is not None else idx * samples).astype(np.int32),
        "userDef3": np.linspace(1, 2, num),
    }
    table.update(columns or {})
    path = folder / "M1_data.tdms"
    with nptdms.TdmsWriter(str(path)) as writer:
        writer.write_segment([nptdms.ChannelObject("Cell Track", name, data)
                              for name, data in table.items()])
    (folder / "M1_para.ini").write_text(
        "[General]\nSoftware Version = ShapeIn 2.0.1\nMeasurement Number = 1\n"
        "Sample Name = beads\nFlow Rate [ul/s] = 0.04\nRegion = \"Channel\"\n"
        "Channel width [um] = 20\nBuffer Medium = CellCarrier B\n"
        "Date [YYYY-MM-DD] = 2017-10-12\nStart Time [hh:mm:ss] = 12:54:31\n"
        f"{para_extra}\n[Image]\nPix Size = {PIXEL}\nSetup = Cell_Flow_2 + Fluor\n"
        "\n[FLUOR]\nSamplerate [sps] = 1000000\nLaser1 488 nm Power [%] = 7\n")
    (folder / "M1_camera.ini").write_text(
        "[Framerate]\nFrame Rate = 1000\nTap Mode = \"10x8 Bit\"\n\n[ROI]\n"
        f"x-pos = 10\ny-pos = 20\nwidth = {WIDTH}\nheight = {HEIGHT}\n")
    if video:
        first, stop = frame_events
        gen = imageio_ffmpeg.write_frames(
            str(folder / "M1_imaq.avi"), (WIDTH, HEIGHT), pix_fmt_in="gray",
            pix_fmt_out="gray", codec="rawvideo", fps=30, macro_block_size=1)
        gen.send(None)
        for event in idx[first:stop]:
            img = np.full((HEIGHT, WIDTH), 100 + event, dtype=np.uint8)
            img[_disk(x_px[event], y_px[event])] = 30
            gen.send(img.tobytes())
        gen.close()
    if contours:
        events = list(idx[1:]) if contour_events is None else contour_events
        lines = []
        for event in events:
            lines.append(f"Contour in frame {frame[event]} ")
            cont = get_contour(_disk(x_px[event], y_px[event]))
            lines += [f"( {x} , {y} )" for x, y in cont]
            lines.append("")
        (folder / "M1_data_contours.txt").write_text("\n".join(lines))
    if traces:
        total = num * samples if spe_steps is None else int(np.sum(spe_steps)) + 10
        stream = np.arange(total, dtype=np.int16)
        with nptdms.TdmsWriter(str(folder / "M1_data_traces.tdms")) as writer:
            writer.write_segment([
                nptdms.ChannelObject("fluorescence traces", "FL1raw", stream),
                nptdms.ChannelObject("fluorescence traces", "FL1med", 2 * stream),
                nptdms.ChannelObject("fluorescence traces", "FL2raw",
                                     np.zeros(0, dtype=np.int16))])
    return path


def test_synthetic_complete(tmp_path):
    path = make_measurement(tmp_path / "m", num=6)
    with pytest.warns(MissingFramesWarning, match="the first 1 event"), \
            pytest.warns(ContourMismatchWarning, match="1 of 6 events"):
        ds = RTDC_TDMS(path)
    with ds:
        assert len(ds) == 6
        assert ds["userdef3"][-1] == 2.0 and ds["index_online"].tolist() == \
            [1, 2, 3, 4, 5, 6]
        assert ds["fl1_max"].tolist() == [0, 100, 200, 300, 400, 500]
        assert ds.config["setup"]["module composition"] == "Cell_Flow_2, Fluor"
        assert ds.config["setup"]["medium"] == "CellCarrierB"
        assert ds.config["fluorescence"]["laser 1 lambda"] == 488
        assert ds.config["fluorescence"]["laser 1 power"] == 7
        # five frames for six events: the first frame of the six is missing,
        # the first frame shows event 1 (not event 0) -> offset 1
        assert ds.config["fmt_tdms"]["video frame offset"] == 1
        assert not ds["image"][0].any()
        for event in range(1, 6):
            disk = _disk(20 + 15 * event, 16)
            assert np.all(ds["image"][event][disk] == 30)
            assert np.all(ds["image"][event][~disk] == 100 + event)
            assert np.array_equal(ds["mask"][event], disk)
            assert np.array_equal(ds["contour"][event], get_contour(disk))
        assert ds["contour"][0].shape == (0, 2) and not ds["mask"][0].any()
        # random access backwards and forwards gives the same frames
        order = [5, 2, 4, 1, 3]
        assert [int(ds["image"][i][0, 0]) for i in order] == [105, 102, 104, 101,
                                                              103]
        raw, med = ds["trace"]["fl1_raw"], ds["trace"]["fl1_median"]
        assert sorted(ds["trace"]) == ["fl1_median", "fl1_raw"]
        assert raw.shape == (6, 10) and raw[3].tolist() == list(range(30, 40))
        assert np.array_equal(med[:], 2 * raw[:])
        assert ds.config["fluorescence"]["samples per event"] == 10


def test_synthetic_missing_last_frame(tmp_path):
    """All frames but the last: the first frame shows event 0 -> offset 0."""
    path = make_measurement(tmp_path / "m", num=6, frame_events=(0, 5),
                            contour_events=list(range(6)))
    with pytest.warns(MissingFramesWarning, match="the last 1 event"):
        ds = RTDC_TDMS(path)
    with ds:
        assert ds.config["fmt_tdms"]["video frame offset"] == 0
        assert int(ds["image"][0][0, 0]) == 100
        assert not ds["image"][5].any()


def test_synthetic_complete_video_and_contour_offset0(tmp_path):
    path = make_measurement(tmp_path / "m", num=5, frame_events=(0, None),
                            contour_events=[0, 1, 2, 3, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = RTDC_TDMS(path)
    with ds:
        assert ds.config["fmt_tdms"]["video frame offset"] == 0
        assert np.array_equal(ds["contour"][0], get_contour(_disk(20, 16)))


def test_synthetic_broken_video_left_out(tmp_path):
    path = make_measurement(tmp_path / "m", num=3, contours=False, traces=False)
    path.with_name("M1_imaq.avi").write_bytes(b"RIFFgarbage")
    with pytest.warns(BrokenVideoWarning, match="M1_imaq.avi"):
        ds = RTDC_TDMS(path)
    with ds:
        assert "image" not in ds and "fmt_tdms" not in ds.config


def test_synthetic_contour_search(tmp_path):
    """A missing entry: later events are found by frame number (+-2)."""
    path = make_measurement(tmp_path / "m", num=8, video=False, traces=False,
                            contour_events=[1, 2, 4, 5, 6, 7])
    with pytest.warns(ContourMismatchWarning, match="2 of 8 events"):
        ds = RTDC_TDMS(path)
    with ds:
        for event in (1, 2, 4, 5, 6, 7):
            assert np.array_equal(ds["contour"][event],
                                  get_contour(_disk(20 + 15 * event, 16)))
        assert len(ds["contour"][0]) == 0 and len(ds["contour"][3]) == 0
        assert ds["mask"].shape == (8, HEIGHT, WIDTH)  # shape from camera.ini


def test_match_entries_search_window():
    frames = np.array([10, 11, 12, 13, 14, 15])
    # entries for events 1, 2, 5 only (3 and 4 missing): event 5 is found
    # two entries away from where it would be expected
    assert match_entries(np.array([11, 12, 15]), frames).tolist() == \
        [-1, 0, 1, -1, -1, 2]
    # more than two entries away from the expected one: not found
    assert match_entries(np.array([11, 15]), frames).tolist() == \
        [-1, 0, -1, -1, -1, -1]
    assert match_entries(np.array([10, 20, 21, 22, 23]), frames).tolist() == \
        [0, -1, -1, -1, -1, -1]
    assert match_entries(np.array([]), frames).tolist() == [-1] * 6


def test_synthetic_variable_samples_discard_traces(tmp_path):
    path = make_measurement(tmp_path / "m", num=4, video=False, contours=False,
                            spe_steps=np.array([10, 12, 10]))
    with pytest.warns(TraceWarning, match="Ignoring the traces.*2 different"):
        ds = RTDC_TDMS(path)
    with ds:
        assert "trace" not in ds
        assert "samples per event" not in ds.config["fluorescence"]


def test_synthetic_truncated_table(tmp_path):
    path = make_measurement(tmp_path / "m", num=5, video=False, contours=False,
                            traces=False,
                            columns={"area": np.full(4, 80.0, dtype=np.float32),
                                     "FL2max": np.zeros(0, dtype=np.int16)})
    with pytest.warns(TruncatedTDMSWarning, match="using the first 4 events"):
        ds = RTDC_TDMS(path)
    with ds:
        assert len(ds) == 4 and ds["frame"].tolist() == [100, 107, 114, 121]
        assert "fl2_max" not in ds  # empty column: channel not recorded


def test_synthetic_unknown_column_and_key(tmp_path):
    path = make_measurement(tmp_path / "m", num=3, video=False, contours=False,
                            traces=False, para_extra="Magic Knob = 3",
                            columns={"Mystery": np.ones(3, dtype=np.float32)})
    with pytest.warns(UnknownConfigurationKeyWarning, match="Magic Knob"), \
            pytest.warns(cytolab.errors.UnknownFeatureWarning, match="Mystery"):
        ds = RTDC_TDMS(path)
    ds.close()


def test_synthetic_overflowed_inertia_hidden(tmp_path):
    """Shape-In < 2.0.5 inertia ratios are checked against the contours."""
    path = make_measurement(tmp_path / "m", num=4, video=False, traces=False,
                            contour_events=[0, 1, 2, 3],
                            columns={"InertiaRatio": np.full(4, 7.0, np.float32),
                                     "InertiaRatioRaw": np.ones(4, np.float32)})
    with pytest.warns(BadFeatureSizeWarning, match="inert_ratio_cvx"):
        ds = RTDC_TDMS(path)
    with ds:
        assert "inert_ratio_cvx" not in ds.features_innate
        assert "inert_ratio_raw" in ds.features_innate  # disks: ratio 1
        assert np.allclose(ds["inert_ratio_cvx"], 1, atol=0.05)  # recomputed


# ------------------------------------------------------------- path helpers
def test_project_name_from_path(tmp_path):
    assert get_project_name_from_path("/a/HLC12398/online/M1_13.tdms") == "HLC12398"
    assert get_project_name_from_path("/a/HLC12398/online/data/M1_13.tdms") \
        == "HLC12398"
    assert get_project_name_from_path("/a/HLC12398/Offline/M2_x.tdms",
                                      append_mx=True) == "HLC12398_M2"
    assert get_project_name_from_path("/a/project/M3_1.tdms") == "project"
    (tmp_path / "P1" / "online").mkdir(parents=True)
    assert get_project_name_from_path(tmp_path / "P1" / "online") == "P1"


def test_get_tdms_files(tmp_path):
    for name in ["z/online/M1_data.tdms", "a/M2_x.tdms", "a/M2_x_traces.tdms",
                 "a/M2_x.tdms_index", "b/notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert get_tdms_files(tmp_path) == [(tmp_path / "a/M2_x.tdms").resolve(),
                                        (tmp_path / "z/online/M1_data.tdms").resolve()]
    assert get_tdms_files(tmp_path / "b") == []
