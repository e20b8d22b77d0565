"""The kubelet's oom_score_adj rule (kubernetes ``pkg/kubelet/qos/policy.go``, ``GetContainerOOMScoreAdjust``).

Guaranteed pods and node-critical pods get ``guaranteedOOMScoreAdj`` = -997 (-998 before kubernetes PR
#71269); BestEffort pods 1000; Burstable containers ``1000 - (1000*memoryRequest)/memoryCapacity`` in Go
int64 arithmetic (the product wraps past 2^63, the quotient truncates toward zero), then: a result below
``1000 + guaranteedOOMScoreAdj`` (= 3) becomes 3; a result of exactly 1000 (a zero request) becomes 999.
``memoryCapacity`` is the node's machine memory capacity, not its allocatable memory.
"""

from __future__ import annotations

import enum

__all__ = ["BESTEFFORT_OOM_SCORE_ADJ", "GUARANTEED_OOM_SCORE_ADJ", "KUBELET_OOM_SCORE_ADJ", "Qos", "parse_quantity",
           "burstable_bounds", "kubelet_oom_score_adj"]

GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000
KUBELET_OOM_SCORE_ADJ = -999  # the kubelet and kube-proxy themselves


class Qos(enum.Enum):
    GUARANTEED = "guaranteed"
    BURSTABLE = "burstable"
    BESTEFFORT = "besteffort"


def _int64(v: int) -> int:
    return (v + 2**63) % 2**64 - 2**63


def _go_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def burstable_bounds() -> tuple[int, int]:
    """The values a Burstable container can get: 3..999."""
    return 1000 + GUARANTEED_OOM_SCORE_ADJ, BESTEFFORT_OOM_SCORE_ADJ - 1


def kubelet_oom_score_adj(qos: Qos, request_bytes: int = 0, capacity_bytes: int = 0, *, critical: bool = False) -> int:
    """The oom_score_adj the kubelet gives a container. ``request_bytes``/``capacity_bytes`` matter for
    Burstable only (capacity must be > 0)."""
    if critical or qos is Qos.GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if qos is Qos.BESTEFFORT:
        return BESTEFFORT_OOM_SCORE_ADJ
    if capacity_bytes <= 0:
        raise ValueError("memory capacity must be positive")
    adj = _int64(1000 - _go_div(_int64(1000 * request_bytes), capacity_bytes))
    lo, _ = burstable_bounds()
    if adj < lo:
        return lo
    if adj == BESTEFFORT_OOM_SCORE_ADJ:
        return adj - 1
    return adj


_QUANTITY_SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
                    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(text: str) -> int:
    """A Kubernetes resource quantity in bytes, as ``Quantity.Value()`` gives it: ``128974848``, ``129e6``,
    ``129M`` (10^6), ``123Mi`` (2^20), ``1.5Gi``; a fraction of a byte rounds up. Raises ValueError."""
    import re
    from decimal import ROUND_CEILING, Decimal, InvalidOperation

    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E))?\s*", text)
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (examples: 512Mi, 2Gi, 1G, 129e6, 134217728)")
    try:
        num = Decimal(m.group(1) + (m.group(2) or ""))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
    num *= _QUANTITY_SUFFIX[m.group(3) or ""]
    return int(num.to_integral_value(ROUND_CEILING))
