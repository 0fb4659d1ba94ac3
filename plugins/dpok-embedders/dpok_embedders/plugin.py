"""Entry-point module of the first-party embedders plugin (components are added by their own issue)."""
