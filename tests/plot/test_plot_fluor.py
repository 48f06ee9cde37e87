"""Plots of fluorescence images and bleach correction."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from cytolab.fluor import FLImage, FLSeries  # noqa: E402
from cytolab.plot import bleach_correction, fluorescence_image  # noqa: E402
from cytolab.simulate.fluorescence import simulate_fluorescence_series  # noqa: E402


def test_fluorescence_image_scale_and_data():
    image = np.arange(12.0).reshape(3, 4)
    fli = FLImage(image, meta_data={"pixel size": 5e-7, "time": 3.0})
    fli.set_bg_data(np.ones((3, 4)))
    fig = fluorescence_image(fli)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "x [µm]" and ax.get_title() == "fluorescence at t = 3 s"
    np.testing.assert_allclose(ax.images[0].get_extent(), [0, 2, 1.5, 0])
    np.testing.assert_array_equal(ax.images[0].get_array(), image - 1)
    assert len(fig.axes) == 2  # colour bar
    raw = fluorescence_image(FLImage(image), raw=True, colorbar=False)
    assert raw.axes[0].get_xlabel() == "x [px]" and len(raw.axes) == 1
    np.testing.assert_array_equal(raw.axes[0].images[0].get_array(), image)


def test_bleach_correction_plot_from_series():
    truth = simulate_fluorescence_series(12, (64, 64), noise=0)
    images = [FLImage(img, meta_data={"time": t})
              for img, t in zip(truth.images, truth.times)]
    with FLSeries(images) as fls:
        result = fls.bleach_correction(border_px=8)
    fig = bleach_correction(*result)
    measured, fit, corrected = fig.axes[0].get_lines()
    np.testing.assert_allclose(measured.get_ydata(), result[1])
    np.testing.assert_allclose(fit.get_ydata(), result[2])
    np.testing.assert_allclose(corrected.get_xdata(), truth.times)
    assert np.ptp(corrected.get_ydata()) < 0.01 * np.ptp(measured.get_ydata())
    with pytest.raises(ValueError, match="equal length"):
        bleach_correction(0.0, [1, 2], [1, 2, 3], [0, 1, 2])
