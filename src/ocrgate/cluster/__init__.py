"""ocrgate on a Ray cluster: the HTTP API as a Ray Serve application (serve_app.py, with the
engines as deployments of their own: engine.py) and corpora through Ray Data (corpus.py).

Ray is an optional extra (``pip install 'ocrgate[ray]'``): nothing outside this package
imports it, and this package is imported only by ``--ray`` commands and Serve configs.
"""

from __future__ import annotations


class RayMissing(RuntimeError):
    """The ``ray`` extra is not installed."""


def require_ray() -> None:
    """Raise :class:`RayMissing` (saying how to install it) when Ray Serve or Ray Data is missing."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
        import ray.serve  # noqa: F401
    except ImportError as exc:
        raise RayMissing(f"Ray is not installed ({exc}); --ray needs the extra: "
                         "pip install 'ocrgate[ray]'") from None
