"""What the station prints: the compounding record, the qualification report, labels."""
