"""First-party dpok divergences, registered through the `dpok` entry point like any third-party plugin."""
