#!/usr/bin/env python
import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kent_cs.settings")
    if "DJANGO_SECRET_KEY" not in os.environ:
        # Run by hand after bin/run or bin/test: use the local settings they wrote.
        from kent_cs.env import read_env_file

        read_env_file(Path(__file__).resolve().parent / ".env")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
