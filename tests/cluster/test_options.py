"""Cluster options: replicas or autoscaling as Serve deployment options, the CLI flags, the
Serve-config args; no Ray needed."""

from __future__ import annotations

import argparse

import pytest

from ocrgate.cluster.options import (
    LOCAL_RAY,
    ClusterOptions,
    add_arguments,
    from_arguments,
    parse_autoscale,
)


def test_fixed_replicas() -> None:
    options = ClusterOptions(replicas=3, cpus_per_replica=2.5)
    assert options.capacity == 3 and options.engine_threads == 3 and not options.autoscaled
    assert options.deployment_options() == {
        "max_ongoing_requests": 1, "num_replicas": 3,
        "ray_actor_options": {"num_cpus": 2.5, "num_gpus": 0.0}}


def test_autoscaling_by_queue_length() -> None:
    options = ClusterOptions(min_replicas=0, max_replicas=8, gpus_per_replica=1)
    assert options.autoscaled and options.capacity == 8  # the ingress lets Serve see the queue
    deployment = options.deployment_options()
    assert "num_replicas" not in deployment
    assert deployment["autoscaling_config"] == {
        "min_replicas": 0, "initial_replicas": 1, "max_replicas": 8,
        "target_ongoing_requests": 1.0, "upscale_delay_s": 30.0, "downscale_delay_s": 600.0}
    assert deployment["ray_actor_options"]["num_gpus"] == 1


@pytest.mark.parametrize("bad", [{"replicas": 0}, {"ingress_replicas": 0}, {"attempts": 0},
                                 {"min_replicas": 3, "max_replicas": 2}, {"max_replicas": 0},
                                 {"cpus_per_replica": -1}])
def test_bad_values_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        ClusterOptions(**bad)


def test_serve_config_args() -> None:
    options = ClusterOptions(replicas=2, ingress_replicas=2)
    assert ClusterOptions.from_args(options.to_args()) == options
    with pytest.raises(ValueError, match="unknown cluster option 'replica'"):
        ClusterOptions.from_args({"replica": 2})


def test_autoscale_flag() -> None:
    assert parse_autoscale("1:8") == (1, 8)
    for bad in ("8", "a:b", ""):
        with pytest.raises(ValueError, match="MIN:MAX"):
            parse_autoscale(bad)


def _parse(*argv: str, serving: bool = True) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser, "run", serving=serving)
    return parser.parse_args(argv)


def test_flags() -> None:
    assert _parse().ray is None
    address, options = from_arguments(_parse("--ray"))
    assert address is None and options == ClusterOptions()
    assert _parse("--ray").ray == LOCAL_RAY
    address, options = from_arguments(_parse("--ray", "10.0.0.5:6379", "--autoscale", "2:6",
                                             "--cpus-per-replica", "4", "--ingress-replicas", "2"))
    assert address == "10.0.0.5:6379"
    assert options == ClusterOptions(min_replicas=2, max_replicas=6, cpus_per_replica=4,
                                     ingress_replicas=2)
    address, options = from_arguments(_parse("--ray", "auto", "--replicas", "3", serving=False))
    assert address == "auto" and options.replicas == 3 and options.ingress_replicas == 1
