"""Policy registry and the built-in scheduling and placement policies.

Write your own by subclassing :class:`SchedulingPolicy` or :class:`PlacementPolicy` and
decorating the class with ``@register(kind, name)``; scenario files then refer to it by name.
"""

from . import (  # noqa: F401  (registers the built-ins)
    autoscaling,
    elastic,
    gavel,
    placement,
    preemptive,
    quotas,
    replicas,
    scheduling,
)
from .base import (
    ClusterView,
    Params,
    Placement,
    PlacementPolicy,
    ScheduleDecision,
    SchedulingPolicy,
)
from .registry import PolicyError, create, names, register

__all__ = [
    "ClusterView",
    "Params",
    "Placement",
    "PlacementPolicy",
    "PolicyError",
    "ScheduleDecision",
    "SchedulingPolicy",
    "create",
    "names",
    "register",
]
