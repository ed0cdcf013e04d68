"""The simulated hood: camera scene and camera, the hood's physical world, demo content, the seeder.

Only the bootstrap's demo wiring, the qualification and the command line import it; nothing a
real station runs depends on it.
"""
