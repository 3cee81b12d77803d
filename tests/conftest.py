"""Shared pytest setup. Fixtures live in tests/fixtures/, one module per concern."""

pytest_plugins = [
    "tests.fixtures.scratch",
    "tests.fixtures.services",
    "tests.fixtures.listener",
    "tests.fixtures.emulator",
    "tests.fixtures.warehouse",
    "tests.fixtures.transform",
    "tests.fixtures.webhook_receiver",
    "tests.fixtures.orchestration",
    "tests.fixtures.browser",
    "tests.fixtures.console",
]
