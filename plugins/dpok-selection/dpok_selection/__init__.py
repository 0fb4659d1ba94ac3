"""First-party dpok selection plugin."""
