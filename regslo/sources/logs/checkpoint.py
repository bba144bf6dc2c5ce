"""Atomic checkpoint file: file positions and metric totals written together, so they always agree."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

VERSION = 1


class CheckpointError(Exception):
    pass


class CheckpointStore:
    def __init__(self, directory: Path, name: str = "logs-checkpoint.json"):
        self.directory = Path(directory)
        self.path = self.directory / name

    def load(self) -> dict[str, Any] | None:
        """The saved state, None if there is none; ``CheckpointError`` if it is unreadable or foreign."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise CheckpointError(f"{self.path}: not valid JSON") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise CheckpointError(f"{self.path}: unknown checkpoint version")
        return data

    def save(self, data: dict[str, Any]) -> None:
        """Write to a temporary file, fsync, rename over the old one, fsync the directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"version": VERSION, **data}, separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
