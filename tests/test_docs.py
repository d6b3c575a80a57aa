"""docs/benchmarks.md and the figures quoted in README.md / docs/*.md are generated from bench/results: the committed
text must equal what bench/render_docs.py writes from the committed JSON files."""
from __future__ import annotations

import copy

import pytest

from bench import render_docs


def test_generated_docs_are_up_to_date():
    stale = render_docs.stale()
    assert not stale, f"re-run `python bench/render_docs.py`: stale {[str(p) for p in stale]}"


def test_a_changed_figure_changes_the_page(monkeypatch):
    original = render_docs.load

    def doubled_chamfer(name):
        data = copy.deepcopy(original(name))
        if name == "msdf":
            data["medians"]["msdf+ref"]["chamfer_l1"] *= 2
        return data

    before = render_docs.page()
    monkeypatch.setattr(render_docs, "load", doubled_chamfer)
    after = render_docs.page()
    assert before != after
    assert f"{2 * original('msdf')['medians']['msdf+ref']['chamfer_l1']:.6f}" in after


def test_missing_file_is_named_not_invented(monkeypatch):
    monkeypatch.setattr(render_docs, "load", lambda name: None)
    text = render_docs.page()
    assert "Not measured: `bench/results/msdf.json` does not exist" in text
    assert "No demo run is recorded yet" in text


def test_blocks_are_filled_from_their_section():
    text = "before\n<!-- bench:adam -->\nold figure 1.0\n<!-- /bench:adam -->\nafter\n"
    out = render_docs.fill_blocks(text)
    assert "old figure" not in out and "msdf.adam" in out and out.startswith("before\n") and out.endswith("after\n")
    with pytest.raises(KeyError, match="unknown bench block 'nope'"):
        render_docs.fill_blocks("<!-- bench:nope -->\n<!-- /bench:nope -->")
