"""Boot each cached kernel once per session (all guests at once) and hand every test its guest's results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.vm import harness

_SERIES = ("6.1", "6.12")


class _Guests:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.runs: dict[str, harness.GuestRun] = {}
        self.errors: dict[str, str] = {}

    def start_all(self) -> None:
        if self.runs or self.errors:
            return
        for k in harness.kernels():
            reason = harness.unavailable_reason(k)
            if reason:
                self.errors[k.series] = reason
                continue
            self.runs[k.series] = harness.GuestRun(k, self.workdir)

    def results(self, series: str) -> dict[str, Any]:
        reason = harness.unavailable_reason()
        if reason:
            pytest.skip(f"VM oracle unavailable: {reason}")
        self.start_all()
        if series in self.errors:
            pytest.skip(f"VM oracle unavailable for {series}: {self.errors[series]}")
        if series not in self.runs:
            pytest.skip(f"no {series} kernel cached (run scripts/install-test-deps.sh)")
        return self.runs[series].wait()

    def close(self) -> None:
        for run in self.runs.values():
            run.kill()


@pytest.fixture(scope="session")
def guests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Guests]:
    g = _Guests(tmp_path_factory.mktemp("vm"))
    yield g
    g.close()


@pytest.fixture(scope="session", params=_SERIES, ids=lambda s: f"linux-{s}")
def kernel_series(request: pytest.FixtureRequest) -> str:
    series: str = request.param
    return series


@pytest.fixture(scope="session")
def vm(guests: _Guests, kernel_series: str) -> dict[str, Any]:
    """The guest's results (tests.vm.guest's JSON) for this kernel series."""
    return guests.results(kernel_series)
