"""lock layer."""
