"""The demo stack: a real model pair with fault knobs, and an optional real Prometheus. Only the CLI starts it."""
