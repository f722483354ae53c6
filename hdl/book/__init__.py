"""The book stage: decoded records in, 64-byte book events out (order table, symbols, price levels)."""
