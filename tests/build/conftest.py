"""Fixtures of the build tests."""

from tests.build.wheels import model_wheels

__all__ = ["model_wheels"]
