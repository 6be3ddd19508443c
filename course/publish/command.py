"""The command line that ``make slides`` and ``make site`` share: a profile, an output folder, a build."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from course.publish import vendor
from utils import config


def build_command(argv, *, prog: str, description: str, default_out: str,
                  build: Callable, summary: Callable) -> int:
    """Parse ``--profile`` and ``--out``, run ``build(cfg, out)`` and print ``summary(built, out)``.

    Parameters
    ----------
    argv : list of str or None
        The arguments (None: ``sys.argv[1:]``).
    prog, description : str
        For ``--help``.
    default_out : str
        Where the output goes without ``--out``, as ``--help`` says it.
    build : callable(cfg, out) -> object
        Builds the output (``out`` is None without ``--out``).
    summary : callable(built, out) -> str
        The line printed after a successful build.

    Returns
    -------
    int
        0 when built; 2 when something needed is missing (no executed
        notebooks, no reveal.js/MathJax copy), with the reason on stderr.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--profile", choices=config.PROFILE_NAMES, help="default: DOGSCATS_PROFILE, else sample")
    parser.add_argument("--out", type=Path, help=f"output folder (default {default_out})")
    args = parser.parse_args(argv)
    cfg = config.get_profile(args.profile) if args.profile else config.current()
    try:
        built = build(cfg, args.out)
    except (FileNotFoundError, vendor.VendorError) as error:
        print(error, file=sys.stderr)
        return 2
    print(summary(built, args.out))
    return 0
