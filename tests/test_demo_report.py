"""The demo's report: one self-contained page with every image embedded, opening in headless Chromium, not blank."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import trimesh
from PIL import Image

from msdf.demo.report import write_report
from msdf.export import browser_screenshot, find_chromium
from msdf.render import render_many


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    gen = out / "generated"
    gen.mkdir()
    meshes = [trimesh.creation.box((0.8, 0.5, 0.3)), trimesh.creation.icosphere(3, 0.4),
              trimesh.creation.cylinder(0.3, 0.9)]
    names = ["000-a-box", "001-a-box", "002-a-ball"]
    render_many(meshes, [gen / f"{n}.png" for n in names], size=(160, 160))
    samples = [{"prompt": "a box", "seed": 0, "render": "000-a-box.png"},
               {"prompt": "a box", "seed": 1, "render": "001-a-box.png"},
               {"prompt": "a ball", "seed": 2, "render": "002-a-ball.png"},
               {"prompt": "a ball", "seed": 3, "error": "decode failed: no surface"}]
    (gen / "samples.json").write_text(json.dumps({"solver": "midpoint", "nfe": 32, "guidance": 2.0,
                                                  "timings": {"ode_s": 1.5}, "samples": samples}))
    (out / "stages").mkdir()
    (out / "stages" / "generate.json").write_text(json.dumps({"seconds": 3.5}))
    (out / "evaluation").mkdir()
    (out / "evaluation" / "evaluation.json").write_text(json.dumps(
        {"overall": {"cov": 0.5, "mmd": 0.01, "1nna": 0.75}, "conditional": {"accuracy": 0.5},
         "per_class": {"box": {"cov": 1.0}}}))
    return out


def test_report_embeds_everything_and_counts_failures(demo_dir):
    page = write_report(demo_dir)
    text = page.read_text()
    assert "src=\"http" not in text and "<script src" not in text  # nothing external: opens offline
    assert len(re.findall(r'src="data:image/png;base64,', text)) == 2  # one contact sheet per prompt
    assert "1 failed: decode failed: no surface" in text
    assert sorted(p.name for p in (demo_dir / "contact_sheets").iterdir()) == ["00-a-box.png", "01-a-ball.png"]
    metrics = json.loads((demo_dir / "metrics.json").read_text())
    assert metrics["evaluation"]["conditional"]["accuracy"] == 0.5
    assert metrics["stage_seconds"] == {"generate": 3.5}
    assert len(metrics["generation_failures"]) == 1
    assert metrics["peak_rss_mb"] > 10  # this test process alone holds more than 10 MB


def test_report_renders_in_headless_chromium(demo_dir, tmp_path):
    if find_chromium() is None:
        pytest.skip("chromium is not installed (Debian package 'chromium')")
    page = write_report(demo_dir)
    shot = browser_screenshot(page, tmp_path / "report.png", window=(1000, 900))
    img = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert img.std() > 10  # text, tables and the embedded renders, not a blank page
    dark = (img < 200).mean()
    assert 0.01 < dark < 0.9
