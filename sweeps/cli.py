"""The ``xorsweep`` command line."""

from __future__ import annotations

import argparse
import sys

from kernels import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``xorsweep`` command."""
    parser = argparse.ArgumentParser(
        prog="xorsweep",
        description="Train huge populations of tiny neural networks and study how they converge.",
        epilog="Sweep commands (run, status, report, specs) are not implemented yet; "
               "the kernels are usable from Python: see README.md.",
    )
    parser.add_argument("--version", action="version", version=f"xorsweep {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = sys.argv[1:] if argv is None else argv
    if not args:
        parser.print_help()
        return 0
    try:
        parser.parse_args(args)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
