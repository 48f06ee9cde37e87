"""Cache keys of computed features: exactly the dependent features recompute."""
from __future__ import annotations

import numpy as np

import cytolab
from cytolab.simulate import simulate_rtdc


def _spy(ds):
    """Record which recipes compute on `ds` (by feature name)."""
    calls = []
    from cytolab.rtdc.ancillaries import AncillaryFeature
    orig = AncillaryFeature.compute

    def compute(self, rtdc_ds):
        if rtdc_ds is ds:
            calls.append(self.feature_name)
        return orig(self, rtdc_ds)
    return calls, compute


def test_pixel_size_invalidates_only_dependent_features(tmp_path, monkeypatch):
    path = simulate_rtdc(tmp_path / "sim.rtdc", num_events=30, images=True)
    with cytolab.new_dataset(path) as src, \
            cytolab.RTDCWriter(tmp_path / "masks.rtdc", mode="reset") as hw:
        hw.store_metadata(src.config.as_dict(pop_filtering=True))
        for feat in ("mask", "image", "pos_x", "pos_y", "area_cvx", "frame"):
            hw.store_feature(feat, np.asarray(src[feat][:]))
    ds = cytolab.new_dataset(tmp_path / "masks.rtdc")
    calls, compute = _spy(ds)
    from cytolab.rtdc.ancillaries import AncillaryFeature
    monkeypatch.setattr(AncillaryFeature, "compute", compute)

    # availability checks compute nothing
    for feat in ("volume", "bright_avg", "inert_ratio_cvx", "area_um", "contour"):
        assert feat in ds
    assert calls == []

    first = {f: np.array(ds[f]) for f in
             ("volume", "area_um", "bright_avg", "inert_ratio_cvx", "time")}
    calls.clear()
    for feat in first:  # cached: nothing recomputes
        ds[feat]
    assert calls == []

    ds.config["imaging"]["pixel size"] *= 2
    for feat in first:
        ds[feat]
    # volume and area_um depend on the pixel size; brightness, inertia ratio
    # and time do not
    assert sorted(set(calls)) == ["area_um", "volume"]
    assert np.allclose(ds["area_um"], 4 * first["area_um"])
    # (pos_x/pos_y are stored in µm, so the contour centre moves too)
    assert not np.allclose(ds["volume"], first["volume"])
    assert np.array_equal(ds["bright_avg"], first["bright_avg"])


def test_crosstalk_key_invalidates_only_ctc():
    rng = np.random.default_rng(1)
    ds = cytolab.new_dataset({f"fl{i}_max": rng.uniform(10, 100, 20)
                              for i in (1, 2, 3)} | {"circ": rng.uniform(.8, 1, 20)})
    ctc = np.array(ds["fl1_max_ctc"])
    deform = ds["deform"]
    ds.config["calculation"]["crosstalk fl21"] = 0.1
    assert not np.allclose(ds["fl1_max_ctc"], ctc)
    assert ds["deform"] is deform  # untouched by the crosstalk change
