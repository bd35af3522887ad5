"""Shared fixtures (a manual broker, an event recorder that sees every topic) and the
skip policy: in CI (``CI`` set, as ``.ci/run`` does) a test that skips fails, unless it is
on ``ALLOWED_SKIPS`` below with the reason it may skip there (see tests/README.md)."""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

import paperbroker as pb

# Tests that may skip in CI: node id (without parameters) -> why.  Keep it short; a test
# that skips for want of a tool CI should install belongs in .ci/run, not here.
ALLOWED_SKIPS: dict[str, str] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """In CI a skip that is not allowed becomes a failure, with the skip's reason."""
    report = yield
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        name = item.nodeid.split("[", 1)[0]
        if name not in ALLOWED_SKIPS:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            report.outcome = "failed"
            report.longrepr = (
                f"{item.nodeid} skipped in CI ({reason}); CI must run every test. Install what it "
                "needs in .ci/run, or add it to ALLOWED_SKIPS in tests/conftest.py with the reason."
            )
    return report


@dataclass
class Recorder:
    """Records (topic type, payload) in arrival order across all subscribed topics."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def of(self, kind: str) -> list[Any]:
        return [payload for k, payload in self.events if k == kind]

    def clear(self) -> None:
        self.events.clear()


CASCADE_TOPICS = ("executions", "orders", "positions", "equity", "pl")


def record(broker: pb.BrokerService, account_id: str = pb.DEFAULT_ACCOUNT) -> Recorder:
    rec = Recorder()
    for kind in CASCADE_TOPICS:
        broker.subscribe(pb.topic(kind, account_id), lambda payload, k=kind: rec.events.append((k, payload)))
    return rec


@pytest.fixture
def broker() -> pb.BrokerService:
    """A manual-mode broker with a simulated clock: nothing fills unless told."""
    return pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)


@pytest.fixture
def recorder(broker: pb.BrokerService) -> Recorder:
    return record(broker)
