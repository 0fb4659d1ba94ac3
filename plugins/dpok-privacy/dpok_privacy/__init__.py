"""First-party dpok privacy plugin."""
