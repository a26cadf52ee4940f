"""Benchmark modules; each registers its benchmarks with `bench.registry.benchmark`."""
