"""python layer."""
