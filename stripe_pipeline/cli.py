"""`stripe-pipeline`: the project's command line. Each subcommand lives in its own module, which
keeps its heavy imports inside `run`, so `stripe-pipeline emulator` does not pay for Dagster."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, help). Each module exposes `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "emulator": ("stripe_emulator.cli", "serve the local Stripe API emulator"),
    "listener": (
        "webhook_listener.cli",
        "serve the webhook listener (webhooks, Connect OAuth, sync routes)",
    ),
    "sync": (
        "stripe_pipeline.sync_cli",
        "sync Stripe accounts, build the marts and publish them (Dagster assets)",
    ),
    "publish": (
        "stripe_pipeline.publish",
        "publish the marts to the serving DuckDB file and Parquet files",
    ),
    "demo": ("stripe_pipeline.demo", "run the whole pipeline against the local Stripe emulator"),
    "connect": ("stripe_pipeline.connect_cli", "print the Stripe Connect OAuth link for a project"),
}


def main(argv: list[str] | None = None) -> int:
    from stripe_pipeline.stripe_sdk_logging import silence_stripe_sdk_console

    # Before any command runs (and any process it starts): STRIPE_LOG would print secrets.
    silence_stripe_sdk_console()
    parser = argparse.ArgumentParser(prog="stripe-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=help_text, description=module.__doc__))
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
