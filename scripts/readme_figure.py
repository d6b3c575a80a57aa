"""Stack a demo run's contact sheets for a few prompts into the README's figure (``docs/images/demo_contact_sheets.png``).

    python scripts/readme_figure.py demo_output

Takes ``DEMO/contact_sheets/NN-<prompt>.png`` for the prompts given (default: a chair, a round table, a lamp),
scales each to ``--width`` pixels and stacks them top to bottom; the renders are the demo's own (raw marching cubes).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

DEFAULT_PROMPTS = ("a-chair-with-armrests", "a-round-table-with-a-single-pedestal", "a-lamp-with-a-conical-shade")


def stack(sheets: list[Path], width: int) -> Image.Image:
    """The sheets scaled to ``width`` and stacked vertically on white."""
    images = [Image.open(p).convert("RGB") for p in sheets]
    images = [im.resize((width, round(im.height * width / im.width)), Image.LANCZOS) for im in images]
    out = Image.new("RGB", (width, sum(im.height for im in images)), "white")
    y = 0
    for im in images:
        out.paste(im, (0, y))
        y += im.height
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("demo", type=Path, help="a finished msdf demo output folder")
    ap.add_argument("--prompts", nargs="+", default=list(DEFAULT_PROMPTS), help="contact-sheet name stems")
    ap.add_argument("--width", type=int, default=900)
    ap.add_argument("-o", "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "images"
                    / "demo_contact_sheets.png")
    args = ap.parse_args()
    folder = args.demo / "contact_sheets"
    sheets = []
    for stem in args.prompts:
        hits = sorted(folder.glob(f"*-{stem}.png"))
        if not hits:
            print(f"{folder}: no contact sheet for {stem!r}", file=sys.stderr)
            return 2
        sheets.append(hits[0])
    tmp = args.out.with_name(args.out.stem + ".tmp.png")
    stack(sheets, args.width).save(tmp)
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
