"""Painted widgets shared by the screens: the weight gauge and the camera preview."""
