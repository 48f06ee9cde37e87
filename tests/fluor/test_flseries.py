"""FLSeries: layout, access, metadata override, bleach correction, denoising."""
import multiprocessing

import h5py
import numpy as np
import pytest

from cytolab.errors import FileFormatError
from cytolab.fluor import FLImage, FLSeries, MissingTimeWarning, ReadOnlyError
from cytolab.fluor.bleach import BleachFitError, border_mask, fit_bleaching
from cytolab.fluor.denoise import denoise_image, estimate_noise
from cytolab.simulate.fluorescence import simulate_fluorescence_series


def make_series(truth, h5file=None, h5mode="a"):
    images = [FLImage(img, meta_data={"time": t, "pixel size": truth.pixel_size,
                                      "identifier": f"img{i}"})
              for i, (img, t) in enumerate(zip(truth.images, truth.times))]
    return FLSeries(images, h5file=h5file, h5mode=h5mode)


@pytest.fixture(scope="module")
def truth():
    return simulate_fluorescence_series(40, (128, 128), tau=30.0, amplitude=500.0,
                                        offset=120.0, background=100.0, noise=8.0,
                                        seed=3)


def test_layout_no_zero_padding(tmp_path):
    path = tmp_path / "s.h5"
    images = [FLImage(np.full((6, 7), float(i))) for i in range(12)]
    with FLSeries(images, h5file=path, h5mode="w", identifier="series A"):
        pass
    with h5py.File(path, "r") as h5:
        assert set(h5) == {f"fli_{i}" for i in range(12)}
        assert h5.attrs["identifier"] == "series A"
        assert h5["fli_11/fluorescence/raw"][0, 0] == 11
        assert h5["fli_3/fluorescence/raw"].compression == "gzip"
    with FLSeries(h5file=path, h5mode="r") as fls:
        assert len(fls) == 12 and fls.identifier == "series A"
        assert [fli.raw_fl[0, 0] for fli in fls] == list(range(12))


def test_access_by_index_and_identifier():
    fls = FLSeries()
    for i in range(3):
        fls.add_flimage(FLImage(np.full((4, 4), float(i)),
                                meta_data={"identifier": f"own{i}"}),
                        identifier=None if i else "override")
    assert fls["override"].raw_fl[0, 0] == 0
    assert fls.get_flimage("own2").raw_fl[0, 0] == 2
    assert fls[-1].raw_fl[0, 0] == 2 and fls[np.int64(1)].raw_fl[0, 0] == 1
    with pytest.raises(IndexError, match="index 3 is out of range.*3 images"):
        fls[3]
    with pytest.raises(IndexError, match="out of range"):
        fls[-4]
    with pytest.raises(KeyError, match="'own0'"):
        fls["own0"]  # overridden on adding
    with pytest.raises(TypeError, match="not float"):
        fls[1.0]
    with pytest.raises(ValueError, match="already has an image with identifier"):
        fls.add_flimage(FLImage(np.zeros((4, 4))), identifier="own1")
    assert len(fls) == 3
    with pytest.raises(TypeError, match="expects an FLImage"):
        fls.add_flimage(np.zeros((4, 4)))


def test_background_kept_in_series(tmp_path):
    fli = FLImage(np.full((5, 5), 9.0))
    fli.set_bg_data(np.full((5, 5), 2.0))
    with FLSeries([fli], h5file=tmp_path / "s.h5") as fls:
        np.testing.assert_array_equal(fls[0].fl, 7.0)
        np.testing.assert_array_equal(fls[0].bg_fl, 2.0)


def test_meta_data_override(tmp_path):
    path = tmp_path / "s.h5"
    images = [FLImage(np.zeros((4, 4)), meta_data={"time": float(i),
                                                  "pixel size": 1e-7})
              for i in range(3)]
    with FLSeries(images, meta_data={"pixel size": 2e-7}, h5file=path) as fls:
        assert [f["pixel size"] for f in fls] == [2e-7] * 3
        assert [f["time"] for f in fls] == [0.0, 1.0, 2.0]
    assert images[0]["pixel size"] == 1e-7  # the inputs are not modified
    with FLSeries(meta_data={"pixel size": 3e-7}, h5file=path, h5mode="a") as fls:
        assert fls[2]["pixel size"] == 3e-7
    with FLSeries(meta_data={"pixel size": 4e-7}, h5file=path, h5mode="r") as fls:
        assert fls[2]["pixel size"] == 3e-7  # read-only: the file is unchanged
    with pytest.raises(KeyError, match="valid keys"):
        FLSeries(meta_data={"wavelength": 5e-7})


def test_read_only_and_bad_files(tmp_path):
    path = tmp_path / "s.h5"
    make_series(simulate_fluorescence_series(3, (32, 32)), path).close()
    with FLSeries(h5file=path, h5mode="r") as fls:
        with pytest.raises(ReadOnlyError, match="read-only"):
            fls.add_flimage(FLImage(np.zeros((32, 32))))
    with pytest.raises(ReadOnlyError):
        FLSeries(h5file=path, h5mode="r", identifier="new")
    with pytest.raises(FileExistsError):
        FLSeries(h5file=path, h5mode="x")
    single = tmp_path / "single.h5"
    FLImage(np.zeros((4, 4)), h5file=single).close()
    with pytest.raises(FileFormatError, match="single.h5.*holds an FLImage"):
        FLSeries(h5file=single, h5mode="r")
    gap = tmp_path / "gap.h5"
    with h5py.File(gap, "w") as h5:
        h5.create_group("fli_0")
        h5.create_group("fli_2")
    with pytest.raises(FileFormatError, match="not numbered fli_0 to fli_1"):
        FLSeries(h5file=gap, h5mode="r")


def test_fit_bleaching_exact():
    t = np.linspace(0, 100, 25)
    fit = fit_bleaching(t + 7, 300 * np.exp(-t / 17) + 40)
    assert fit.tau == pytest.approx(17, rel=1e-9)
    assert fit.amplitude == pytest.approx(300, rel=1e-9)
    assert fit.offset == pytest.approx(40, rel=1e-9)
    np.testing.assert_allclose(fit(t + 7), 300 * np.exp(-t / 17) + 40, rtol=1e-9)
    for times, values, match in [([0, 1], [2, 1], "at least 3"),
                                 ([0, 1, 1], [3, 2, 1], "increasing"),
                                 ([0, 1, 2], [3, np.nan, 1], "NaN")]:
        with pytest.raises(BleachFitError, match=match):
            fit_bleaching(times, values)


def test_border_mask_errors():
    assert border_mask((10, 12), 2).sum() == 10 * 12 - 6 * 8
    with pytest.raises(ValueError, match="leave an interior"):
        border_mask((10, 10), 5)
    with pytest.raises(ValueError, match="at least 1"):
        border_mask((10, 10), 0)
    with pytest.raises(TypeError, match="integer"):
        border_mask((10, 10), 2.5)


def test_bleach_correction_recovers_decay(tmp_path, truth):
    out = tmp_path / "corrected.h5"
    with make_series(truth, tmp_path / "s.h5") as fls:
        bg, flint, decay, times = fls.bleach_correction(h5out=out, border_px=20)
    np.testing.assert_array_equal(times, truth.times)
    assert bg == pytest.approx(truth.background, rel=0.01)
    fit = fit_bleaching(times, flint)
    assert fit.tau == pytest.approx(truth.tau, rel=0.02)
    np.testing.assert_allclose(decay, fit(times))
    interior = ~border_mask((128, 128), 20)
    with FLSeries(h5file=out, h5mode="r") as corrected:
        assert len(corrected) == len(truth.times)
        assert corrected[5].meta["time"] == truth.times[5]
        assert corrected["img7"].meta["identifier"] == "img7"
        trace = np.array([fli.fl[interior].mean() for fli in corrected])
        first = corrected[0].fl
    uncorrected = truth.images[:, interior].mean(axis=1)
    assert uncorrected.std() / uncorrected.mean() > 0.2  # there was bleaching
    assert trace.std() / trace.mean() <= 0.01
    assert trace.mean() == pytest.approx(flint[0], rel=0.01)
    np.testing.assert_allclose(first, truth.images[0] - np.float32(bg), rtol=1e-5,
                               atol=1e-3)


def test_bleach_correction_applies_to_flscorr(tmp_path, truth):
    with make_series(truth) as fls:
        bg, flint, decay, times = fls.bleach_correction()
        fls.denoise(tmp_path / "denoised.h5")
    with FLSeries(h5file=tmp_path / "denoised.h5", h5mode="r") as smooth, \
            make_series(truth) as raw:
        bg2, flint2, decay2, _ = smooth.bleach_correction(
            h5out=tmp_path / "out.h5", flscorr=raw)
        assert bg2 == pytest.approx(bg, rel=0.01)
        np.testing.assert_allclose(decay2, decay, rtol=0.01)
        with FLSeries(h5file=tmp_path / "out.h5", h5mode="r") as out:
            for index in (0, 13, 39):  # the raw images, corrected with smooth's fit
                expected = (raw[index].fl - np.float32(bg2)) * np.float32(
                    decay2[0] / decay2[index])
                np.testing.assert_allclose(out[index].fl, expected, rtol=1e-6)
    with make_series(truth) as fls, pytest.raises(ValueError, match="flscorr has 1"):
        fls.bleach_correction(flscorr=FLSeries([FLImage(np.zeros((8, 8)))]))


def test_bleach_correction_progress_counters(truth, tmp_path):
    count = multiprocessing.Value("i", 0)
    max_count = multiprocessing.Value("i", 5)
    with make_series(truth) as fls:
        fls.bleach_correction(h5out=tmp_path / "c.h5", count=count,
                              max_count=max_count)
    assert max_count.value == 5 + 2 * 40 and count.value == 2 * 40


def test_bleach_correction_bad_input(truth):
    with pytest.raises(ValueError, match="is empty"):
        FLSeries().bleach_correction()
    images = [FLImage(img) for img in truth.images[:10]]
    with FLSeries(images) as fls, pytest.warns(MissingTimeWarning, match="10 images"):
        *_, times = fls.bleach_correction()
    np.testing.assert_array_equal(times, np.arange(10))
    with make_series(truth) as fls, pytest.raises(ValueError, match="border_px=70"):
        fls.bleach_correction(border_px=70)


def test_denoise_psnr_and_mean(tmp_path):
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:128, :128]
    clean = 100 + 400 * (((yy - 64) / 40) ** 2 + ((xx - 64) / 25) ** 2 < 1) \
        + 200 * np.exp(-((yy - 40) ** 2 + (xx - 90) ** 2) / 150)
    noisy = clean + rng.normal(0, 30, clean.shape)

    def psnr(img):
        return 10 * np.log10(np.ptp(clean) ** 2 / np.mean((img - clean) ** 2))

    fli = FLImage(noisy, meta_data={"time": 4.0})
    fli.set_bg_data(np.full(clean.shape, 1.0))
    count = multiprocessing.Value("i", 0)
    with FLSeries([fli, fli]) as fls:
        fls.denoise(tmp_path / "d.h5", count=count)
    assert count.value == 2
    with FLSeries(h5file=tmp_path / "d.h5", h5mode="r") as out:
        assert len(out) == 2 and out[1].meta == {"time": 4.0}
        np.testing.assert_array_equal(out[0].bg_fl, 1.0)
        smooth = out[0].raw_fl
    assert psnr(smooth) - psnr(noisy) >= 3
    assert smooth.mean() == pytest.approx(noisy.mean(), rel=1e-4)
    assert estimate_noise(noisy) == pytest.approx(30, rel=0.1)
    np.testing.assert_allclose(denoise_image(noisy, weight=0), noisy)
    with pytest.raises(ValueError, match="weight"):
        denoise_image(noisy, weight=-1)


def test_outputs_never_replace_inputs_or_stay_half_written(tmp_path, truth,
                                                          monkeypatch):
    path = tmp_path / "s.h5"
    make_series(truth, path).close()
    before = path.read_bytes()
    with FLSeries(h5file=path, h5mode="r") as fls:
        with pytest.raises(ValueError, match="Refusing to overwrite the input"):
            fls.bleach_correction(h5out=path)
        with pytest.raises(ValueError, match="Refusing to overwrite the input"):
            fls.denoise(str(path))
        calls = []
        original = FLSeries._append

        def failing(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            return original(self, *args, **kwargs)

        monkeypatch.setattr(FLSeries, "_append", failing)
        with pytest.raises(OSError, match="disk full"):
            fls.bleach_correction(h5out=tmp_path / "out.h5")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]


def test_output_into_group(truth):
    with make_series(truth) as fls, h5py.File("o.h5", "w", driver="core",
                                               backing_store=False) as h5:
        fls.bleach_correction(h5out=h5.create_group("corrected"))
        assert len(FLSeries(h5file=h5["corrected"])) == len(truth.times)
        with pytest.raises(ValueError, match="not empty"):
            fls.denoise(h5["corrected"])


def test_corrupt_image_named(tmp_path, truth):
    path = tmp_path / "s.h5"
    make_series(truth, path).close()
    with h5py.File(path, "r") as h5:
        offset = h5["fli_3/fluorescence/raw"].id.get_offset()
    if offset is None:  # chunked: find the chunk's position instead
        with h5py.File(path, "r") as h5:
            offset = h5["fli_3/fluorescence/raw"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    with FLSeries(h5file=path, h5mode="r") as fls:
        with pytest.raises(FileFormatError, match="Corrupt fluorescence data 'raw' in "
                                                  ".*s.h5.*fli_3"):
            fls.bleach_correction()
