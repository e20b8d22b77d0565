"""The kubelet's oom_score_adj (pkg/kubelet/qos/policy.go GetContainerOOMScoreAdjust). Expected values are
worked by hand from the formula 1000 - (1000*request)/capacity (Go int64, truncating division), the floor
1000 + guaranteedOOMScoreAdj = 1000 - 997 = 3, and 1000 -> 999."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from oomlens.cli.main import cli
from oomlens.policy.k8s import Qos, kubelet_oom_score_adj, parse_quantity

GI = 2**30

# (request bytes, capacity bytes, expected, the arithmetic by hand)
BURSTABLE = [
    (1 * GI, 16 * GI, 938, "1000*2^30/2^34 = 62.5 -> 62; 1000-62 = 938"),
    (10**9, 10**10, 900, "10% of the node: 1000-100 = 900 (the kubelet comment's own example)"),
    (100 * 2**20, 4 * GI, 976, "104857600000/4294967296 = 24.41 -> 24; 976"),
    (0, 8 * GI, 999, "1000-0 = 1000 == besteffort -> 999"),
    (1, 16 * GI, 999, "1000/17179869184 = 0 -> 1000 -> 999"),
    (996_000, 1_000_000, 4, "996 -> 4, above the floor"),
    (997_000, 1_000_000, 3, "997 -> 3, exactly the floor (not clamped)"),
    (998_000, 1_000_000, 3, "998 -> 2 < 3 -> 3"),
    (8 * GI, 8 * GI, 3, "request = capacity: 0 -> 3"),
    (16 * GI, 8 * GI, 3, "request twice the capacity: -1000 -> 3"),
    (10**16, 2**62, 1001, "1000*10^16 wraps int64 to -8446744073709551616; /2^62 = -1.83 -> -1; 1000+1 = 1001"),
]


@pytest.mark.parametrize(("request_b", "capacity_b", "expected", "why"), BURSTABLE)
def test_burstable_formula_by_hand(request_b: int, capacity_b: int, expected: int, why: str) -> None:
    assert kubelet_oom_score_adj(Qos.BURSTABLE, request_b, capacity_b) == expected, why


def test_guaranteed_besteffort_and_critical() -> None:
    assert kubelet_oom_score_adj(Qos.GUARANTEED) == -997
    assert kubelet_oom_score_adj(Qos.BESTEFFORT) == 1000
    assert kubelet_oom_score_adj(Qos.BURSTABLE, 1, 2, critical=True) == -997
    assert kubelet_oom_score_adj(Qos.BESTEFFORT, critical=True) == -997


@pytest.mark.parametrize(("text", "value"), [
    ("1Gi", 2**30), ("1G", 10**9), ("512Mi", 512 * 2**20), ("129e6", 129_000_000), ("134217728", 134217728),
    ("1.5Gi", 3 * 2**29), ("0.5", 1), ("1k", 1000), ("1Ki", 1024),
])
def test_quantities(text: str, value: int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("bad", ["", "1GB", "-1Gi", "1 Gi x", "Gi"])
def test_bad_quantity(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(bad)


def test_cli_k8s_adj() -> None:
    r = CliRunner().invoke(cli, ["k8s-adj", "--request", "1Gi", "--capacity", "16Gi", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["oom_score_adj"] == 938 and doc["request_bytes"] == GI and doc["capacity_bytes"] == 16 * GI
    r = CliRunner().invoke(cli, ["k8s-adj", "--request", "8Gi", "--capacity", "8Gi"])
    assert r.exit_code == 0 and r.output.startswith("3 ") and "clamped to 3..999" in r.output
    r = CliRunner().invoke(cli, ["k8s-adj", "--qos", "guaranteed"])
    assert r.exit_code == 0 and r.output.startswith("-997")
    r = CliRunner().invoke(cli, ["k8s-adj", "--request", "1Gi"])
    assert r.exit_code == 2
    r = CliRunner().invoke(cli, ["k8s-adj", "--request", "1GB", "--capacity", "2Gi"])
    assert r.exit_code == 2 and "not a Kubernetes quantity" in r.output
