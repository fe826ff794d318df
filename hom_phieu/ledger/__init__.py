"""The ballot box's core: records and their canonical encoding, device keys, the rules of
honest time, storage, the one chain checker and the ballot box itself.

Pure Python with no hardware and no web imports: the kiosk writes its ledger with it, the
server checks and counts what kiosks send with the same code (one verifier on both sides).
"""
