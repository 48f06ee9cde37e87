"""Check an RT-DC file for problems and print what was found.

Runs the integrity checker (cytolab.IntegrityChecker) on one measurement
and prints its findings grouped by level: violations (the file breaks a
rule of the format, or a value the analysis needs is missing or impossible),
alerts (unusual things a person should look at) and info. Nothing is
written; the file is opened read-only.

Exit codes:
  0  valid dataset (info only)
  1  alerts
  2  violations
  3  alerts and violations
  4  other error (missing file, not an HDF5 file, a directory)

A file that is HDF5 but cannot be opened as a measurement (damaged,
truncated, no events group) is a violation (exit code 2), and so is a
legacy .tdms measurement that cannot be read (e.g. its para.ini is
missing).

Examples:
  cytolab verify measurement.rtdc
  cytolab verify measurement.rtdc && echo "ready for upload"
  cytolab-verify measurement.rtdc     (the same, for scripts)
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
from collections.abc import Sequence
from typing import TextIO

from ..rtdc.check import ICue, IntegrityChecker, format_cues
from ._common import check_input

#: Exit code when something other than the file's content went wrong.
EXIT_OTHER_ERROR = 4


def get_exit_code(cues: Sequence[ICue]) -> int:
    """Exit code of ``cytolab verify`` for a list of cues.

    Returns
    -------
    int
        0 no alerts or violations, 1 alerts, 2 violations, 3 both.

    Examples
    --------
    >>> get_exit_code([ICue("x", "alert", "test"), ICue("y", "info", "test")])
    1
    >>> get_exit_code([ICue("x", "alert", "test"), ICue("y", "violation", "t")])
    3
    """
    summary = ICue.get_level_summary(cues)
    return (1 if summary["alert"] else 0) + (2 if summary["violation"] else 0)


def verify(path_in: str | os.PathLike, stream: TextIO | None = None) -> int:
    """Check one measurement, print the cues, return the exit code.

    Parameters
    ----------
    path_in
        The measurement (``.rtdc``) file.
    stream
        Where to print the findings (default: standard output). Errors that
        prevent the check go to standard error.

    Returns
    -------
    int
        0 valid, 1 alerts, 2 violations, 3 alerts and violations, 4 other
        error (e.g. the file does not exist or is not an HDF5 file). This
        function does not raise for such errors.

    Examples
    --------
    >>> import io, tempfile, pathlib
    >>> from cytolab.simulate import simulate_rtdc
    >>> path = simulate_rtdc(pathlib.Path(tempfile.mkdtemp()) / "m.rtdc",
    ...                      num_events=20, seed=1)
    >>> out = io.StringIO()
    >>> verify(path, stream=out)
    0
    >>> out.getvalue().splitlines()[-1]
    'result: valid (0 violations, 0 alerts, 1 info)'
    """
    stream = sys.stdout if stream is None else stream
    try:
        path = pathlib.Path(path_in)
        # legacy .tdms measurements are not HDF5; the checker opens them
        path = check_input(path, rtdc=path.suffix.lower() != ".tdms",
                           events=False)
        if path.is_dir():  # a folder named *.tdms
            raise IsADirectoryError(f"'{path}' is a directory, not a "
                                    f"measurement file")
        with IntegrityChecker(path) as checker:
            cues = checker.check()
    except Exception as exc:  # noqa: BLE001  (exit code 4, never a traceback)
        print(f"cytolab verify: error: {exc}", file=sys.stderr)
        return EXIT_OTHER_ERROR
    code = get_exit_code(cues)
    summary = ICue.get_level_summary(cues)
    verdict = {0: "valid", 1: "alerts", 2: "violations",
               3: "alerts and violations"}[code]
    print(f"checked: {path}", file=stream)
    print(format_cues(cues), file=stream)
    counts = ", ".join(_count(summary[level], level)
                       for level in ("violation", "alert", "info"))
    print(f"result: {verdict} ({counts})", file=stream)
    return code


def _count(number: int, level: str) -> str:
    return f"{number} {level}" if number == 1 or level == "info" \
        else f"{number} {level}s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab verify``."""
    parser.add_argument("path", help="the measurement (.rtdc) file to check")


def run(args: argparse.Namespace) -> int:
    """Run ``cytolab verify`` with parsed arguments; return the exit code."""
    return verify(args.path)
