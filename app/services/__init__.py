"""Domain services: the one way forms, CSV imports and the CLI change data."""
