"""Exceptions and warnings raised by cytolab.

Every error that cytolab raises on purpose derives from :class:`CytolabError`,
so callers can catch all of them at once; every warning derives from
:class:`CytolabWarning`.
"""
from __future__ import annotations


class CytolabError(Exception):
    """Base class of all errors raised by cytolab."""


class FileFormatError(CytolabError, OSError):
    """A file is missing, unreadable, truncated, or not in the expected format."""


class FeatureNotAvailableError(CytolabError, KeyError):
    """A feature was requested that a dataset cannot provide."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


class FeatureShapeError(CytolabError, ValueError):
    """Feature data have the wrong dimensionality, shape or length."""


class BasinNotAvailableError(CytolabError):
    """A basin could not be located or opened."""


class BasinIdentifierMismatchError(CytolabError):
    """A basin belongs to a different measurement than the referring dataset."""


class ExternalDataForbiddenError(CytolabError):
    """An HDF5 file refers to data outside itself where that is not allowed.

    External links, virtual datasets and external raw files can expose data
    the caller never meant to read (a concern for servers handling uploads).
    """


class CytolabWarning(UserWarning):
    """Base class of all warnings issued by cytolab."""


class UnknownConfigurationKeyWarning(CytolabWarning):
    """A metadata key is not part of the definitions."""


class BadFeatureSizeWarning(CytolabWarning):
    """A feature in a file does not have as many events as the dataset."""


class BasinUnavailableWarning(CytolabWarning):
    """A basin defined in a file could not be used."""


class UnknownFeatureWarning(CytolabWarning):
    """Data of a feature name unknown to cytolab were ignored."""


class BasinmapFeatureMissingError(BasinNotAvailableError):
    """A mapped basin needs a ``basinmapN`` feature the dataset does not have."""


class PipelineWarning(CytolabWarning):
    """A computation went ahead, but its result needs the user's attention."""


class KnowWhatYouAreDoingWarning(PipelineWarning):
    """The user asked for something that is usually a mistake (e.g. extrapolation)."""


class YoungsModulusLookupTableExceededWarning(PipelineWarning):
    """Events lie outside the support of the look-up table (their modulus is NaN)."""


class TemperatureOutOfRangeWarning(PipelineWarning):
    """A temperature lies outside the range in which a viscosity model is valid."""


class IsoelasticsEmodulusMeaninglessWarning(PipelineWarning):
    """Isoelasticity lines were scaled so that their moduli lost their meaning."""


class ViscosityModelFallbackWarning(PipelineWarning):
    """No viscosity model was chosen; the old default (herold-2017) was used."""


class CreatingFileWithoutBasinWarning(CytolabWarning):
    """A file meant to refer to basins was written without (some of) them."""


class IgnoringBasinTypeWarning(CytolabWarning):
    """A basin of a type or format that cannot be used here was left out."""
