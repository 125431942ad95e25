"""Background upkeep: the sweeps Procrastinate runs, and the report of how they run."""
