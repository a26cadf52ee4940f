"""The benchmark registry: each benchmark is a function returning a `Result`.

To add one, create a module in `bench/benchmarks/` and decorate a function:

    @benchmark("ledger.journal_post", "Journal entries posted by the service vs raw SQL")
    def journal_post(ctx: Context) -> Result:
        ...
        return Result(measured=..., limit=..., units="entries/s", target=0.5)

Modules in `bench/benchmarks/` are imported automatically, in name order.
"""

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Context:
    """What every benchmark gets: run options and the objects the setup created."""

    repeat: int
    scale: float
    database_url: str
    user: Any
    options: dict[str, Any] = field(default_factory=dict)

    def count(self, full: int, minimum: int = 1) -> int:
        """`full` scaled by --scale (for quick runs), never below `minimum`."""
        return max(minimum, round(full * self.scale))


@dataclass(frozen=True)
class Result:
    measured: float
    limit: float
    units: str
    # Pass when measured/limit >= target (rates), or <= target when lower is better
    # (durations, latencies).
    target: float
    higher_is_better: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.measured / self.limit if self.limit else float("nan")

    @property
    def passed(self) -> bool:
        if self.higher_is_better:
            return self.ratio >= self.target
        return self.ratio <= self.target


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    run: Callable[[Context], Result]


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, description: str, **kwargs: Any):
    """Register the decorated function; `kwargs` are passed to it after the context.

    The same function may be registered several times under different names and
    arguments (e.g. one thread and four threads).
    """

    def register(func: Callable[..., Result]) -> Callable[..., Result]:
        if name in REGISTRY:
            raise ValueError(f"Benchmark {name!r} is registered twice.")
        REGISTRY[name] = Benchmark(name, description, lambda ctx: func(ctx, **kwargs))
        return func

    return register


def discover() -> dict[str, Benchmark]:
    """Import every module of bench.benchmarks so their benchmarks register themselves."""
    import bench.benchmarks as package

    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return REGISTRY
