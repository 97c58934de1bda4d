"""The `disco` command. Packages contribute subcommands through the `disco.commands` entry points,
so this root never imports a task package. A contributor is `register(subparsers) -> None`; it adds
its parser and sets `run=callable(args) -> int` as a default. Errors a user can fix (DiscoError) become
one line on stderr, exit code 1; usage errors exit 2 (argparse). The library logs (`logging`) and never
prints: its warnings (a skipped item, a caveat) reach stderr here as one line each, "disco: <message>"."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib.metadata import entry_points

from . import __version__
from .errors import DiscoError


def _contributors():
    for entry in sorted(entry_points(group="disco.commands"), key=lambda e: e.name):
        module_name = entry.value.split(":")[0]
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a declared package that this checkout does not ship yet
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        yield entry.load()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a redirected or captured stream included)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def show_warnings() -> None:
    """Library warnings on stderr, one line each: "disco: <message>" (installed once)."""
    root = logging.getLogger()
    if any(isinstance(handler, _StderrHandler) for handler in root.handlers):
        return
    handler = _StderrHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("disco: %(message)s"))
    root.addHandler(handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="disco", description="DisCo-Diff: diffusion with discrete latents.")
    parser.add_argument("--version", action="version", version=f"disco {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    subparsers.required = True
    for register in _contributors():
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    show_warnings()
    try:
        return int(args.run(args) or 0)
    except DiscoError as exc:
        print(f"disco: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("disco: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
