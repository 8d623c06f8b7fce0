"""Node dumps for the notebooks and tests, and the builder that re-creates their derived files."""
