"""The application's frame: assembly, main window, sign-in, status bar, settings."""
