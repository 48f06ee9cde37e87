"""Time-lapse microscopy of growing bacteria: movies, lineages, measurements.

The data model (:mod:`.lineage`), image operations, cell measurements, the
experiment reader and the outputs live here; the segmentation and tracking
networks build on them.
"""
