"""Typed access to environment variables that fails loudly on a bad value."""

import builtins
import ipaddress
import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_MISSING: Any = object()


class Env:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def _raw(self, name: builtins.str, default: Any) -> Any:
        if name in self.environ:
            return self.environ[name]
        if default is _MISSING:
            raise ImproperlyConfigured(f"Environment variable {name} is required.")
        return default

    def str(self, name: builtins.str, default: Any = _MISSING) -> Any:
        return self._raw(name, default)

    def bool(self, name: builtins.str, default: Any = _MISSING) -> Any:
        value = self._raw(name, default)
        if isinstance(value, bool) or value is None:
            return value
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false).")

    def int(self, name: builtins.str, default: Any = _MISSING, *, minimum: int = 0) -> Any:
        value = self._raw(name, default)
        if isinstance(value, int) or value is None:
            return value
        try:
            number = int(value.strip())
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
        if number < minimum:
            if minimum == 0:
                raise ImproperlyConfigured(f"{name}={value!r} must not be negative.")
            raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}.")
        return number

    def list(self, name: builtins.str, default: Any = _MISSING) -> Any:
        value = self._raw(name, default)
        if isinstance(value, list):
            return value
        return [item.strip() for item in value.split(",") if item.strip()]

    def networks(self, name: builtins.str, default: Any = _MISSING) -> Any:
        """Comma-separated addresses or networks: 127.0.0.1, 10.0.0.0/8, ::1."""
        networks = []
        for item in self.list(name, default):
            if not isinstance(item, builtins.str):
                networks.append(item)
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ImproperlyConfigured(
                    f"{name}: {item!r} is not an IP address or network."
                ) from None
        return networks


def read_env_file(path: Path) -> None:
    """Add KEY=VALUE lines of `path` (if it exists) to the environment, never overriding a
    variable that is already set. Blank lines and # comments are skipped."""
    if not path.is_file():
        return
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ImproperlyConfigured(f"{path}, line {number}: expected NAME=value.")
        os.environ.setdefault(name.strip(), value.strip())
