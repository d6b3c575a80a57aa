"""The demo driver: finished stages are skipped on a re-run, a failed stage stops the run and the next run resumes
from it; the report is rewritten every time. Stages are replaced by recording stand-ins (a real stage is minutes)."""
from __future__ import annotations

import json

from msdf.demo.pipeline import Demo, DemoConfig


def _demo(tmp_path, calls: list[str], failing: set[str]) -> Demo:
    demo = Demo(DemoConfig.make(tmp_path / "out", quick=True))

    def stand_in(name):
        def run() -> dict:
            calls.append(name)
            if name in failing:
                raise RuntimeError(f"{name} broke")
            return {"ran": name}
        return run

    demo.stages = [(name, stand_in(name)) for name, _ in demo.stages]
    return demo


def test_failed_stage_stops_and_rerun_resumes_skipping_finished_stages(tmp_path):
    names = [n for n, _ in Demo(DemoConfig.make(tmp_path / "names", quick=True)).stages]
    first: list[str] = []
    assert _demo(tmp_path, first, failing={"train"}).run() == 1
    assert first == names[:names.index("train") + 1]
    markers = sorted(p.stem for p in (tmp_path / "out" / "stages").glob("*.json"))
    assert markers == sorted(names[:names.index("train")])
    assert json.loads((tmp_path / "out" / "stages" / "dataset.json").read_text())["ran"] == "dataset"

    second: list[str] = []
    assert _demo(tmp_path, second, failing=set()).run() == 0
    assert second == names[names.index("train"):]

    third: list[str] = []
    assert _demo(tmp_path, third, failing=set()).run() == 0
    assert third == ["report"]  # everything else is done; the report always reflects the latest state
