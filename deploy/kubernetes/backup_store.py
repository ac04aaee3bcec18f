#!/usr/bin/env python3
"""Back up the strategy store while the service runs: ``backup_store.py --store DIR --output-dir DIR``.

The store (docs/governance.md) is ``promotions.sqlite``, the append-only record of decisions, and
``versions/<id>/``, each version's captured source and manifest, never rewritten. The record is
copied with SQLite's online backup API (a consistent snapshot while the service and the authors
keep writing) and checked with ``PRAGMA integrity_check``; the version folders are copied as they
are. Both go with a ``MANIFEST.json`` (versions, decisions, integrity) into
``store-<UTC time>.tar.gz`` in the output folder, written under a temporary name and renamed when
complete. ``--keep-days N`` then deletes this script's archives older than N days.

The backup CronJob of deploy/kubernetes/backup.yaml runs it beside ``pg_dump``; by hand:

    kubectl -n tradepulse exec tradepulse-0 -- python /etc/tradepulse/backup/backup_store.py \\
        --store /var/lib/tradepulse-store --output-dir - > store.tar.gz

(``--output-dir -`` writes the archive to standard output.) Exit code 0 when the copy is intact,
1 otherwise. Standard library only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RECORD = "promotions.sqlite"
PREFIX = "store-"


def _copy_record(source_path: Path, target_path: Path) -> dict:
    source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)
        integrity = target.execute("PRAGMA integrity_check").fetchone()[0]
        tables = [row[0] for row in target.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        rows = {table: target.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}
    finally:
        target.close()
        source.close()
    return {"integrity": integrity, "rows": rows}


def build(store: Path, output: io.BufferedIOBase) -> dict:
    """Write the archive of ``store`` to ``output``; return its manifest."""
    record = store / RECORD
    if not record.is_file():
        raise SystemExit(f"backup_store: no strategy store at {store} (no {RECORD})")
    versions = sorted(path for path in (store / "versions").glob("*") if path.is_dir()) if (store / "versions").is_dir() else []
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / RECORD
        checked = _copy_record(record, copy)
        manifest = {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "store": str(store),
            "record": {"file": RECORD, **checked},
            "versions": [path.name for path in versions],
        }
        with tarfile.open(fileobj=output, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo("MANIFEST.json")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
            tar.add(copy, arcname=RECORD)
            for path in versions:
                tar.add(path, arcname=f"versions/{path.name}")
    return manifest


def _prune(output_dir: Path, keep_days: float) -> list[str]:
    limit = time.time() - keep_days * 86400
    removed = []
    for path in sorted(output_dir.glob(f"{PREFIX}*.tar.gz")):
        if path.stat().st_mtime < limit:
            path.unlink()
            removed.append(path.name)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, type=Path, help="the strategy store folder")
    parser.add_argument("--output-dir", required=True, help="folder for store-<UTC time>.tar.gz, or - for standard output")
    parser.add_argument("--keep-days", type=float, default=None, help="delete this script's archives older than this")
    args = parser.parse_args(argv)
    if args.output_dir == "-":
        manifest = build(args.store, sys.stdout.buffer)
    else:
        output_dir = Path(args.output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        name = f"{PREFIX}{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
        partial = output_dir / f".{name}.partial"
        with open(partial, "wb") as handle:
            manifest = build(args.store, handle)
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(output_dir / name)
        removed = _prune(output_dir, args.keep_days) if args.keep_days is not None else []
        print(json.dumps({"archive": str(output_dir / name), "versions": len(manifest["versions"]),
                          "integrity": manifest["record"]["integrity"], "pruned": removed}), file=sys.stderr)
    return 0 if manifest["record"]["integrity"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
