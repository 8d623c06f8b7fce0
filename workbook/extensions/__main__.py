"""``python -m workbook.extensions``: print the extension coverage table (markdown) for README.md."""

from __future__ import annotations

import sys

from ._coverage import table


def main() -> int:
    """Print the table; it goes between the README's extension-coverage markers."""
    sys.stdout.write(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
