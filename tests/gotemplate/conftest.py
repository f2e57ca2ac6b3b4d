"""Fixtures for the conformance tests: one Go oracle process for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .oracle import Oracle, OracleError


@pytest.fixture(scope="session")
def go_oracle() -> Iterator[Oracle]:
    try:
        oracle = Oracle()
    except OracleError as exc:  # never a silent skip: the toolchain is part of the test set-up
        pytest.fail(str(exc), pytrace=False)
    with oracle:
        yield oracle
