"""The local exchange simulator: OUCH 5.0 over SoupBinTCP, filling orders against the replayed book."""
