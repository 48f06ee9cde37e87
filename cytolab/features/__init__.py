"""Feature kernels: pure functions on NumPy arrays (no other cytolab package is
imported here).
"""
from .bright import (  # noqa: F401
    bright_bc_features,
    bright_features,
    get_bright,
    get_bright_bc,
    get_bright_perc,
)
from .contour import LazyContour, get_contour  # noqa: F401
from .fl_crosstalk import correct_crosstalk, get_compensation_matrix  # noqa: F401
from .inert_ratio import (  # noqa: F401
    get_inert_ratio_cvx,
    get_inert_ratio_prnc,
    get_inert_ratio_raw,
    get_tilt,
)
from .moments import contour_moments, convex_hulls, moments_features  # noqa: F401
from .texture import (  # noqa: F401
    TEXTURE_FEATURES,
    get_texture,
    texture_features,
)
from .volume import counter_clockwise, get_volume, vol_revolve  # noqa: F401
