"""Built-in category plugins: ordinary plugins, registered through the same entry-point
group as third-party ones (see services/router/pyproject.toml)."""
