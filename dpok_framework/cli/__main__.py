"""``python -m dpok_framework.cli`` == ``dpok``."""

from .main import main

main()
