"""Fixtures of the emulator's own tests: a settable emulator clock and a running emulator with one
tenant and one service principal, its settings applied to the process environment (the root conftest
has already stripped the developer's proxy, CA, Azure and Kubernetes variables)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from acr_refresh.emulator import Emulator

TENANT = "00000000-0000-0000-0000-0000000000aa"
GOV_TENANT = "00000000-0000-0000-0000-0000000000ab"
CLIENT = "00000000-0000-0000-0000-0000000000c1"
SECRET = "emulator-test-secret"


class FakeClock:
    """A settable clock for the emulator (the clients keep real time)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def em(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A running emulator driven by ``clock``, with ``TENANT`` and the service principal ``CLIENT``."""
    with Emulator(clock=clock) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        emulator.add_tenant(TENANT)
        emulator.add_service_principal(TENANT, CLIENT, SECRET)
        yield emulator
