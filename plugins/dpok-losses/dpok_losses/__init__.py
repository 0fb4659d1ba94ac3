"""First-party dpok preference losses."""
