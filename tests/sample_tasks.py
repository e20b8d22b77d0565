"""The five-task sample that the CLI and report tests share (importable as ``sample_tasks``: pytest puts
``tests/`` on ``sys.path`` for ``tests/conftest.py``).

With 4 GiB of RAM and no swap (T = 4 * GIB pages, T // 1000 = 1048): init and the kernel thread are not
eligible, postgres is large but protected (adj -900), java is the victim, the batch job is raised (adj 500).
"""

from __future__ import annotations

from oomlens.kernel.types import Task

GIB = 262_144  # pages of 4 KiB

TASKS = [
    Task(pid=1, name="init", is_global_init=True, rss_anon=100),
    Task(pid=2, name="kthreadd", is_kthread=True, has_mm=False),
    Task(pid=100, name="postgres", uid=0, rss_anon=GIB, pgtables_bytes=2 * 1024 * 1024, oom_score_adj=-900),
    Task(pid=200, name="java", uid=1000, rss_anon=GIB // 2, rss_file=1000, swapents=500),
    Task(pid=300, name="batch job", uid=1000, rss_anon=GIB // 4, oom_score_adj=500),
]
