"""Image, contour and mask of one event."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._mpl import check_index, import_pyplot, new_figure, root_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from ..rtdc import RTDCBase

__all__ = ["event"]

#: Colour of the contour drawn over the event image.
CONTOUR_COLOR = "red"


def event(ds: RTDCBase, index: int, *, fig: Figure | SubFigure | None = None
          ) -> Figure:
    """Plot the image of one event with its contour, and its mask in µm.

    Two panels, one above the other: (a) the image in grey (the mask when
    the dataset has no image) with the contour in red (from the
    ``contour`` feature, computed from the mask when not stored), in
    detector pixels; (b) the mask (the image when there is no mask) on a
    µm scale, ``imaging:pixel size`` per pixel (left out when the pixel
    size is unknown).

    Parameters
    ----------
    ds
        The dataset; it needs ``image`` or ``mask``.
    index
        Event index (negative counts from the end).
    fig
        Figure (or subfigure) to draw into, preferably empty; a new
        figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the top-level one when `fig` is a subfigure).

    Raises
    ------
    IndexError
        `index` is out of range.
    ValueError
        The dataset has neither ``image`` nor ``mask``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import cytolab
    >>> from cytolab.simulate import simulate_rtdc
    >>> from cytolab.plot import event
    >>> path = simulate_rtdc(pathlib.Path(tempfile.mkdtemp()) / "m.rtdc",
    ...                      num_events=10, images=True)
    >>> with cytolab.new_dataset(path) as ds:
    ...     fig = event(ds, 3)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['Detector X [px]', 'Detector X [µm]']
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    import_pyplot()  # ImportError first, when matplotlib is missing
    index = check_index(ds, index)
    _image_features(ds)  # raises without image and mask
    pixel_size = _pixel_size(ds)
    fig = new_figure(fig, figsize=(6.4, 4.8))
    nrows = 2 if pixel_size is not None else 1
    axes = np.atleast_1d(fig.subplots(nrows, 1, squeeze=False)).ravel()
    draw_image_panel(axes[0], ds, index)
    if nrows == 2:
        draw_mask_panel(axes[1], ds, index)
    fig.suptitle(f"{ds.title}, event {index}")
    return root_figure(fig)


def _image_features(ds: Any) -> tuple[bool, bool]:
    """Whether `ds` has ``image`` and ``mask`` (ValueError if neither)."""
    has_image = "image" in ds
    has_mask = "mask" in ds
    if not (has_image or has_mask):
        raise ValueError(f"The dataset {ds} ({ds.title}) has neither 'image' "
                         f"nor 'mask' data, so its events cannot be shown")
    return has_image, has_mask


def _pixel_size(ds: Any) -> float | None:
    imaging = ds.config["imaging"]
    if "pixel size" not in imaging:
        return None
    size = float(imaging["pixel size"])
    return size if np.isfinite(size) and size > 0 else None


def _as_displayable(data: Any) -> np.ndarray:
    arr = np.asarray(data)
    return arr.astype(np.uint8) if arr.dtype == bool else arr


def draw_image_panel(ax: Axes, ds: Any, index: int) -> None:
    """Image (or mask) of event `index` in grey with its contour in red."""
    has_image, _ = _image_features(ds)
    if has_image:
        ax.imshow(_as_displayable(ds["image"][index]), cmap="gray",
                  interpolation="nearest")
        what = "image"
    else:
        ax.imshow(_as_displayable(ds["mask"][index]), cmap="gray", vmin=0,
                  vmax=1, interpolation="nearest")
        what = "mask"
    contour = None
    if "contour" in ds:
        contour = np.asarray(ds["contour"][index], dtype=float)
    if contour is not None and contour.ndim == 2 and contour.shape[0] > 0:
        closed = np.vstack([contour, contour[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color=CONTOUR_COLOR, lw=1,
                gid="contour", label="contour")
        ax.set_title(f"Event {what} with contour")
    else:
        ax.set_title(f"Event {what}")
    ax.set_xlabel("Detector X [px]")
    ax.set_ylabel("Detector Y [px]")


def draw_mask_panel(ax: Axes, ds: Any, index: int) -> None:
    """Mask (or image) of event `index` on a µm scale."""
    _, has_mask = _image_features(ds)
    pixel_size = _pixel_size(ds)
    if pixel_size is None:
        raise ValueError(f"The dataset {ds} ({ds.title}) has no "
                         f"'imaging:pixel size'; cannot draw a µm scale")
    if has_mask:
        data = _as_displayable(ds["mask"][index])
        limits = {"vmin": 0, "vmax": 1}
        what = "mask"
    else:
        data = _as_displayable(ds["image"][index])
        limits = {}
        what = "image"
    height, width = data.shape[:2]
    ax.imshow(data, cmap="gray", interpolation="nearest",
              extent=(0, width * pixel_size, 0, height * pixel_size), **limits)
    ax.set_title(f"Event {what} with µm scale")
    ax.set_xlabel("Detector X [µm]")
    ax.set_ylabel("Detector Y [µm]")
