"""``tradepulse store migrate``: copy a journal from a SQLite file into PostgreSQL, exactly.

Moving a service from one host's files to a shared PostgreSQL store (docs/deployment.md): stop the
service, copy each journal, point ``[service] store`` at the database, start it again; it warm
starts from the copied journals as if nothing had moved.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tradepulse.cli._common import add_json_flag, print_json
from tradepulse.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    store = subparsers.add_parser("store", help="journal stores: copy a SQLite journal into PostgreSQL",
                                  description="Journal stores (docs/deployment.md).")
    actions = store.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    migrate = actions.add_parser(
        "migrate",
        help="copy a SQLite journal into a new PostgreSQL journal, event for event",
        description=("Copy every event of SQLITE_FILE (same sequence numbers, times, kinds, correlation ids and\n"
                     "payloads) into the new, empty PostgreSQL journal POSTGRES_URL?journal=NAME, in one transaction,\n"
                     "then read both back and compare them. The password comes from TRADEPULSE_STORE_PASSWORD\n"
                     "(or _FILE). Stop the service that writes SQLITE_FILE first."),
        epilog=("Example:\n  tradepulse store migrate live-state/journals/btc-sma.sqlite \\\n"
                "      'postgresql://tradepulse@db:5432/trading?journal=tradepulse.btc-sma'\n"
                "A service named N keeps strategy S's journal as N.S and its own as N.service."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    migrate.add_argument("source", metavar="SQLITE_FILE")
    migrate.add_argument("target", metavar="POSTGRES_URL")
    add_json_flag(migrate)
    migrate.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from tradepulse.store import Journal
    from tradepulse.store.postgres import PgLocation, copy_journal

    source = Path(args.source).expanduser()
    if not source.is_file():
        raise ConfigError(f"{source}: no such journal file")
    target = PgLocation.parse(args.target)
    with Journal(source, read_only=True) as reader:
        last = reader.last_seq()
        copied = copy_journal(reader.iter_events(), target)
        with Journal(target, read_only=True) as written:
            # Read both back: the copy is the same record, event for event, or the command fails.
            for original, copy in zip(reader.iter_events(), written.iter_events(), strict=True):
                if (original.seq, original.ts, original.kind, original.correlation_id, original.payload_text) != \
                        (copy.seq, copy.ts, copy.kind, copy.correlation_id, copy.payload_text):
                    raise ConfigError(f"event {original.seq} reads back differently from {target}; the copy is not trustworthy")
            integrity = written.integrity_check()
    if integrity != "ok":
        raise ConfigError(f"{target}: integrity check says {integrity}")
    result = {"source": str(source), "target": str(target), "events": copied, "last_seq": last}
    if args.json:
        print_json(result)
    else:
        print(f"copied {copied} events (seq 1..{last}) from {source} into {target}; read back identical")
    return 0
