"""Test doubles shared by the test suite (fake HTTP services)."""
