"""The bottom layer: plain data every other package shares (no I/O, imports nothing of TradePulse but errors)."""
