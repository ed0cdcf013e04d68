"""What a site configures: the station's configuration file, the formulary and worklist files."""
