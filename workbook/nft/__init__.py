"""nftables: native tables, their tracer and their kernel lab."""
