"""Entry-point module of the first-party privacy plugin (components are added by their own issue)."""
