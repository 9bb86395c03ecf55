"""Fixtures of the catalog tests."""

from sas_endpoint import tokens  # noqa: F401  (the fixture)
