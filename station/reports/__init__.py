"""The documents the station writes: the compounding record and the qualification report."""
