"""`gan-studio` entry point. No sub-command launches the GUI; sub-commands run headless.

Each sub-command's arguments and wiring live in :mod:`gan_studio.commands`; this file only builds the parser from
them, dispatches, and turns expected errors (bad input) into one clear sentence on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from gan_studio.commands import bench, catalog, colortable, dataset, generate, train, traverse


class UserError(Exception):
    """Bad input from the user: printed as one sentence, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gan-studio", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check the installation (shipped weights and their hashes, generation, dataset export, the window "
        "offscreen) and exit 0 if all is well",
    )
    sub = parser.add_subparsers(dest="command")
    for family in (catalog, train, generate, traverse, bench, colortable, dataset):  # the order of --help
        family.add_arguments(sub)
    return parser


def _sentence(exc: Exception) -> str:
    """The message of an expected error; a bare ``OSError`` ("[Errno 13] Permission denied: 'x'") reworded as
    "x: permission denied" (the writers word their own failures: :mod:`gan_studio.data.output_files`)."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        reason = exc.strerror[:1].lower() + exc.strerror[1:]
        return f"{exc.filename}: {reason}" if exc.filename else reason
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from gan_studio.selftest import run_self_test

        return run_self_test()
    if args.command is None:
        from gan_studio.qt.app import run_app

        return run_app()
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, OSError) as exc:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every rank fails alike: one line, from rank 0
            print(f"gan-studio: {_sentence(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":
            print("gan-studio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
