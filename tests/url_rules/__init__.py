"""Access rules for the URL-by-persona test, one module per area of the product.

Each module defines `RULES: dict[str, Rule]` and may define `scenario(personas, scene)`,
which returns more objects for its rules' URL kwargs (`scene` holds the shared ones).
"""

import importlib
import pkgutil


def area_modules() -> list:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
