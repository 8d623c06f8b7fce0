"""Hand-written sources of the datasets (restore inputs and the generators that write them)."""
