"""Entry point of the ``cytolab`` command.

Exit codes: 0 success, 1 the command failed (the message says why),
2 invalid command-line arguments.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import CytolabError
from . import _data, _demo

#: verb -> module with `add_arguments(parser)` and `run(args)`
VERBS = {
    "demo": _demo,
    "data": _data,
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
        args._run(args)
    except (CytolabError, OSError, ValueError) as exc:
        print(f"cytolab {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
