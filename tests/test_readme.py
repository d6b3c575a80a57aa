"""The documented commands stay true: every ``msdf``/``viscogrid`` example in README.md and docs/*.md names a real
sub-command and real flags.

Each example line in a ```bash block is parsed with the command's own argparse parser (``parse_known_args`` is not
used: an unknown flag fails). The cheap ones run for real elsewhere (tests of each area and the demo).
"""
from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _example_lines() -> list[str]:
    text = "\n".join(page.read_text() for page in PAGES)
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith(("msdf ", "viscogrid ", "python -m msdf ")):
                lines.append(line)
    return lines


def _parser(program: str) -> argparse.ArgumentParser:
    if program == "msdf":
        from msdf.cli import build_parser
    else:
        from msdf.visco_cli import build_parser
    return build_parser()


def test_readme_has_examples() -> None:
    lines = _example_lines()
    assert len(lines) >= 10, lines
    commands = {shlex.split(line.replace("python -m ", ""))[1] for line in lines}
    from msdf.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = set(sub.choices) - commands
    assert not missing, f"msdf sub-commands without a documented example: {sorted(missing)}"


@pytest.mark.parametrize("line", _example_lines())
def test_readme_example_parses(line: str) -> None:
    line = re.sub(r"\$\{?\w+\}?", "1", line)  # shell variables (e.g. SLURM's) stand for numbers in the examples
    words = shlex.split(line.replace("python -m ", ""))
    words = [w for w in words if w not in {"|", "&&"}]
    program, argv = words[0], words[1:]
    try:
        _parser(program).parse_args(argv)
    except SystemExit as exc:  # argparse reports errors by exiting with status 2
        pytest.fail(f"documented example does not parse ({exc.code}): {line}")
