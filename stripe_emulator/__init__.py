"""A stateful local double of api.stripe.com and connect.stripe.com for tests, the demo and
benchmarks. `stripe_emulator.testing.run_emulator()` starts one in-process;
`stripe-pipeline emulator` serves one from the command line."""
