from __future__ import annotations

import io

from rich.console import Console

from oomlens.analysis.ranking import rank_tasks
from oomlens.cli.watch import changes, watch
from oomlens.kernel.types import MemInfo, Task


def test_changes_marks_moves_and_newcomers() -> None:
    assert changes({}, [(1, 1), (2, 2)]) == {1: "", 2: ""}          # first frame: nothing to compare
    assert changes({1: 1, 2: 2}, [(2, 1), (1, 2), (3, 3)]) == {2: "▲", 1: "▼", 3: "+"}


def test_watch_highlights_the_victim_and_says_when_it_changes() -> None:
    frames = [[Task(10, "a", rss_anon=500), Task(11, "b", rss_anon=100)],
              [Task(10, "a", rss_anon=500), Task(11, "b", rss_anon=900)]]
    it = iter(frames)
    out = io.StringIO()
    watch(lambda: rank_tasks(next(it), MemInfo(10_000), release="6.18.0", page_size=4096), interval=0, limit=5,
          console=Console(file=out, width=300, force_terminal=False), iterations=2)
    text = out.getvalue()
    assert "victim changed: now 11" in text  # the title wraps at the table width
    assert "▲" in text and "▼" in text
