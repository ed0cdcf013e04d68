"""Watch a folder for order files (FHIR ``.json`` or HL7 ``.hl7``) dropped by an interface.

A file is offered once per content: it is remembered by name, modification time and size,
so a file rewritten in place is read again (and the order book's idempotency on message id
keeps a repeated message from creating a second order). A file still being written is left
for the next pass: only files whose size has not changed since the previous pass are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".json", ".hl7")


@dataclass
class FolderWatch:
    """New or changed order files in ``folder``, pass by pass."""

    folder: Path
    _seen: set[tuple[str, int, int]] = field(default_factory=set)
    _sizes: dict[str, int] = field(default_factory=dict)

    def pending(self) -> list[Path]:
        """Files to read now: new or changed, and no longer growing."""
        if not self.folder.is_dir():
            raise FileNotFoundError(f"folder {self.folder} does not exist")
        ready = []
        for path in sorted(self.folder.iterdir()):
            if path.suffix.lower() not in SUFFIXES or not path.is_file():
                continue
            stat = path.stat()
            key = (path.name, stat.st_mtime_ns, stat.st_size)
            if key in self._seen:
                continue
            if self._sizes.get(path.name) != stat.st_size:
                self._sizes[path.name] = stat.st_size  # may still be growing: next pass
                continue
            self._seen.add(key)
            ready.append(path)
        return ready
