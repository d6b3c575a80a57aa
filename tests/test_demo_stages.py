"""The demo driver: finished stages are skipped on a re-run, a failed stage stops the run and the next run resumes
from it; the report is rewritten every time. Stages are replaced by recording stand-ins (a real stage is minutes)."""
from __future__ import annotations

import json

import pytest

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


def test_preset_reaches_the_training_command(tmp_path, monkeypatch):
    import argparse

    from msdf.commands import demo as demo_cmd
    from msdf.demo import pipeline

    parser = argparse.ArgumentParser()
    demo_cmd.add_arguments(parser)
    assert parser.parse_args([]).preset is None  # -> DemoConfig's default
    with pytest.raises(SystemExit):
        parser.parse_args(["--preset", "paper"])  # sized for n = 1024, k = 7, not the demo's store
    calls: list[tuple] = []
    monkeypatch.setattr(pipeline, "msdf_cli", lambda *args, log, ok=(0,): calls.append(args) or 0)
    cases = ((False, None, "cpu-medium"), (True, None, "cpu-small"), (True, "cpu-medium", "cpu-medium"),
             (False, "cpu-small", "cpu-small"))
    for quick, preset, expected in cases:  # full run: cpu-medium; quick: cpu-small's faster steps; or as asked
        calls.clear()
        cfg = DemoConfig.make(tmp_path / f"{quick}{preset}", quick=quick, preset=preset)
        Demo(cfg).train()
        args = [str(a) for a in calls[0]]
        assert args[0] == "train" and args[args.index("--preset") + 1] == expected
