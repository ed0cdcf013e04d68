"""IV compounding station: the domain core, its adapters and the command line."""
