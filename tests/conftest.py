"""Shared fixtures: a manual broker and an event recorder that sees every topic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

import paperbroker as pb


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
