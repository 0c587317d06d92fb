"""Version control sources: fetching a requested revision and exporting its tree."""
