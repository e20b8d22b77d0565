"""Complete real OOM reports (tests/data/postmortem/realoom3, sources in SOURCES.tsv), checked by hand.

Every expected value is worked out by hand from the log and the kernel's rules (kernel-oom-spec.md), not copied
from the tool's output."""

from __future__ import annotations

from realdata import analyses

from oomlens.analysis.postmortem import Verdict


def test_invoked_line_without_a_space_after_the_colon_starts_the_report() -> None:
    # "mal-80 invoked oom-killer:gfp_mask=0xd0, order=0, oom_score_adj=0" (a 3.7 memcg report, mailed)
    evs = analyses("realoom3", "006")
    assert len(evs) == 2
    first = evs[0]
    assert first.event.invoked is not None and first.event.invoked.comm == "mal-80"
    assert not any("starts mid-way" in n for n in first.event.notes)
    # T = 101376 kB / 4 = 25344; (17577 + 42 - 750 root bonus) * 1000 // 25344 = 665, the printed score
    assert first.domain is not None and first.domain.totalpages == 25344
    assert first.verdict == Verdict.AGREES


def test_pages_shared_lines_date_a_report_before_3_14() -> None:
    # CentOS 7's 3.10 prints 'pages shared' / 'pages non-shared' (show_mem's pfn walk, gone in 3.14): the 3.5-3.13
    # rules; java 5424: 1537770 + 66407 = 1604177 pages, * 1000 // 2002984 = 800, the printed score
    (a,) = analyses("realoom3", "007")
    assert a.era is not None and a.era.name == "3.5-3.13"
    assert a.verdict == Verdict.AGREES and a.domain is not None and a.domain.totalpages == 2097151 - 94167


def test_a_score_at_the_clamp_does_not_confirm_t_and_a_short_table_is_not_called_grepped() -> None:
    # 2.6.37: plymouthd 365 pages of T = 524288 - 15987 = 508301 is 0 per mille, minus 30 (root), clamped to 1 =
    # the printed score 1: any T >= 11775 prints 1, so the score confirms nothing about T
    (a,) = analyses("realoom3", "009")
    assert a.domain is not None and a.domain.exact is False
    assert "confirmed by the printed score" not in a.domain.how
    assert a.verdict == Verdict.UNDECIDABLE
    assert a.reason is not None and "grep" not in a.reason and "at boot" in a.reason
