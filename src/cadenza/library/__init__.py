"""A listener's library: playlists, favourites, ratings, recently played, play queue, M3U (README.md)."""
