#!/usr/bin/env python3
"""Back up the live service's SQLite journals while it runs: ``tradepulse-backup [--state-dir DIR] OUTPUT``.

Copies ``service.sqlite`` and every ``journals/*.sqlite`` of the state directory with SQLite's
online backup API (the same consistent snapshot as the ``sqlite3`` shell's ``.backup``; the
service keeps writing meanwhile), checks each copy with ``PRAGMA integrity_check``, and writes
them with a ``MANIFEST.json`` (file, events, last seq, schema version) into a ``.tar.gz``.
OUTPUT ``-`` writes the archive to standard output, so a container can stream it to the host:

    docker compose -f deploy/compose.yaml exec -T tradepulse tradepulse-backup - > backup.tar.gz

Exit code 0 when every copy is intact, 1 otherwise. Standard library only (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path


def _databases(state_dir: Path) -> list[Path]:
    found = [state_dir / "service.sqlite"] if (state_dir / "service.sqlite").exists() else []
    return found + sorted((state_dir / "journals").glob("*.sqlite"))


def _copy(source_path: Path, target_path: Path) -> dict:
    source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)
        integrity = target.execute("PRAGMA integrity_check").fetchone()[0]
        events, last_seq = target.execute("SELECT count(*), max(seq) FROM events").fetchone()
        version = target.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    finally:
        source.close()
        target.close()
    return {"integrity": integrity, "events": events, "last_seq": last_seq, "schema_version": version}


def backup(state_dir: Path, output: io.BufferedIOBase) -> bool:
    """Write the archive of ``state_dir``'s journals to ``output``; return whether every copy is intact."""
    databases = _databases(state_dir)
    if not databases:
        raise SystemExit(f"tradepulse-backup: no journals under {state_dir}")
    manifest = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"), "state_dir": str(state_dir), "files": {}}
    with tempfile.TemporaryDirectory() as scratch:
        copies = []
        for database in databases:
            relative = database.relative_to(state_dir)
            copy = Path(scratch) / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            manifest["files"][str(relative)] = _copy(database, copy)
            copies.append((copy, relative))
        with tarfile.open(fileobj=output, mode="w|gz") as archive:
            for copy, relative in copies:
                archive.add(copy, arcname=str(relative))
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("MANIFEST.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    bad = [name for name, entry in manifest["files"].items() if entry["integrity"] != "ok"]
    for name in bad:
        print(f"tradepulse-backup: {name}: integrity check failed: {manifest['files'][name]['integrity']}", file=sys.stderr)
    summary = ", ".join(f"{name} ({entry['events']} events)" for name, entry in manifest["files"].items())
    print(f"tradepulse-backup: {summary}", file=sys.stderr)
    return not bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tradepulse-backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", default="/var/lib/tradepulse", help="the service's [service] state_dir (default /var/lib/tradepulse)")
    parser.add_argument("output", help="the .tar.gz to write, or - for standard output")
    args = parser.parse_args(argv)
    state_dir = Path(args.state_dir)
    if args.output == "-":
        return 0 if backup(state_dir, sys.stdout.buffer) else 1
    with open(args.output, "xb") as handle:
        return 0 if backup(state_dir, handle) else 1


if __name__ == "__main__":
    sys.exit(main())
