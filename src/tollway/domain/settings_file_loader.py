"""Reading a settings file from disk, migrating a legacy one in place first.

``load_settings_file`` is the one function that touches the disk. A legacy file is
rewritten once, atomically, only after its migrated form validates, and the original is
kept next to it as a ``.bak`` backup. The file holds API keys, so neither copy is ever
wider than the original's mode or than owner read/write. Secrets never appear in errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from tollway.domain.settings_file import SettingsDocument, parse_document
from tollway.domain.settings_migration import MigrationResult, is_legacy, migrate_legacy
from tollway.errors import ConfigurationError, ValidationError

__all__ = ["load_settings_file"]

_SAFE_MODE_BITS: Final = 0o600


def load_settings_file(
    path: Path, *, require_known_providers: bool = False, rewrite: bool = True
) -> tuple[SettingsDocument, MigrationResult | None]:
    """Read and validate a settings file, migrating a legacy one in place first.

    The migration result is None when the file was already current. A legacy file is
    rewritten atomically only once its migrated form validates, so on any error the file
    is untouched and no backup is made. ``rewrite=False`` (a dry run) migrates in memory
    only and leaves the file as it is.
    """
    target = path.resolve()  # through a symlink: replace the file, not the link
    original = _read_bytes(target)
    try:
        raw = _decode_json(original)
        if not is_legacy(raw):
            return parse_document(raw, require_known_providers=require_known_providers), None
        result = migrate_legacy(raw)
        doc = parse_document(result.raw, require_known_providers=require_known_providers)
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc.message}", details=exc.details) from None
    if not rewrite:
        return doc, result
    backup = _write_migrated(target, original, result.raw)
    return doc, replace(result, backup_path=backup)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read the settings file: {exc.strerror}") from None


def _decode_json(data: bytes) -> object:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not UTF-8 text (byte offset {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg names the problem without quoting the document (which may hold keys).
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise ValidationError(message, details={"line": exc.lineno, "column": exc.colno}) from None


def _write_migrated(target: Path, original: bytes, raw: Mapping[str, Any]) -> Path:
    """Backup first, then replace: a crash in between leaves the original in place."""
    info = target.stat()
    # The file holds API keys: never wider than it was, never wider than owner read/write.
    mode = stat.S_IMODE(info.st_mode) & _SAFE_MODE_BITS
    data = (json.dumps(raw, indent=2, ensure_ascii=False) + "\n").encode()
    try:
        backup = _write_backup(target, original, mode, info)
        _replace_atomically(target, data, mode, info)
    except OSError as exc:
        raise ConfigurationError(
            f"{target}: cannot write the migrated settings file ({exc.strerror}); "
            "the original is unchanged"
        ) from exc
    return backup


def _write_backup(target: Path, data: bytes, mode: int, info: os.stat_result) -> Path:
    # Never overwrite an existing backup: it may be the only copy of something else.
    for attempt in range(1000):
        suffix = ".bak" if attempt == 0 else f".bak.{attempt}"
        candidate = target.with_name(target.name + suffix)
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _SAFE_MODE_BITS)
        except FileExistsError:
            continue
        _fill(fd, data, mode, info)
        return candidate
    raise FileExistsError(f"no free backup name next to {target.name}")


def _replace_atomically(target: Path, data: bytes, mode: int, info: os.stat_result) -> None:
    # Same directory as the target, so os.replace is a rename on one filesystem.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        _fill(fd, data, mode, info)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _fill(fd: int, data: bytes, mode: int, info: os.stat_result) -> None:
    """Write, set owner and mode, flush to disk, close."""
    with os.fdopen(fd, "wb") as handle:
        # Keep the original owner when allowed (e.g. root migrating a user's file).
        with contextlib.suppress(OSError):
            os.fchown(handle.fileno(), info.st_uid, info.st_gid)
        os.fchmod(handle.fileno(), mode)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable; some filesystems refuse to fsync a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
