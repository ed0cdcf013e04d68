"""The one place that builds the station's service graph from its configuration."""
