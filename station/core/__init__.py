"""The pure domain core: identities, formulary, orders, gravimetry, workflow.

Nothing here does I/O, reads the clock, or imports Qt, serial, SQL or OpenCV; an
import-linter contract in ``pyproject.toml`` checks that.
"""
