"""Test helpers: real servers and real service processes."""
