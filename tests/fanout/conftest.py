"""Fan-out tests run against an emulator serving a handful of small accounts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stripe_emulator.testing import EmulatorHandle

FANOUT = {"seed": 11, "accounts": 4, "charges": 15, "unconnected_accounts": 0}


@pytest.fixture
def emulator(make_emulator: Callable[..., EmulatorHandle]) -> EmulatorHandle:
    return make_emulator(**FANOUT)
