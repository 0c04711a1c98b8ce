"""The embedded local stack: real servers from wheels plus the four services."""
