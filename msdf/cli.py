"""The ``msdf`` command line: a thin dispatcher over :mod:`msdf.commands`."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

import msdf.commands
from msdf.boundary import add_common_arguments, run_command


def _command_modules() -> list[ModuleType]:
    """Import every sub-command module of :mod:`msdf.commands`, sorted by name."""
    mods = []
    for info in sorted(pkgutil.iter_modules(msdf.commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"msdf.commands.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command module."""
    parser = argparse.ArgumentParser(
        prog="msdf", description="Mosaic-SDF: meshes <-> M-SDF, flow-matching generation, VisCo reconstruction."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        add_common_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command inside the error boundary; returns its exit status."""
    args = build_parser().parse_args(argv)
    return run_command(f"msdf {args.command}", args._run, args)


if __name__ == "__main__":
    sys.exit(main())
