"""Benchmarks that report each measurement as a ratio against a limit measured in the same run.

The machine this runs on is shared and noisy, so no benchmark compares against a fixed
number of seconds: each one also measures what the hardware can do at best (the "limit",
e.g. hand-written SQL writing the same rows, or pgbench on the same server) and passes
when measured/limit reaches its target ratio. Run everything with `bin/bench`.
"""
