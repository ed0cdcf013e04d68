"""The technician's screens at the hood: worklist, guided preparation, simulated-hood panel."""
