"""Exchanges through ccxt: the venue adapter, its user stream, the market-data feed, the downloader.

Everything that talks to ccxt lives here: building clients (:mod:`.exchange`), calling them safely
(:mod:`.retry`), translating their errors once (:mod:`.errors`), idempotent orders (:mod:`.orders`),
fees in a third currency (:mod:`.fees`), the venue (:mod:`.venue`), its user stream
(:mod:`.user_stream`), the feed (:mod:`.feed`) and the candle downloader (:mod:`.download`).
"""
