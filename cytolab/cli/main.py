"""Entry point of the ``cytolab`` command.

Exit codes: 0 success, 1 the command failed (the message says why),
2 invalid command-line arguments; ``cytolab verify`` has its own codes
(0 valid, 1 alerts, 2 violations, 3 both, 4 other error).

Each verb is also installed as a console script ``cytolab-<verb>`` (for
users of the reference tools' ``dclab-<verb>`` scripts).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .._version import __version__
from ..errors import CytolabError
from . import (
    _compress,
    _condense,
    _data,
    _demo,
    _join,
    _process,
    _repack,
    _split,
    _tdms2rtdc,
    _track,
    _train,
    _verify,
)

#: verb -> module with `add_arguments(parser)` and `run(args)`; `run` may
#: return an exit code (an int), anything else means success
VERBS = {
    "demo": _demo,
    "data": _data,
    "compress": _compress,
    "condense": _condense,
    "join": _join,
    "process": _process,
    "repack": _repack,
    "split": _split,
    "tdms2rtdc": _tdms2rtdc,
    "track": _track,
    "train-timelapse": _train,
    "verify": _verify,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cytolab`` command."""
    parser = argparse.ArgumentParser(
        prog="cytolab",
        description="cytolab: single-cell imaging cytometry toolkit.",
        epilog="Exit codes: 0 success, 1 failure, 2 invalid arguments. "
               "Run 'cytolab <verb> --help' for the options of a verb.")
    parser.add_argument("--version", action="version",
                        version=f"cytolab {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    for name, module in VERBS.items():
        doc = (module.__doc__ or "").strip()
        verb = sub.add_parser(name, help=doc.splitlines()[0] if doc else None,
                              description=doc,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(verb)
        verb.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cytolab`` command; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 0
    try:
        result = args._run(args)
    except (CytolabError, OSError, ValueError) as exc:
        print(f"cytolab {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) and not isinstance(result, bool) \
        else 0


def _script(verb: str) -> Callable[[], int]:
    """Console script ``cytolab-<verb>``: ``cytolab <verb>`` by another name."""
    def script() -> int:
        return main([verb, *sys.argv[1:]])
    script.__name__ = f"{verb}_script"
    script.__doc__ = f"Run ``cytolab {verb}`` (console script cytolab-{verb})."
    return script


compress_script = _script("compress")
condense_script = _script("condense")
join_script = _script("join")
process_script = _script("process")
repack_script = _script("repack")
split_script = _script("split")
tdms2rtdc_script = _script("tdms2rtdc")
track_script = _script("track")
train_timelapse_script = _script("train-timelapse")
verify_script = _script("verify")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
