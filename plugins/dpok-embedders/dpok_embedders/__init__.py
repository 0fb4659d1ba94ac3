"""First-party dpok embedders plugin."""
