"""Tests of cytolab.plot: figures are saved as PNG and their content checked."""
from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from realdata import real_file  # noqa: E402

import cytolab  # noqa: E402
from cytolab import dfn  # noqa: E402
from cytolab.errors import CytolabWarning  # noqa: E402
from cytolab.features.emodulus.datafiles import DataFileUnavailableError  # noqa: E402
from cytolab.plot import (  # noqa: E402
    IsoelasticsUnavailableWarning,
    _mpl,
    event,
    overview,
    scatter,
    traces,
)
from cytolab.plot.overview import choose_event  # noqa: E402
from cytolab.plot.scatter import percentile_label  # noqa: E402
from cytolab.rtdc import PolygonFilter, RTDCWriter  # noqa: E402
from cytolab.simulate import simulate_rtdc  # noqa: E402

# fluorescence test file written with RTDCWriter
FL_EVENTS = 6
FL_SAMPLES = 100
FL_RATE = 250_000  # 4 µs per sample


# ------------------------------------------------------------------ helpers
def save_png(fig, path, dpi=40):
    """Save `fig`, read it back and check the pixel size (figsize x dpi)."""
    fig.savefig(path, dpi=dpi)
    img = mpimg.imread(path)
    width, height = np.round(fig.get_size_inches() * dpi).astype(int)
    assert img.shape[:2] == (height, width)
    assert img.shape[2] in (3, 4)
    assert np.ptp(img[..., :3]) > 0  # not blank
    return img


def by_gid(items, gid):
    return [item for item in items if item.get_gid() == gid]


def lines_with_gid(ax, gid):
    return by_gid(ax.lines, gid)


def events_collection(ax):
    (coll,) = by_gid(ax.collections, "events")
    return coll


def contour_sets(ax):
    return [c for c in ax.collections if isinstance(c, ContourSet)]


def make_scalar_dataset(num=3000, seed=1, gate=True):
    rng = np.random.default_rng(seed)
    ds = cytolab.new_dataset({"area_um": rng.lognormal(4, 0.3, num),
                              "deform": rng.gamma(4, 0.006, num),
                              "bright_avg": rng.normal(100, 5, num)})
    if gate:
        ds.config["filtering"]["deform min"] = 0.0
        ds.config["filtering"]["deform max"] = 0.04
        ds.apply_filter()
    return ds


def write_fl_file(path, images=True):
    """Small file with fluorescence traces (and images), via RTDCWriter."""
    rng = np.random.default_rng(5)
    n, s = FL_EVENTS, FL_SAMPLES
    time_us = np.arange(s) / FL_RATE * 1e6
    pos = rng.uniform(150, 250, (3, n))
    width = rng.uniform(15, 30, (3, n))
    trace = {}
    for ch in range(3):
        sigma = width[ch][:, None] / 2
        pulse = 1000 * (ch + 1) * np.exp(
            -0.5 * ((time_us[None, :] - pos[ch][:, None]) / sigma) ** 2)
        raw = pulse + rng.normal(0, 20, (n, s))
        trace[f"fl{ch + 1}_raw"] = raw.astype(np.int16)
        trace[f"fl{ch + 1}_median"] = pulse.astype(np.int16)
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata({
            "experiment": {"sample": "fl test", "run index": 1,
                           "date": "2025-01-01", "time": "10:00:00"},
            "imaging": {"pixel size": 0.5, "frame rate": 2000,
                        "flash duration": 2},
            "setup": {"channel width": 20, "chip region": "channel",
                      "flow rate": 0.04, "medium": "CellCarrier",
                      "software version": "test"},
            "fluorescence": {"sample rate": FL_RATE, "samples per event": s,
                             "channel 1 name": "525/50",
                             "channel 2 name": "593/46",
                             "channel 3 name": "700/75"},
        })
        hw.store_feature("area_um", rng.uniform(40, 80, n))
        hw.store_feature("deform", rng.uniform(0.01, 0.03, n))
        for ch in range(3):
            hw.store_feature(f"fl{ch + 1}_pos", pos[ch])
            hw.store_feature(f"fl{ch + 1}_width", width[ch])
        hw.store_feature("trace", trace)
        if images:
            yy, xx = np.mgrid[:30, :60]
            masks = np.stack([(xx - 20 - 3 * i) ** 2 + (yy - 15) ** 2 < 36
                              for i in range(n)])
            imgs = np.where(masks, 60, 120).astype(np.uint8)
            imgs += rng.integers(0, 10, imgs.shape, dtype=np.uint8)
            hw.store_feature("image", imgs)
            hw.store_feature("mask", masks)
    return path


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    return simulate_rtdc(tmp_path_factory.mktemp("sim") / "m.rtdc",
                         num_events=60, images=True, seed=7)


@pytest.fixture
def image_ds(image_path):
    with cytolab.new_dataset(image_path) as ds:
        yield ds


@pytest.fixture(scope="module")
def fl_path(tmp_path_factory):
    return write_fl_file(tmp_path_factory.mktemp("fl") / "fl.rtdc")


@pytest.fixture
def fl_ds(fl_path):
    with cytolab.new_dataset(fl_path) as ds:
        yield ds


@pytest.fixture
def polygon():
    pf = PolygonFilter(axes=("area_um", "deform"),
                       points=[[40, 0.01], [80, 0.01], [80, 0.03], [40, 0.03]],
                       name="test gate")
    yield pf
    PolygonFilter.remove(pf.unique_id)


# ------------------------------------------------------------ matplotlib use
def test_import_cytolab_does_not_import_matplotlib():
    code = ("import sys, cytolab, cytolab.plot; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_tells_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    mpl_mod = importlib.reload(_mpl)
    with pytest.raises(ImportError, match=r'pip install "cytolab\[plot\]"'):
        mpl_mod.import_pyplot()
    ds = make_scalar_dataset(100, gate=False)
    for call in (lambda: scatter(ds), lambda: traces(ds, 0),
                 lambda: event(ds, 0), lambda: overview(ds)):
        with pytest.raises(ImportError, match=r"cytolab\[plot\]"):
            call()


# ------------------------------------------------------------------ scatter
def test_scatter_points_colours_and_png(tmp_path):
    ds = make_scalar_dataset()
    fig = scatter(ds, downsample=500, kde_type="gauss")
    save_png(fig, tmp_path / "scatter.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == dfn.get_feature_label("area_um") == "Area [µm²]"
    assert ax.get_ylabel() == dfn.get_feature_label("deform")
    # the downsampled filtered events, coloured by their density
    x, y = ds.get_downsampled_scatter("area_um", "deform", downsample=500,
                                      remove_invalid=True)
    kde = ds.get_kde_scatter("area_um", "deform", positions=(x, y),
                             kde_type="gauss")
    coll = events_collection(ax)
    offsets = np.asarray(coll.get_offsets())
    assert offsets.shape == (500, 2)
    order = np.argsort(kde, kind="stable")
    assert np.array_equal(offsets, np.column_stack([x[order], y[order]]))
    colours = np.asarray(coll.get_array())
    assert np.allclose(colours, kde[order])
    assert np.all(np.diff(colours) >= 0)  # densest drawn last
    # colour bar and title
    assert len(fig.axes) == 2
    assert fig.axes[1].get_ylabel() == "kernel density [a.u.]"
    total = int(ds.filter.all.sum())
    assert ax.get_title() == f"{ds.title} (500 of {total} events)"


def test_scatter_excluded_events():
    ds = make_scalar_dataset()
    removed = int((~ds.filter.all).sum())
    assert 0 < removed < 5000
    fig = scatter(ds)
    ax = fig.axes[0]
    (excluded,) = by_gid(ax.collections, "excluded")
    assert len(excluded.get_offsets()) == removed
    assert np.allclose(excluded.get_facecolor()[0][:3], 0.827, atol=0.01)
    # drawn first, behind the filtered events
    assert ax.collections.index(excluded) < ax.collections.index(
        events_collection(ax))
    assert len(events_collection(ax).get_offsets()) == len(ds) - removed
    # downsampled when there are many
    fig = scatter(ds, downsample=100)
    (excluded,) = by_gid(fig.axes[0].collections, "excluded")
    assert len(excluded.get_offsets()) == 100
    fig = scatter(ds, show_excluded=False)
    assert not by_gid(fig.axes[0].collections, "excluded")


def test_scatter_log_axes(tmp_path):
    ds = make_scalar_dataset(gate=False)
    deform = np.array(ds["deform"])
    deform[:10] = 0  # not shown on a log axis
    ds = cytolab.new_dataset({"area_um": ds["area_um"], "deform": deform})
    fig = scatter(ds, xscale="log", yscale="log", downsample=0,
                  contours=(0.5,))
    save_png(fig, tmp_path / "log.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(events_collection(ax).get_offsets()) == len(ds) - 10
    assert np.allclose(events_collection(ax).get_array(), np.sort(
        ds.get_kde_scatter(positions=(ds["area_um"][10:], deform[10:]),
                           xscale="log", yscale="log")))
    assert len(contour_sets(ax)) == 1
    fig = scatter(ds, xscale="log")
    assert fig.axes[0].get_xscale() == "log"
    assert fig.axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match="xscale"):
        scatter(ds, xscale="symlog")


def test_scatter_bad_arguments_open_no_figure():
    ds = make_scalar_dataset(100)
    before = plt.get_fignums()
    with pytest.raises(ValueError, match="kde_type"):
        scatter(ds, kde_type="kde")
    with pytest.raises(ValueError, match="no feature 'volume'"):
        scatter(ds, "volume")
    with pytest.raises(ValueError, match="'image' is not a scalar feature"):
        overview(ds, xax="image")
    assert plt.get_fignums() == before


def test_scatter_without_density():
    ds = make_scalar_dataset()
    fig = scatter(ds, kde_type="none", downsample=300)
    assert len(fig.axes) == 1  # no colour bar
    coll = events_collection(fig.axes[0])
    assert coll.get_array() is None
    assert len(coll.get_offsets()) == 300
    fig = scatter(ds, colorbar=False)
    assert len(fig.axes) == 1


def test_scatter_into_existing_axes():
    ds = make_scalar_dataset(500)
    fig0, (ax1, ax2) = plt.subplots(1, 2)
    fig = scatter(ds, "deform", "area_um", ax=ax2, colorbar=False)
    assert fig is fig0
    assert not ax1.collections
    assert ax2.get_xlabel() == dfn.get_feature_label("deform")
    # a subfigure: the top-level figure is returned
    sub = plt.figure().subfigures(1, 2)[1]
    fig = scatter(ds, ax=sub.subplots())
    assert fig is sub.figure


@pytest.mark.parametrize("kde_type", ["histogram", "gauss"])
def test_scatter_contours(tmp_path, kde_type):
    ds = make_scalar_dataset()
    fig = scatter(ds, kde_type=kde_type, contours=(0.5, 0.95))
    save_png(fig, tmp_path / "contours.png", dpi=60)
    ax = fig.axes[0]
    (cs,) = contour_sets(ax)
    X, Y, Z = ds.get_kde_contour(kde_type=kde_type)
    xp, yp = ds["area_um"][ds.filter.all], ds["deform"][ds.filter.all]
    expected = cytolab.kde_contours.get_quantile_levels(
        Z, X, Y, xp, yp, q=[0.5, 0.95], normalize=False)
    assert np.allclose(cs.levels, np.sort(expected))
    assert expected[1] > expected[0]
    for segs in cs.allsegs:  # a line for every quantile
        assert segs and max(len(seg) for seg in segs) > 3
    labels = {t.get_text() for t in by_gid(ax.texts, "contour label")}
    assert labels == {"50th", "95th"}


def test_scatter_contour_duplicates_and_undefined_levels_are_skipped():
    ds = make_scalar_dataset()
    with pytest.warns(CytolabWarning, match="same level"):
        fig = scatter(ds, contours=(0.5, 0.5, 0.9))
    (cs,) = contour_sets(fig.axes[0])
    assert len(cs.levels) == 2
    assert np.all(np.diff(cs.levels) > 0)
    # constant density: no level inside its range, no contour (but a plot)
    with pytest.warns(CytolabWarning, match="skipped") as record:
        fig = scatter(ds, kde_type="none", contours=(0.5,))
    assert record[0].filename == __file__  # points at the caller
    assert not contour_sets(fig.axes[0])
    assert len(events_collection(fig.axes[0]).get_offsets()) > 0
    # no events pass the filter: an empty plot, no contours
    ds.config["filtering"]["deform min"] = 1.0
    ds.config["filtering"]["deform max"] = 2.0
    ds.apply_filter()
    with pytest.warns(CytolabWarning, match="no valid filtered events"):
        fig = scatter(ds, contours=(0.5,))
    assert len(events_collection(fig.axes[0]).get_offsets()) == 0
    assert fig.axes[0].get_title() == f"{ds.title} (0 events)"


def test_percentile_label():
    assert [percentile_label(q) for q in (0.5, 0.95, 0.01, 0.02, 0.03, 0.11,
                                          0.995)] == \
        ["50th", "95th", "1st", "2nd", "3rd", "11th", "99.5th"]


def test_scatter_polygon_filters(polygon):
    ds = make_scalar_dataset(gate=False)
    ds.polygon_filter_add(polygon)
    ds.apply_filter()
    fig = scatter(ds)
    ax = fig.axes[0]
    (line,) = lines_with_gid(ax, f"polygon filter {polygon.unique_id}")
    xy = np.asarray(line.get_xydata())
    assert np.allclose(xy[:-1], polygon.points)
    assert np.allclose(xy[-1], xy[0])  # closed
    assert line.get_label() == "test gate"
    # swapped axes: drawn swapped
    fig = scatter(ds, "deform", "area_um")
    (line,) = lines_with_gid(fig.axes[0], f"polygon filter {polygon.unique_id}")
    assert np.allclose(np.asarray(line.get_xydata())[:-1], polygon.points[:, ::-1])
    # other axes: not drawn; False: none
    fig = scatter(ds, "area_um", "bright_avg")
    assert not fig.axes[0].lines
    fig = scatter(ds, polygon_filters=False)
    assert not fig.axes[0].lines


def test_scatter_polygon_list_and_limits(polygon):
    ds = make_scalar_dataset(gate=False)
    far = PolygonFilter(axes=("area_um", "deform"),
                        points=[[1000, 1], [2000, 1], [2000, 2]], inverted=True)
    try:
        ref = scatter(ds, polygon_filters=False).axes[0]
        ax = scatter(ds, polygon_filters=[polygon, far]).axes[0]
        assert len(ax.lines) == 2  # not registered with the dataset: drawn
        (far_line,) = lines_with_gid(ax, f"polygon filter {far.unique_id}")
        assert far_line.get_linestyle() == "--"  # inverted
        # outlines do not change the view: the data do
        assert ax.get_xlim() == ref.get_xlim()
        assert ax.get_ylim() == ref.get_ylim()
    finally:
        PolygonFilter.remove(far.unique_id)


def test_scatter_isoelastics_callable_and_list():
    ds = make_scalar_dataset()
    calls = []
    lines = [np.array([[20.0, 0.0, 1.0], [200.0, 0.5, 1.0]]),
             np.array([[30.0, 0.01, 2.0], [40.0, 0.02, 2.0], [60.0, 0.05, 2.0]])]

    def make_lines(dataset, xax, yax):
        calls.append((dataset, xax, yax))
        return lines

    ref = scatter(ds, isoelastics=False).axes[0]
    fig = scatter(ds, isoelastics=make_lines)
    assert calls == [(ds, "area_um", "deform")]
    ax = fig.axes[0]
    drawn = lines_with_gid(ax, "isoelastic")
    assert len(drawn) == 2
    for line, expected in zip(drawn, lines):
        assert np.allclose(line.get_xydata(), expected[:, :2])
        assert line.get_zorder() < events_collection(ax).get_zorder()
    assert ax.get_xlim() == ref.get_xlim()  # the lines do not zoom out
    fig = scatter(ds, isoelastics=[line[:, :2] for line in lines])
    assert len(lines_with_gid(fig.axes[0], "isoelastic")) == 2
    with pytest.raises(ValueError, match="Isoelastic line 0"):
        scatter(ds, isoelastics=[np.arange(5.0)])


def test_scatter_isoelastics_warn_without_metadata(emodulus_data, tmp_path):
    ds = make_scalar_dataset()  # no channel width, no flow rate
    with pytest.warns(IsoelasticsUnavailableWarning,
                      match="channel width") as record:
        fig = scatter(ds, isoelastics=True)
    assert record[0].filename == __file__
    assert issubclass(IsoelasticsUnavailableWarning, CytolabWarning)
    assert issubclass(IsoelasticsUnavailableWarning, UserWarning)
    ax = fig.axes[0]
    assert not lines_with_gid(ax, "isoelastic")
    assert len(events_collection(ax).get_offsets()) == ds.filter.all.sum()
    save_png(fig, tmp_path / "noiso.png")
    # axes without lines
    ds.config["setup"]["channel width"] = 20.0
    ds.config["setup"]["flow rate"] = 0.04
    with pytest.warns(IsoelasticsUnavailableWarning, match="area_um"):
        fig = scatter(ds, "area_um", "area_um", isoelastics=True)


def test_scatter_isoelastics_warn_without_data_files(monkeypatch):
    def unavailable():
        raise DataFileUnavailableError("The data file 'iso.txt' is not in "
                                       "the cache folder")

    monkeypatch.setattr(cytolab.isoelastics, "get_default", unavailable)
    ds = make_scalar_dataset(500)
    with pytest.warns(IsoelasticsUnavailableWarning, match="not in the cache"):
        fig = scatter(ds, isoelastics=True)
    assert not lines_with_gid(fig.axes[0], "isoelastic")


def test_scatter_isoelastics_default_lines(emodulus_data, image_ds, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", IsoelasticsUnavailableWarning)
        fig = scatter(image_ds, isoelastics=True)
    save_png(fig, tmp_path / "iso.png")
    drawn = lines_with_gid(fig.axes[0], "isoelastic")
    expected = cytolab.isoelastics.get_default().get_with_rtdcbase(
        "area_um", "deform", image_ds, lut_identifier="LE-2D-FEM-19",
        viscosity=False)
    assert len(drawn) == len(expected) > 3
    for line, exp in zip(drawn, expected):
        assert np.allclose(line.get_xydata(), exp[:, :2])
    # the LUT of the dataset is used when set
    image_ds.config["calculation"]["emodulus lut"] = "HE-3D-FEM-22"
    fig = scatter(image_ds, isoelastics=True)
    drawn = lines_with_gid(fig.axes[0], "isoelastic")
    expected = cytolab.isoelastics.get_default().get_with_rtdcbase(
        "area_um", "deform", image_ds, lut_identifier="HE-3D-FEM-22",
        viscosity=False)
    assert len(drawn) == len(expected)
    assert np.allclose(drawn[0].get_xydata(), expected[0][:, :2])


# -------------------------------------------------------------------- event
def test_event_image_contour_and_mask(image_ds, tmp_path):
    index = 4
    fig = event(image_ds, index)
    save_png(fig, tmp_path / "event.png", dpi=50)
    assert tuple(fig.get_size_inches()) == (6.4, 4.8)
    ax_img, ax_mask = fig.axes
    image = np.asarray(image_ds["image"][index])
    assert np.array_equal(ax_img.images[0].get_array(), image)
    (contour,) = lines_with_gid(ax_img, "contour")
    cont = np.asarray(image_ds["contour"][index])
    assert np.allclose(contour.get_xydata()[:-1], cont)
    assert contour.get_color() == "red"
    assert ax_img.get_xlabel() == "Detector X [px]"
    assert ax_img.get_ylabel() == "Detector Y [px]"
    # the mask on a µm scale
    height, width = image.shape
    psize = image_ds.config["imaging"]["pixel size"]
    assert np.array_equal(ax_mask.images[0].get_array(),
                          np.asarray(image_ds["mask"][index]).astype(np.uint8))
    assert np.allclose(ax_mask.images[0].get_extent(),
                       [0, width * psize, 0, height * psize])
    assert ax_mask.get_xlabel() == "Detector X [µm]"
    assert ax_mask.get_ylabel() == "Detector Y [µm]"
    # negative index
    fig = event(image_ds, -1)
    assert np.array_equal(fig.axes[0].images[0].get_array(),
                          image_ds["image"][len(image_ds) - 1])


def test_event_into_subfigure(image_ds):
    root = plt.figure(figsize=(8, 4))
    left, right = root.subfigures(1, 2)
    fig = event(image_ds, 0, fig=right)
    assert fig is root
    assert len(right.axes) == 2 and not left.axes


def test_event_mask_only(tmp_path):
    masks = np.zeros((3, 20, 40), dtype=bool)
    masks[:, 5:12, 10:20] = True
    ds = cytolab.new_dataset({"area_um": [1.0, 2, 3], "deform": [.1, .2, .3],
                              "mask": masks})
    ds.config["imaging"]["pixel size"] = 0.25
    fig = event(ds, 1)
    save_png(fig, tmp_path / "mask.png")
    assert fig.axes[0].get_title() == "Event mask with contour"
    assert np.array_equal(fig.axes[0].images[0].get_array(), masks[1])
    assert np.allclose(fig.axes[1].images[0].get_extent(), [0, 10, 0, 5])
    # without pixel size: only the pixel panel
    del ds.config["imaging"]["pixel size"]
    assert len(event(ds, 1).axes) == 1


def test_event_errors(image_ds):
    n = len(image_ds)
    for bad in (n, -n - 1, 10**6):
        with pytest.raises(IndexError, match=f"{bad} is out of range"):
            event(image_ds, bad)
    with pytest.raises(TypeError, match="integer"):
        event(image_ds, 1.5)
    ds = make_scalar_dataset(50)
    with pytest.raises(ValueError, match="neither 'image' nor 'mask'") as err:
        event(ds, 0)
    assert ds.title in str(err.value)


# ------------------------------------------------------------------- traces
def test_traces_written_file(fl_ds, tmp_path):
    index = 2
    fig = traces(fl_ds, index)
    save_png(fig, tmp_path / "traces.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Time [µs]"
    assert ax.get_ylabel() == "Fluorescence [a.u.]"
    time_us = np.arange(FL_SAMPLES) / FL_RATE * 1e6
    for ch, colour in ((1, "#15BF00"), (2, "#BF8A00"), (3, "#BF0C00")):
        (line,) = lines_with_gid(ax, f"fl{ch}_median")
        assert np.allclose(line.get_xdata(), time_us)
        assert np.allclose(line.get_ydata(), fl_ds["trace"][f"fl{ch}_median"][index])
        assert line.get_color() == colour
        pos = fl_ds[f"fl{ch}_pos"][index]
        width = fl_ds[f"fl{ch}_width"][index]
        (pos_line,) = lines_with_gid(ax, f"fl{ch}_pos")
        assert np.allclose(pos_line.get_xdata(), [pos, pos])
        (span,) = by_gid(ax.patches, f"fl{ch}_width")
        if hasattr(span, "get_width"):  # a Rectangle (matplotlib >= 3.9)
            xs = np.array([span.get_x(), span.get_x() + span.get_width()])
        else:  # a Polygon
            xs = np.asarray(span.get_xy())[:, 0]
        assert np.isclose(xs.min(), pos - width / 2)
        assert np.isclose(xs.max(), pos + width / 2)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["FL1 (525/50)", "FL2 (593/46)", "FL3 (700/75)"]
    assert not lines_with_gid(ax, "fl1_raw")


def test_traces_kinds_and_channels(fl_ds):
    ax = traces(fl_ds, 0, kind="raw").axes[0]
    assert len(lines_with_gid(ax, "fl1_raw")) == 1
    assert not lines_with_gid(ax, "fl1_median")
    ax = traces(fl_ds, 0, kind="both").axes[0]
    curves = [ln for ln in ax.lines if ln.get_gid().endswith(("_raw", "_median"))]
    assert len(curves) == 6
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "FL1 (525/50) raw" in legend
    ax = traces(fl_ds, 0, channels=["fl2", 3]).axes[0]
    assert {ln.get_gid() for ln in ax.lines} == {"fl2_median", "fl3_median",
                                                 "fl2_pos", "fl3_pos"}
    fig, ax0 = plt.subplots()
    assert traces(fl_ds, 1, ax=ax0) is fig
    with pytest.raises(ValueError, match="kind"):
        traces(fl_ds, 0, kind="mean")
    with pytest.raises(ValueError, match=r"channel\(s\) \[4\]"):
        traces(fl_ds, 0, channels=[4])


def test_traces_errors(fl_ds, image_ds):
    with pytest.raises(IndexError, match="out of range"):
        traces(fl_ds, FL_EVENTS)
    with pytest.raises(ValueError, match="no fluorescence traces") as err:
        traces(image_ds, 0)
    assert str(image_ds) in str(err.value)


def test_traces_real_file(real_rtdc_files, tmp_path):
    path = real_file(real_rtdc_files, "example_traces")
    with cytolab.new_dataset(path) as ds:
        fig = traces(ds, 3, kind="both")
        save_png(fig, tmp_path / "real_traces.png")
        ax = fig.axes[0]
        samples = ds.config["fluorescence"]["samples per event"]
        rate = ds.config["fluorescence"]["sample rate"]
        (line,) = lines_with_gid(ax, "fl1_raw")
        assert np.isclose(line.get_xdata()[-1], (samples - 1) / rate * 1e6)
        assert np.array_equal(line.get_ydata(), ds["trace"]["fl1_raw"][3])
        (pos_line,) = lines_with_gid(ax, "fl1_pos")
        assert np.isclose(pos_line.get_xdata()[0], ds["fl1_pos"][3])


# ----------------------------------------------------------------- overview
def test_overview_with_images_and_traces(fl_ds, tmp_path):
    fig = overview(fl_ds, index=1)
    save_png(fig, tmp_path / "overview.png")
    # plain scatter, density scatter + colour bar, image, mask, traces
    assert len(fig.axes) == 6
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["Scatter plot", "Density scatter plot"]
    assert "Event image with contour" in titles
    assert "Event mask with µm scale" in titles
    assert "Fluorescence traces, event 1" in titles
    for ax in fig.axes[:2]:
        (marker,) = lines_with_gid(ax, "chosen event")
        assert np.allclose(marker.get_xydata(),
                           [[fl_ds["area_um"][1], fl_ds["deform"][1]]])


def test_overview_images_without_traces(image_ds, tmp_path):
    fig = overview(image_ds, kde_type="gauss")
    save_png(fig, tmp_path / "overview_img.png")
    assert len(fig.axes) == 5
    index = choose_event(image_ds)
    assert fig._suptitle.get_text().endswith(f"event {index}")
    img_ax = [ax for ax in fig.axes if ax.get_title() == "Event image with contour"]
    assert np.array_equal(img_ax[0].images[0].get_array(), image_ds["image"][index])


def test_overview_traces_without_images(tmp_path):
    path = write_fl_file(tmp_path / "noimg.rtdc", images=False)
    with cytolab.new_dataset(path) as ds:
        fig = overview(ds)
        save_png(fig, tmp_path / "overview_tr.png")
        assert len(fig.axes) == 4  # two scatters, colour bar, traces


def test_overview_scalar_only(tmp_path):
    ds = make_scalar_dataset(800)
    fig = overview(ds, xax="area_um", yax="deform")
    save_png(fig, tmp_path / "overview_scalar.png")
    assert len(fig.axes) == 3
    assert not lines_with_gid(fig.axes[0], "chosen event")
    with pytest.raises(IndexError):
        overview(ds, index=800)


def test_overview_into_given_figure(image_ds):
    given = plt.figure(figsize=(7, 6))
    assert overview(image_ds, index=0, fig=given) is given
    assert len(given.axes) == 5


def test_overview_real_traces(real_rtdc_files):
    path = real_file(real_rtdc_files, "example_traces")
    with cytolab.new_dataset(path) as ds:
        fig = overview(ds)
        assert len(fig.axes) == 4


def test_choose_event_nearest_median():
    ds = cytolab.new_dataset({"area_um": [10.0, 50, 20, 30, 90, 31],
                              "deform": [.01, .02, .012, .015, .1, np.nan]})
    assert choose_event(ds) == 3
    ds.filter.manual[3] = False
    ds.apply_filter()
    assert choose_event(ds) in (1, 2)


def test_choose_event_skips_blank_images():
    images = np.full((5, 10, 20), 100, dtype=np.uint8)
    images[[1, 2, 4]] += np.arange(20, dtype=np.uint8)  # event 3 is blank
    ds = cytolab.new_dataset({"area_um": [10.0, 50, 20, 30, 90],
                              "deform": [.01, .02, .012, .015, .1],
                              "image": images})
    assert choose_event(ds) == 2


def test_traces_without_sample_rate():
    ds = cytolab.new_dataset({"deform": np.ones(3),
                              "trace": {"fl1_raw": np.arange(30).reshape(3, 10)}})
    ax = traces(ds, 1, kind="raw").axes[0]
    assert ax.get_xlabel() == "Sample"
    assert np.array_equal(ax.lines[0].get_xdata(), np.arange(10))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["FL1"]
    with pytest.raises(ValueError, match="'median' traces"):
        traces(ds, 1)
