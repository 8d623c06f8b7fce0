"""Node dumps: load one (any layout, folder or archive), save one, and the evidence rules they are read by.

``node`` holds :class:`NodeDump` and its loader; ``archive`` the safe extraction, ``manifest`` the
MANIFEST.json of our layout, ``confined`` confined reading, ``derived`` the folder beside a dump.
"""

from __future__ import annotations

from .node import (ARCHIVE_SUFFIXES, DUMP_FORMAT, ExtractLimits, NodeDump, extract_archive, load_dump,
                   parse_ip_addresses, save_dump, verify_manifest, write_manifest)

__all__ = ["NodeDump", "load_dump", "save_dump", "write_manifest", "verify_manifest", "extract_archive",
           "parse_ip_addresses", "DUMP_FORMAT", "ARCHIVE_SUFFIXES", "ExtractLimits"]
