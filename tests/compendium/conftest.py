"""Fixtures for the compendium tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def fixed_environment(monkeypatch):
    """Pin the package fingerprint: other files of drugsim may change while the tests run."""
    from drugsim import runner_cache

    monkeypatch.setattr(runner_cache, "environment_fingerprint", lambda: {"drugsim": "test"})
