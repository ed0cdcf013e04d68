"""The Qt desktop views of the station."""
