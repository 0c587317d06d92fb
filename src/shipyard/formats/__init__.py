"""Import and export of the formats users already have (requirements files, environment.yml …)."""
