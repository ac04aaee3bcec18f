"""Write docs/api/openapi.json from the code of the service API.

Run after changing a route, a model or a parameter of the API:

    python tools/export_openapi.py          # write the document
    python tools/export_openapi.py --check  # exit 1 if the committed document is out of date

The output is deterministic (sorted keys, two-space indent, trailing newline), so the diff shows
exactly what changed; tests/unit/service/test_openapi_drift.py fails until it is committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tradepulse.service.openapi import DOCUMENT_PATH, openapi_document, render  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is out of date")
    args = parser.parse_args(argv)
    target = ROOT / DOCUMENT_PATH
    text = render(openapi_document())
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if args.check:
        if current != text:
            print(f"{DOCUMENT_PATH} is out of date; run: python tools/export_openapi.py", file=sys.stderr)
            return 1
        print(f"{DOCUMENT_PATH} is up to date", file=sys.stderr)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {DOCUMENT_PATH}" + (" (unchanged)" if current == text else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
