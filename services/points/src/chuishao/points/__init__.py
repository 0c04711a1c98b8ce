"""Reward points (积分) for reporters, keyed by their reporter reference (docs/points.md)."""
