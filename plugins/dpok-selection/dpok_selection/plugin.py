"""Entry-point module of the first-party selection plugin (components are added by their own issue)."""
