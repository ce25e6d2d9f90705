"""Bounds on what a listener may store: every input from outside is held to these."""

MAX_NAME = 200  # characters of a playlist name
MAX_DESCRIPTION = 2_000  # characters of a playlist description
MAX_ENTRIES = 10_000  # entries in one playlist (the benchmark's size: bench/playlists.py)
MAX_BATCH = 1_000  # tracks added in one call
MAX_PAGE = 500  # entries or items read in one page
MAX_QUEUE = 1_000  # tracks in a saved play queue
MAX_DEVICE = 100  # characters of a device name
