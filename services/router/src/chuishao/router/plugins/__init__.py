"""Built-in category plugins: ordinary plugins, registered through the same entry-point
group as third-party ones (see services/router/pyproject.toml). Each module's rules are
declared in the TOML file of its name beside it and read by `rules.declared_plugin`."""
