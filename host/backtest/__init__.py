"""Backtests: one day (`day.run_day`), the queue-exact fill simulator (`fills`), its book (`feed_book`), results."""
