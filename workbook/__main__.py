"""``python -m workbook`` runs the ``nfwb`` command."""
from .cli import main

raise SystemExit(main())
