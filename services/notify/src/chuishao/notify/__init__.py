"""Notify: delivers to units' own channels and to residents."""
