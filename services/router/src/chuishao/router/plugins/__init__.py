"""Built-in category plugins."""
