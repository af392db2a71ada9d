"""Test configuration: hypothesis profiles live in tests/strategies.py; warnings are errors."""

from tests.strategies import load_profile

load_profile()
