"""Tests for cytolab.definitions.features (feature names, labels, shapes)."""
import numpy as np
import pytest

from cytolab import definitions as dfn


@pytest.fixture
def registered():
    """Register temporary features and always remove them again."""
    names = []

    def _register(name, label=None, is_scalar=True):
        dfn.register_feature(name, label=label, is_scalar=is_scalar)
        names.append(name)

    yield _register
    for name in names:
        if name in dfn.registered_features():
            dfn.unregister_feature(name)


@pytest.mark.parametrize("name, label", [
    ("area_um", "Area [µm²]"),
    ("area_um_raw", "Area [µm²] of raw contour"),
    ("area_cvx", "Convex area [px]"),
    ("area_ratio", "Porosity (convex to measured area ratio)"),
    ("basinmap0", "Basin mapping 0"),
    ("basinmap9", "Basin mapping 9"),
    ("bright_perc_10", "10th Percentile of brightness (bgc)"),
    ("bright_bc_sd", "Brightness SD (bgc) [a.u.]"),
    ("eccentr_prnc", "Eccentricity of raw contour"),
    ("emodulus", "Young's modulus [kPa]"),
    ("fl1_dist", "FL-1 distance between two first peaks [µs]"),
    ("fl2_max_ctc", "FL-2 maximum, crosstalk-corrected [a.u.]"),
    ("fl3_npeaks", "FL-3 number of peaks"),
    ("fl3_width", "FL-3 width [µs]"),
    ("flow_rate", "Flow rate [µLs⁻¹]"),
    ("g_force", "Gravitational force in multiples of g"),
    ("index_online", "Index (Online)"),
    ("ml_class", "Most probable ML class"),
    ("per_ratio", "Inverse Convexity (raw to convex perimeter ratio)"),
    ("per_um_raw", "Perimeter [µm] of raw contour"),
    ("pos_y", "Position lateral in channel [µm]"),
    ("pressure", "Pressure [mPa]"),
    ("qpi_pha_int", "Integrated phase [rad]"),
    ("qpi_dm_avg", "Dry mass (average) [pg]"),
    ("temp", "Chip temperature [°C]"),
    ("temp_amb", "Ambient temperature [°C]"),
    ("tex_f12_avg", "Texture First measure of correlation (avg)"),
    ("tex_f13_ptp", "Texture Second measure of correlation (ptp)"),
    ("tex_sva_ptp", "Texture sum variance (ptp)"),
    ("time", "Time [s]"),
    ("userdef0", "User-defined 0"),
    ("userdef9", "User-defined 9"),
    ("volume", "Volume [µm³]"),
    ("qpi_pha", "Hologram phase image [rad]"),
    ("mask", "Binary mask labeling the event in the image"),
    ("trace", "Dictionary of fluorescence traces"),
])
def test_exact_labels(name, label):
    assert dfn.get_feature_label(name) == label
    assert dfn.feature_name2label[name] == label


def test_micro_sign_is_the_micro_sign():
    # U+00B5, the same character in every label
    for label in dfn.feature_labels:
        assert "\u03bc" not in label


@pytest.mark.parametrize("name, label", [
    ("area_um", "Area"),
    ("area_um_raw", "Area of raw contour"),
    ("per_um_raw", "Perimeter of raw contour"),
    ("deform", "Deformation"),
    ("qpi_pha", "Hologram phase image"),
])
def test_label_without_unit(name, label):
    assert dfn.get_feature_label(name, with_unit=False) == label


def test_label_unknown_feature():
    with pytest.raises(ValueError, match="peter"):
        dfn.get_feature_label("peter")


def test_table_sizes_and_consistency():
    assert len(dfn.feature_names) == len(dfn.feature_labels)
    assert len(set(dfn.feature_names)) == len(dfn.feature_names)
    assert dfn.feature_names == list(dfn.feature_name2label)
    # 7 fluorescence features for 3 channels, 11 texture features x 2
    assert sum(n.startswith("fl") and n[2] in "123" for n in
               dfn.scalar_feature_names) == 21
    assert sum(n.startswith("tex_") for n in dfn.scalar_feature_names) == 22
    assert len(dfn.FEATURES_NON_SCALAR) == 9
    non_scalar = {n for n, _ in dfn.FEATURES_NON_SCALAR}
    assert non_scalar.isdisjoint(dfn.scalar_feature_names)
    assert set(dfn.feature_names) == non_scalar | set(dfn.scalar_feature_names)
    assert dfn.feats_const.feature_names is dfn.feature_names


def test_constants():
    assert dfn.FLUOR_TRACES == ("fl1_raw", "fl1_median", "fl2_raw",
                                "fl2_median", "fl3_raw", "fl3_median")
    assert dfn.FEATURES_IMAGE_UINT8 == ("image", "image_bg", "mask", "qpi_oah",
                                        "qpi_oah_bg")
    assert dfn.FEATURES_IMAGE_FLOAT32 == ("qpi_amp", "qpi_pha")


def test_feature_exists():
    assert dfn.feature_exists("deform")
    assert dfn.feature_exists("image")
    assert not dfn.feature_exists("image", scalar_only=True)
    assert dfn.scalar_feature_exists("deform")
    assert not dfn.scalar_feature_exists("contour")
    assert not dfn.feature_exists("deformation")
    assert not dfn.feature_exists(None)
    assert not dfn.feature_exists(b"deform")
    assert dfn.feature_exists("ml_class")


@pytest.mark.parametrize("name", ["ml_score_rbc", "ml_score_3a3", "ml_score_000"])
def test_ml_score_valid(name):
    assert dfn.feature_exists(name)
    assert dfn.scalar_feature_exists(name)
    assert dfn.get_feature_label(name) == f"ML score {name[-3:].upper()}"
    assert name not in dfn.feature_names  # dynamic, not in the table


@pytest.mark.parametrize("name", [
    "ml_score_RBC", "ml_score_rb", "ml_score_rbcd", "ml_score_r_c",
    "ml_score_", "ml_scorerbc", "xml_score_rbc", "ml_score_rb-",
])
def test_ml_score_invalid(name):
    assert not dfn.feature_exists(name)
    with pytest.raises(ValueError):
        dfn.get_feature_label(name)


def test_check_feature_shape_ok():
    dfn.check_feature_shape("deform", np.zeros(10))
    dfn.check_feature_shape("ml_score_abc", [0.1, 0.2])
    dfn.check_feature_shape("image", np.zeros((3, 10, 12), dtype=np.uint8))
    dfn.check_feature_shape("contour", [np.zeros((5, 2)), np.zeros((7, 2))])
    dfn.check_feature_shape("trace", {"fl1_raw": np.zeros((3, 100))})


def test_check_feature_shape_errors():
    with pytest.raises(ValueError, match="deform"):
        dfn.check_feature_shape("deform", np.zeros((10, 2)))
    with pytest.raises(ValueError, match="area_um"):
        dfn.check_feature_shape("area_um", np.float64(3))
    with pytest.raises(ValueError, match="image"):
        dfn.check_feature_shape("image", np.zeros(10))
    with pytest.raises(ValueError, match="mask"):
        dfn.check_feature_shape("mask", [1, 2, 3])
    with pytest.raises(ValueError, match="peter"):
        dfn.check_feature_shape("peter", np.zeros(10))


def test_register_scalar(registered):
    n_names = len(dfn.feature_names)
    registered("circ_per_area", label="Circularity per area [1/µm²]")
    assert dfn.feature_exists("circ_per_area")
    assert dfn.scalar_feature_exists("circ_per_area")
    assert dfn.get_feature_label("circ_per_area") == "Circularity per area [1/µm²]"
    assert dfn.get_feature_label("circ_per_area", with_unit=False) == \
        "Circularity per area"
    # the constant tables are untouched
    assert len(dfn.feature_names) == n_names
    assert "circ_per_area" not in dfn.feature_name2label
    assert "circ_per_area" not in dfn.scalar_feature_names
    dfn.check_feature_shape("circ_per_area", np.zeros(4))
    dfn.unregister_feature("circ_per_area")
    assert not dfn.feature_exists("circ_per_area")
    with pytest.raises(ValueError):
        dfn.get_feature_label("circ_per_area")


def test_register_non_scalar_and_default_label(registered):
    registered("my_image", is_scalar=False)
    assert dfn.feature_exists("my_image")
    assert not dfn.scalar_feature_exists("my_image")
    assert dfn.get_feature_label("my_image") == "my_image"
    with pytest.raises(ValueError, match="my_image"):
        dfn.check_feature_shape("my_image", np.zeros(5))
    assert dfn.registered_features()["my_image"] == ("my_image", False)


def test_register_ml_score_custom_label(registered):
    registered("ml_score_rbc", label="ML score red blood cells")
    assert dfn.get_feature_label("ml_score_rbc") == "ML score red blood cells"
    with pytest.raises(ValueError):
        dfn.register_feature("ml_score_xyz", is_scalar=False)


@pytest.mark.parametrize("name", ["deform", "image", "userdef3"])
def test_register_builtin_raises(name):
    with pytest.raises(ValueError, match=name):
        dfn.register_feature(name)
    with pytest.raises(ValueError, match=name):
        dfn.unregister_feature(name)


@pytest.mark.parametrize("name", ["", "3abc", "a b", "area,deform", "x:y", None])
def test_register_invalid_name(name):
    with pytest.raises(ValueError):
        dfn.register_feature(name)


def test_register_twice_and_unregister_unknown(registered):
    registered("peter_feat")
    with pytest.raises(ValueError, match="peter_feat"):
        dfn.register_feature("peter_feat")
    with pytest.raises(KeyError, match="never_registered"):
        dfn.unregister_feature("never_registered")
