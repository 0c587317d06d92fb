"""venv layer."""
