"""Orders: the interface strategies and risk see, the OUCH 5.0 gateway, and its SoupBinTCP session."""
