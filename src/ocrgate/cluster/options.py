"""How the engines are laid out on a Ray cluster: replicas (fixed or autoscaled by queue
length), the resources each replica declares, the ingress replicas, retries. Plain data (no
Ray import): the CLI builds it from flags, a Serve config from its ``args``."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

LOCAL_RAY = "local"
"""``--ray`` without an address: start a Ray instance on this machine for the command."""


@dataclass(frozen=True)
class ClusterOptions:
    replicas: int = 1
    """Replicas of each engine deployment (one engine per replica) when not autoscaled."""
    min_replicas: int | None = None
    max_replicas: int | None = None
    """Autoscaling by queue length when ``max_replicas`` is set: Serve adds replicas while
    more than ``target_ongoing_requests`` requests per replica are running or waiting."""
    target_ongoing_requests: float = 1.0
    upscale_delay_s: float = 30.0
    downscale_delay_s: float = 600.0
    """How long the queue must stay long (short) before Serve adds (removes) replicas: Serve's
    defaults; a replica costs a model load, so scaling down is slow on purpose."""
    cpus_per_replica: float = 1.0
    """Ray resources each engine replica declares (the scheduler places replicas by them);
    the embedded engine also runs that many inference threads (at least one)."""
    gpus_per_replica: float = 0.0
    ingress_replicas: int = 1
    """Replicas of the HTTP ingress. Rate-limit windows live in each ingress replica, so
    with N of them an account gets up to N times its limit (as with N single servers)."""
    attempts: int = 2
    """Tries per request when the replica running it dies (engine errors are not retried)."""

    def __post_init__(self) -> None:
        if self.replicas < 1 or self.ingress_replicas < 1 or self.attempts < 1:
            raise ValueError("replicas, ingress_replicas and attempts must be at least 1")
        if self.max_replicas is not None:
            low = self.min_replicas if self.min_replicas is not None else 1
            if low < 0 or self.max_replicas < max(1, low):
                raise ValueError("autoscaling needs 0 <= min_replicas <= max_replicas (>= 1)")
        if self.cpus_per_replica < 0 or self.gpus_per_replica < 0:
            raise ValueError("cpus_per_replica and gpus_per_replica cannot be negative")

    @property
    def autoscaled(self) -> bool:
        return self.max_replicas is not None

    @property
    def capacity(self) -> int:
        """Requests one ingress sends an engine deployment at once: one per replica it may
        have (so Serve sees the queue it autoscales on)."""
        return self.max_replicas if self.max_replicas is not None else self.replicas

    @property
    def engine_threads(self) -> int:
        return max(1, math.ceil(self.cpus_per_replica))

    def deployment_options(self) -> dict[str, Any]:
        """Ray Serve options of an engine deployment: one request at a time per replica."""
        opts: dict[str, Any] = {
            "max_ongoing_requests": 1,
            "ray_actor_options": {"num_cpus": self.cpus_per_replica,
                                  "num_gpus": self.gpus_per_replica},
        }
        if self.autoscaled:
            low = self.min_replicas if self.min_replicas is not None else 1
            opts["autoscaling_config"] = {
                "min_replicas": low, "initial_replicas": max(1, low),
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
                "upscale_delay_s": self.upscale_delay_s,
                "downscale_delay_s": self.downscale_delay_s,
            }
        else:
            opts["num_replicas"] = self.replicas
        return opts

    def to_args(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> ClusterOptions:
        """From a Serve config's ``args`` (unknown keys are an error, not ignored)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(args) - names)
        if unknown:
            raise ValueError(f"unknown cluster option '{unknown[0]}' (known: {', '.join(sorted(names))})")
        return cls(**args)


def parse_autoscale(text: str) -> tuple[int, int]:
    """``MIN:MAX`` (e.g. ``1:8``) as two integers."""
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(low), int(high)
    except ValueError:
        raise ValueError(f"--autoscale takes MIN:MAX replicas, e.g. 1:8 (got {text!r})") from None


def add_arguments(parser: argparse.ArgumentParser, what: str, serving: bool) -> None:
    """``--ray [ADDRESS]`` and the replica options, for ``serve`` and ``batch``."""
    group = parser.add_argument_group("Ray (the ray extra)")
    group.add_argument("--ray", nargs="?", const=LOCAL_RAY, default=None, metavar="ADDRESS",
                       help=f"{what} on the Ray cluster at ADDRESS (host:port, ray://host:port "
                            "or auto); without one, on a Ray instance started here")
    group.add_argument("--replicas", type=int, default=1,
                       help="engines on the cluster (one per replica/actor; default 1)")
    group.add_argument("--autoscale", metavar="MIN:MAX", default=None,
                       help="scale the engines by queue length between MIN and MAX")
    group.add_argument("--cpus-per-replica", type=float, default=1.0,
                       help="CPUs each engine declares (and its inference threads)")
    group.add_argument("--gpus-per-replica", type=float, default=0.0,
                       help="GPUs each engine declares (local vision-language engines)")
    if serving:
        group.add_argument("--ingress-replicas", type=int, default=1,
                           help="HTTP ingress replicas (rate-limit windows are per replica)")


def from_arguments(args: argparse.Namespace) -> tuple[str | None, ClusterOptions]:
    """(address or None for a local instance, options) from :func:`add_arguments`' flags;
    ``ValueError`` names a bad one."""
    low, high = parse_autoscale(args.autoscale) if args.autoscale else (None, None)
    options = ClusterOptions(replicas=args.replicas, min_replicas=low, max_replicas=high,
                             cpus_per_replica=args.cpus_per_replica,
                             gpus_per_replica=args.gpus_per_replica,
                             ingress_replicas=getattr(args, "ingress_replicas", 1))
    return (None if args.ray == LOCAL_RAY else args.ray), options
