"""``oomlens k8s-adj``: the oom_score_adj the kubelet gives a container."""

from __future__ import annotations

import click

from oomlens.cli.common import _emit_json, handle_errors
from oomlens.policy.k8s import Qos, burstable_bounds, kubelet_oom_score_adj, parse_quantity


def _quantity(_ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_quantity(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("k8s-adj")
@click.option("--request", callback=_quantity, metavar="SIZE", help="Container memory request (512Mi, 1G, 134217728).")
@click.option("--capacity", callback=_quantity, metavar="SIZE",
              help="Node memory capacity (machine memory, not allocatable).")
@click.option("--qos", type=click.Choice([q.value for q in Qos]), default=Qos.BURSTABLE.value, show_default=True)
@click.option("--critical", is_flag=True, help="A node-critical pod (system-node-critical priority): -997 whatever its QoS.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def k8s_adj(request: int | None, capacity: int | None, qos: str, critical: bool, as_json: bool) -> None:
    """The kubelet's oom_score_adj for a container (pkg/kubelet/qos/policy.go): Guaranteed -997, BestEffort 1000,
    Burstable 1000 - 1000*request/capacity (integer division) clamped to 3..999."""
    q = Qos(qos)
    if q is Qos.BURSTABLE and not critical:
        if request is None or capacity is None:
            raise click.UsageError("burstable needs --request and --capacity")
        if capacity <= 0:
            raise click.BadParameter("must be positive", param_hint="--capacity")
    value = kubelet_oom_score_adj(q, request or 0, capacity or 0, critical=critical)
    lo, hi = burstable_bounds()
    if as_json:
        _emit_json({"qos": q.value, "critical": critical, "request_bytes": request, "capacity_bytes": capacity,
                    "oom_score_adj": value})
        return
    if critical or q is not Qos.BURSTABLE:
        why = "node-critical pod" if critical else f"{q.value} pod"
        click.echo(f"{value}  ({why})")
    else:
        raw = 1000 - (1000 * (request or 0)) // (capacity or 1)
        note = "" if raw == value else f", clamped to {lo}..{hi}"
        click.echo(f"{value}  (burstable: 1000 - 1000*{request}/{capacity} = {raw}{note})")
