"""Command line interface: ``cytolab <verb>``.

Each verb is also a Python function of the same name here, returning the
path of what it wrote.
"""
from ._common import get_command_log, get_job_info
from ._compress import compress
from ._condense import condense
from ._data import data
from ._demo import demo
from ._join import join
from ._process import process
from ._repack import repack
from ._split import split
from ._tdms2rtdc import tdms2rtdc
from ._track import track
from ._verify import verify

#: Name of :func:`verify` in the reference tools.
verify_dataset = verify

__all__ = ["compress", "condense", "data", "demo", "get_command_log",
           "get_job_info", "join", "process", "repack", "split", "tdms2rtdc", "track",
           "verify", "verify_dataset"]
