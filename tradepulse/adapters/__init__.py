"""Venue adapters, one folder per kind: :mod:`.paper` (in process, simulated) and :mod:`.ccxt` (exchanges).

Each kind has a factory that builds, from config, what an engine needs to trade there: the venue,
its market-data feed, the costs sizing assumes, and the clock (:func:`build_venue_kit`). The
service asks the factory and never branches on the kind itself.
"""
