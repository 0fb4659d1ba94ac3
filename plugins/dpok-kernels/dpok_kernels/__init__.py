"""First-party dpok kernels, registered through the `dpok` entry point like any third-party plugin."""
