"""The suite's one switch, `--long`: every configuration of the slowest checks (`bash scripts/test.sh --long`).
Without it, as CI runs the suite, tests marked `long` are skipped; each marks only configurations whose features
a short-form test covers as well (the cases' own docstrings say which)."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", help="run the long form: every configuration of the slowest checks")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long form only (pytest --long)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)
