"""Single-cell measurements (cytolab.timelapse.measure)."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from cytolab.timelapse.labels import (
    cells_in_frame,
    distance_transform_labels,
    find_contours,
)
from cytolab.timelapse.lineage import CellFeatures
from cytolab.timelapse.measure import (
    cell_area,
    cell_fluo,
    cell_perimeter,
    cell_width_length,
    contour_curvature,
    eucl,
    find_poles,
    image_edges,
    pathfinding,
    roi_features,
)


def capsule(length: float, width: float, angle: float, centre=(45.0, 45.0),
            shape=(90, 90)) -> tuple[np.ndarray, np.ndarray, float]:
    """Rod with hemispherical caps drawn on the pixel grid.

    Pixels whose centre lies within ``width / 2`` of the rod's axis segment
    belong to the cell. Returns the uint8 mask, the two tips ``(y, x)`` of
    the continuous rod and its exact area.
    """
    yy, xx = np.mgrid[:shape[0], :shape[1]].astype(np.float64)
    theta = math.radians(angle)
    dy, dx = math.sin(theta), math.cos(theta)
    half = (length - width) / 2
    py, px = yy - centre[0], xx - centre[1]
    along = np.clip(py * dy + px * dx, -half, half)
    dist = np.hypot(py - along * dy, px - along * dx)
    mask = (dist <= width / 2).astype(np.uint8)
    tips = np.array([[centre[0] - length / 2 * dy, centre[1] - length / 2 * dx],
                     [centre[0] + length / 2 * dy, centre[1] + length / 2 * dx]])
    area = math.pi * width**2 / 4 + (length - width) * width
    return mask, tips, area


def within_1px(measured: float, true: float) -> bool:
    """Within one pixel; rods whose tips fall exactly on pixel centres are
    drawn one pixel longer (the tip pixels are included), so allow for
    rounding of exactly 1."""
    return abs(measured - true) <= 1 + 1e-9


RODS = [(length, width, angle, (45 + dy, 45 + dx))
        for (length, width), angle, (dy, dx) in zip(
            [(30, 7), (45, 9), (20, 6), (60, 10), (25, 8), (40, 5), (16, 8),
             (52, 7), (35, 6), (28, 9)],
            [0, 13, 22.5, 45, 67, 90, 104, 135, 151.2, 172],
            [(0, 0), (0.3, -0.2), (-0.4, 0.1), (0.16, -0.25), (0.5, 0.5),
             (-0.3, 0.45), (0.1, 0.1), (-0.2, -0.4), (0.38, -0.03), (0.2, 0.3)],
            strict=True)]


@pytest.mark.parametrize("length, width, angle, centre", RODS)
def test_rod_length_width_area_and_poles(length, width, angle, centre):
    mask, tips, true_area = capsule(length, width, angle, centre)
    contour = find_contours(mask)[0]
    poles = find_poles(contour)
    assert all(p.dtype == np.int16 and p.shape == (2,) for p in poles)
    assert tuple(poles[0]) <= tuple(poles[1])
    # each pole within 1.5 px of a tip of the rod (a pixel centre inside the
    # cell can be up to ~0.7 px from the continuous tip)
    err = min(max(eucl(poles[0], tips[0]), eucl(poles[1], tips[1])),
              max(eucl(poles[0], tips[1]), eucl(poles[1], tips[0])))
    assert err <= 1.5
    measured_width, measured_length = cell_width_length(
        poles, distance_transform_labels(mask))
    assert within_1px(measured_length, length)
    assert within_1px(measured_width, width)
    # the polygon through boundary-pixel centres lies about half a pixel
    # inside the outline: the area is smaller by 0.25 to 0.65 times the
    # perimeter (0.27 to 0.59 over 200 random rods)
    area, perimeter = cell_area(contour), cell_perimeter(contour)
    assert 0.25 * perimeter <= true_area - area <= 0.65 * perimeter
    # pixel count is the unbiased area: within a quarter of the perimeter
    assert abs(mask.sum() - true_area) <= 0.25 * perimeter


def test_area_and_perimeter_follow_opencv():
    rng = np.random.default_rng(0)
    mask = np.zeros((80, 80), dtype=np.uint8)
    for _ in range(6):
        cv2.ellipse(mask, (int(rng.integers(15, 65)), int(rng.integers(15, 65))),
                    (int(rng.integers(3, 12)), int(rng.integers(3, 12))),
                    float(rng.uniform(0, 180)), 0, 360, 1, -1)
    for contour in find_contours(mask):
        assert cell_area(contour) == cv2.contourArea(contour)
        assert cell_perimeter(contour) == pytest.approx(
            cv2.arcLength(contour, True), rel=1e-12)
        assert cell_area(contour[:, 0]) == cell_area(contour)   # (J, 2) too
    line = np.array([[[2, 3]], [[3, 3]], [[4, 3]], [[3, 3]]], dtype=np.int32)
    assert cell_area(line) == 0.0
    assert cell_perimeter(line) == 4.0
    with pytest.raises(ValueError, match="contour is empty"):
        cell_area(np.zeros((0, 1, 2), np.int32))


def test_cell_fluo_means_per_channel():
    frames = np.stack([np.arange(12, dtype=np.uint16).reshape(3, 4),
                       np.full((3, 4), 7, dtype=np.uint16)])
    mask = np.zeros((3, 4), dtype=np.uint8)
    mask[1, 1:3] = 1
    fluo = cell_fluo(frames, mask)
    assert fluo.dtype == np.float32
    assert fluo.tolist() == [5.5, 7.0]
    assert cell_fluo(frames[0], mask).tolist() == [5.5]
    assert np.isnan(cell_fluo(frames, np.zeros((3, 4)))).all()
    with pytest.raises(ValueError, match="do not match the mask"):
        cell_fluo(frames, np.zeros((4, 4)))


def test_eucl():
    assert eucl(np.array([1, 2], np.int16), np.array([4, 6], np.int16)) == 5.0
    assert isinstance(eucl([0, 0], [0, 1]), float)
    assert eucl([[0, 0], [6, 8]], [0, 0]).tolist() == [0.0, 10.0]


def test_find_poles_of_lines_and_points():
    line = np.array([[[2, 5]], [[3, 5]], [[4, 5]], [[5, 5]], [[4, 5]], [[3, 5]]])
    assert [p.tolist() for p in find_poles(line)] == [[5, 2], [5, 5]]
    point = np.array([[[7, 1]]])
    assert [p.tolist() for p in find_poles(point)] == [[1, 7], [1, 7]]


def test_contour_curvature_disc_and_constriction():
    mask = np.zeros((60, 60), dtype=np.uint8)
    cv2.circle(mask, (30, 30), 15, 1, -1)
    contour = find_contours(mask)[0]
    curvature = contour_curvature(contour)
    assert curvature.dtype == np.float32 and curvature.shape == (len(contour),)
    assert np.median(curvature) == pytest.approx(1 / 15, rel=0.15)
    # orientation does not matter
    reverse = contour_curvature(contour[::-1])
    np.testing.assert_allclose(reverse[::-1], curvature, atol=1e-6)
    # a dividing cell: two overlapping discs, concave at the waist
    waist = np.zeros((60, 90), dtype=np.uint8)
    cv2.circle(waist, (30, 30), 14, 1, -1)
    cv2.circle(waist, (55, 30), 14, 1, -1)
    contour = find_contours(waist)[0]
    curvature = contour_curvature(contour, stride=3)
    pts = contour[:, 0]
    at_waist = np.abs(pts[:, 0] - 42.5) <= 1
    assert curvature[at_waist].min() < -0.1
    assert np.median(curvature[~at_waist]) > 0
    # short contours: the stride shrinks, results stay finite
    tiny = np.array([[[0, 0]], [[1, 0]], [[1, 1]], [[0, 1]]])
    assert np.isfinite(contour_curvature(tiny)).all()
    with pytest.raises(ValueError, match="stride must be at least 1"):
        contour_curvature(contour, stride=0)


@pytest.mark.parametrize("box, edges", [
    ((5, 5, 10, 10), ""),
    ((0, 5, 10, 10), "-x"),
    ((5, 5, 19, 10), "+x"),
    ((5, 0, 10, 10), "-y"),
    ((5, 5, 10, 14), "+y"),
    ((0, 0, 19, 14), "-x+x-y+y"),
])
def test_image_edges(box, edges):
    mask = np.zeros((15, 20), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1 + 1, x0:x1 + 1] = 1
    assert image_edges(find_contours(mask)[0], mask.shape) == edges


def test_pathfinding_minimum_cost():
    cost = np.ones((5, 7))
    cost[1:4, 3] = np.inf              # wall with gaps at the top and bottom
    cost[0, :] = 10                    # expensive top row
    path = pathfinding(cost, np.array([2, 0], np.int16), (2, 6))
    assert path.dtype == np.int16 and path.shape[1] == 2
    assert path[0].tolist() == [2, 0] and path[-1].tolist() == [2, 6]
    assert [4, 3] in path.tolist() and not np.isinf(cost[tuple(path.T)]).any()
    assert np.all(np.abs(np.diff(path, axis=0)).max(axis=1) == 1)   # 8-connected
    with pytest.raises(ValueError, match="start .* impassable"):
        pathfinding(cost, (2, 3), (2, 6))
    with pytest.raises(ValueError, match="goal .* outside the map"):
        pathfinding(cost, (2, 0), (5, 6))
    cost[:, 3] = np.inf
    with pytest.raises(ValueError, match="no path connects"):
        pathfinding(cost, (2, 0), (2, 6))


def test_cell_width_length_moves_poles_into_the_cell():
    mask, _, _ = capsule(30, 7, 0)
    dist = distance_transform_labels(mask)
    poles = find_poles(find_contours(mask)[0])
    outside = (poles[0] - np.array([0, 3], np.int16), poles[1])
    assert cell_width_length(outside, dist) == cell_width_length(poles, dist)
    with pytest.raises(ValueError, match="no cell pixel"):
        cell_width_length(poles, np.zeros((90, 90)))


def test_roi_features():
    labels = np.zeros((100, 120), dtype=np.uint16)
    rods = {7: (36, 8, 30, (30, 40)), 3: (30, 7, 90, (60, 100)),
            9: (26, 6, 0, (85, 10.3))}     # cell 9 is cut by the left edge
    for cellid, (length, width, angle, centre) in rods.items():
        mask, _, _ = capsule(length, width, angle, centre, labels.shape)
        labels[mask > 0] = cellid
    assert (labels[:, 0] == 9).any()
    fluo = np.stack([labels * 0.5, np.ones(labels.shape)]).astype(np.float32)
    given = {7: (np.array([20, 22], np.int16), np.array([40, 57], np.int16))}
    features = roi_features(labels, given, fluo)
    assert list(features) == cells_in_frame(labels) == [7, 3, 9]
    ids, contours = cells_in_frame(labels, return_contours=True)
    for cellid, contour in zip(ids, contours, strict=True):
        feats = features[cellid]
        assert isinstance(feats, CellFeatures)
        length, width, angle, _ = rods[cellid]
        if cellid != 9:
            assert within_1px(feats.length, length)
        assert within_1px(feats.width, width)
        assert feats.area == cell_area(contour)
        assert feats.perimeter == cell_perimeter(contour)
        assert feats.fluo == [cellid * 0.5, 1.0]
        assert math.isnan(feats.growthrate_length)
        assert math.isnan(feats.growthrate_area)
    assert [features[i].edges for i in ids] == ["", "", "-x"]
    # given poles are used as they are, the others found
    assert features[7].new_pole.tolist() == [20, 22]
    assert features[7].old_pole.tolist() == [40, 57]
    found = find_poles(contours[1])
    assert features[3].new_pole.tolist() == found[0].tolist()
    assert features[3].old_pole.tolist() == found[1].tolist()
    # no fluorescence
    assert roi_features(labels, {}, None)[3].fluo == []
    assert roi_features(labels, {}, np.zeros((0, 100, 120)))[3].fluo == []
    assert roi_features(np.zeros((5, 5), np.uint16), {}, None) == {}
    single = np.zeros((5, 5), np.uint16)
    single[2, 3] = 4                           # a one-pixel cell
    tiny = roi_features(single, {}, None)[4]
    assert tiny.length == 1.0 and tiny.area == 0.0
    assert tiny.new_pole.tolist() == tiny.old_pole.tolist() == [2, 3]
    with pytest.raises(ValueError, match="do not match the labels"):
        roi_features(labels, {}, fluo[:, :50])


def test_roi_features_of_touching_cells():
    labels = np.zeros((40, 80), dtype=np.uint16)
    mask_a, _, _ = capsule(30, 8, 0, (20, 20), labels.shape)
    mask_b, _, _ = capsule(30, 8, 0, (20, 49), labels.shape)
    labels[mask_a > 0] = 1
    labels[mask_b > 0] = 2                   # the two rods touch end to end
    features = roi_features(labels, {}, None)
    for cellid in (1, 2):
        assert within_1px(features[cellid].width, 8)
        assert within_1px(features[cellid].length, 30)
