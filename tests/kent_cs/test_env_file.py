"""manage.py's local .env: fills in what the environment lacks, never overrides it."""

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from kent_cs.env import read_env_file


def test_env_file_fills_in_missing_variables_only(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("# local\n\nKENT_TEST_ONLY_A=from-file\nKENT_TEST_ONLY_B = spaced \n")
    monkeypatch.setenv("KENT_TEST_ONLY_A", "from-environment")
    monkeypatch.delenv("KENT_TEST_ONLY_B", raising=False)
    read_env_file(path)
    assert os.environ["KENT_TEST_ONLY_A"] == "from-environment"
    assert os.environ["KENT_TEST_ONLY_B"] == "spaced"
    monkeypatch.delenv("KENT_TEST_ONLY_B")


def test_a_malformed_line_is_named(tmp_path):
    path = tmp_path / ".env"
    path.write_text("GOOD=1\nthis is not a setting\n")
    with pytest.raises(ImproperlyConfigured, match=r"line 2: expected NAME=value"):
        read_env_file(path)


def test_a_missing_file_is_ignored(tmp_path):
    read_env_file(tmp_path / "absent.env")
