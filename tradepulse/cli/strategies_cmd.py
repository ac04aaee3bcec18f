"""``tradepulse strategies``: the built-ins, and the project's strategy versions on their way to live.

``list`` (also plain ``tradepulse strategies``) shows the built-in strategies and the stored
versions with their stage; ``show`` one version's manifest and record; ``promote`` captures a
strategy, checks it and promotes it to paper (docs/governance.md). ``approve`` and ``reject`` are
a reviewer's decisions and ``rollback`` an operator's: they go through the running service's API,
so the token proves who decided (an approve token's name is the approver) and the service acts on
the decision at once.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from tradepulse.cli._common import add_json_flag, parse_key_values, print_json

_STORE_HELP = "the strategy store (default $TRADEPULSE_STORE, else .tradepulse/store here)"


def register(subparsers: argparse._SubParsersAction) -> None:
    strategies = subparsers.add_parser(
        "strategies",
        help="list strategies and versions; promote a strategy to paper",
        description="The built-in strategies, and the project's strategy versions: research -> paper -> live.",
        epilog=(
            "Examples:\n"
            "  tradepulse strategies\n"
            "  tradepulse strategies list --json\n"
            "  tradepulse strategies promote my_strategies.py:Breakout sample:binance:BTC/USDT:1h -p window=48\n"
            "  tradepulse strategies show breakout-1a2b3c4d5e6f\n"
            "  TRADEPULSE_API_TOKEN=<your approve token> tradepulse strategies approve breakout-1a2b3c4d5e6f \\\n"
            "      --config live.toml --comment 'paper week matches the backtest'\n"
            "  tradepulse strategies rollback breakout --config live.toml --reason 'fills worse than paper'"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_json_flag(strategies)
    strategies.add_argument("--store", metavar="DIR", help=_STORE_HELP)
    strategies.set_defaults(handler=_list)
    actions = strategies.add_subparsers(dest="action", metavar="ACTION")

    listing = actions.add_parser("list", help="the built-in strategies and the stored versions with their stage")
    add_json_flag(listing)
    listing.add_argument("--store", metavar="DIR", help=_STORE_HELP, default=argparse.SUPPRESS)
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="one version: its manifest, stage and record")
    show.add_argument("version", metavar="VERSION")
    add_json_flag(show)
    show.add_argument("--store", metavar="DIR", help=_STORE_HELP, default=argparse.SUPPRESS)
    show.set_defaults(handler=_show)

    promote = actions.add_parser("promote", help="capture a strategy, run the checks, store the version and promote it to paper")
    promote.add_argument("strategy", metavar="STRATEGY", help="built-in name, package.module:Class, or path/to/file.py[:Class]")
    promote.add_argument("sources", nargs="+", metavar="SOURCE", help="the data the checks and the backtest run on")
    promote.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter (repeatable)")
    promote.add_argument("--author", help="who promotes it (default: the login name)")
    promote.add_argument("--comment", default="", help="what the promotion is for")
    promote.add_argument("--store", metavar="DIR", help=_STORE_HELP, default=argparse.SUPPRESS)
    promote.add_argument("--symbol", action="append", default=[], metavar="FILE=SYMBOL", help="a universe member's symbol")
    promote.add_argument("--align", choices=["intersect", "strict"], default="intersect", help="universes: one clock")
    promote.add_argument("--start", help="first bar to use")
    promote.add_argument("--end", help="last bar to use")
    add_json_flag(promote)
    promote.set_defaults(handler=_promote)

    from tradepulse.cli.service_cmds import _add_target

    for decision, verb in (("approve", "approve a version at paper for live"), ("reject", "send a version at paper back to research")):
        review = actions.add_parser(decision, help=f"{verb} (through the service; needs your approve token)")
        review.add_argument("version", metavar="VERSION")
        review.add_argument("--comment", required=True, help="what was reviewed and why (recorded with the decision)")
        _add_target(review)
        review.set_defaults(handler=_review, decision=decision)
    rollback = actions.add_parser("rollback", help="make the previous approved version live again (through the service; operate token)")
    rollback.add_argument("name", metavar="STRATEGY", help="the strategy name, e.g. sma_cross (not a version)")
    rollback.add_argument("--reason", required=True, help="why (recorded with the rollback)")
    _add_target(rollback)
    rollback.set_defaults(handler=_rollback)


def _store(args: argparse.Namespace) -> Any:
    from tradepulse.promotion import StrategyStore

    return StrategyStore(args.store)


def _list(args: argparse.Namespace) -> int:
    from tradepulse.strategy import list_strategies

    strategies = list_strategies()
    versions = []
    if args.store or _store_exists():
        with _store(args) as store:
            versions = [{**version.to_dict(), "stage": store.stage(version.id)} for version in store.versions()]
    if args.json:
        print_json({
            "strategies": [
                {"name": name, "description": cls.describe(), "portfolio": bool(getattr(cls, "is_portfolio", False)),
                 "params": [spec.to_dict() for spec in cls.param_specs()]}
                for name, cls in sorted(strategies.items())
            ],
            "versions": [{key: row[key] for key in ("id", "name", "params", "author", "created_at", "stage")} for row in versions],
        })
        return 0
    for name, cls in sorted(strategies.items()):
        print(f"{name}: {cls.describe()}")
        for spec in cls.param_specs():
            bounds = cls.param(spec.name).bounds_text()
            print(f"  {spec.name:<16} {spec.type:<6} default {spec.default!s:<8} {bounds:<16} {spec.doc}")
        print()
    print("Custom strategies: --strategy package.module:Class or --strategy path/to/file.py[:Class]")
    print("Single-symbol strategies run over a universe too, each member on an equal share of equity.")
    if versions:
        print("\nVersions in the store:")
        for row in versions:
            print(f"  {row['id']:<32} {row['stage']:<9} {row['author']:<12} {row['created_at']}  {row['params']}")
    return 0


def _store_exists() -> bool:
    from tradepulse.promotion import default_store_path

    return default_store_path().is_dir()


def _show(args: argparse.Namespace) -> int:
    with _store(args) as store:
        version = store.version(args.version)
        document = {**version.to_dict(), "stage": store.stage(version.id), "record": store.history(version.id),
                    "source": str(version.source_path)}
    if args.json:
        print_json(document)
        return 0
    print(f"{document['id']}  {document['stage']}  by {document['author']} at {document['created_at']}")
    print(f"  {document['class']} {document['params']}  ({document['origin']}, source {document['source']})")
    backtest = {key: value for key, value in document["backtest"].items() if key != "walkforward"}
    print(f"  checks: {'passed' if document['checks']['passed'] else 'FAILED'}; backtest: {backtest}")
    walkforward = document["backtest"].get("walkforward")
    if walkforward and "folds" in walkforward:
        print(f"  walk-forward: {walkforward['positive_folds']} of {walkforward['folds']} out-of-sample folds positive "
              f"({walkforward['test_bars']} bars each), returns {walkforward['fold_returns']}")
    elif walkforward:
        print(f"  walk-forward: skipped ({walkforward['skipped']})")
    for entry in document["record"]:
        who = entry.get("actor") or entry.get("approver") or entry.get("author") or ""
        print(f"  {entry['at']}  {entry['kind']:<28} {who:<12} {entry.get('comment', '')}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from tradepulse.cli import EXIT_FAILED_CHECK
    from tradepulse.cli.backtest_cmds import _is_universe, _load, _load_universe
    from tradepulse.promotion import PromotionRefused
    from tradepulse.strategy import load_strategy

    cls = load_strategy(args.strategy)
    strategy = cls.from_strings(parse_key_values(args.param, "-p"))
    data: Any = _load_universe(args, cls) if _is_universe(args, cls) else _load(args)
    author = args.author or getpass.getuser()
    with _store(args) as store:
        version = store.create_version(strategy, data, author=author)
        try:
            promoted: dict[str, Any] | None = store.promote(version.id, data, actor=author, comment=args.comment)
            refusal = None
        except PromotionRefused as error:
            promoted, refusal = None, str(error)
        stage = store.stage(version.id)
    if args.json:
        print_json({"version": version.id, "stage": stage, "promoted": promoted is not None, "refused": refusal,
                    "checks": version.checks})
    else:
        print(f"version {version.id} ({version.origin} source, by {author}): {stage}")
        print(f"  refused: {refusal}" if refusal else "  promoted to paper; approval for live is someone else's")
    return 0 if promoted is not None else EXIT_FAILED_CHECK


def _review(args: argparse.Namespace) -> int:
    return _through_service(_do_review, args)


def _do_review(args: argparse.Namespace) -> int:
    from tradepulse.cli.service_cmds import _client

    with _client(args) as client:
        result = client.approve(args.version, args.comment) if args.decision == "approve" else client.reject(args.version, args.comment)
    return _governance_result(args, result)


def _rollback(args: argparse.Namespace) -> int:
    return _through_service(_do_rollback, args)


def _do_rollback(args: argparse.Namespace) -> int:
    from tradepulse.cli.service_cmds import _client

    with _client(args) as client:
        result = client.rollback(args.name, args.reason)
    return _governance_result(args, result)


def _governance_result(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.json:
        print_json(result)
        return 0
    decision = result["decision"]
    who = decision.get("approver") or decision.get("actor")
    print(f"{decision['version']}: {decision['stage']} ({who}: {decision.get('comment', '')})")
    for change in result["service"]:
        if change["action"] == "loaded":
            print(f"  {change['strategy_id']}: now runs {change['version']} (was {change['previous_version']})")
        else:
            print(f"  {change['strategy_id']}: {change['action']}: {change.get('reason', '')}")
    if not result["service"]:
        print("  the service runs nothing that this changes")
    return 0


def _through_service(handler: Any, args: argparse.Namespace) -> int:
    # A service that does not answer is exit 1 (as `tradepulse live status`); a refusal is exit 2.
    from tradepulse.cli.service_cmds import _service_errors

    return _service_errors(handler)(args)
