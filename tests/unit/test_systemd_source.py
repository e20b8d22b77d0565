"""The systemd OOMScoreAdjust= source, with a fake systemctl (systemd is absent on this host)."""

from __future__ import annotations

from pathlib import Path

from oomlens.sources.protect import SystemdUnits


def test_fake_systemctl(tmp_path: Path) -> None:
    fake = tmp_path / "systemctl"
    log = tmp_path / "calls"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\ncase "$5" in pg.service) echo -500;; unset.service) echo;; '
                    '*) exit 1;; esac\n')
    fake.chmod(0o755)
    units = SystemdUnits(str(fake))
    assert units.available
    assert units.oom_score_adjust("pg.service") == -500
    assert units.oom_score_adjust("pg.service") == -500  # cached: one call
    assert units.oom_score_adjust("unset.service") is None
    assert units.oom_score_adjust("missing.service") is None
    assert log.read_text().splitlines()[0] == "show -p OOMScoreAdjust --value pg.service"
    assert len(log.read_text().splitlines()) == 3


def test_no_systemd_means_nothing_compared() -> None:
    units = SystemdUnits("/nonexistent/systemctl")
    assert units.oom_score_adjust("x.service") is None
