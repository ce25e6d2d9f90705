"""Relevance: queries that must find a given track or artist in the top 3, on both backends.

Recall@3 is printed per capability (run with -s to see it) and must be 100 %."""

# ruff: noqa: RUF001 (names in many scripts, on purpose)

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine

from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackStatus
from cadenza.db.engine import make_session_factory, transaction
from cadenza.search import service

# (title, artists, release, genre, plays, year): real-world-style names in several scripts.
CATALOG: list[tuple[str, list[str], str | None, str, int, int]] = [
    ("Bohemian Rhapsody", ["Queen"], "A Night at the Opera", "Rock", 900, 1975),
    ("Don't Stop Me Now", ["Queen"], "Jazz", "Rock", 700, 1978),
    ("No One Knows", ["Queens of the Stone Age"], "Songs for the Deaf", "Rock", 300, 2002),
    ("Enter Sandman", ["Metallica"], "Metallica", "Metal", 800, 1991),
    ("Nothing Else Matters", ["Metallica"], "Metallica", "Metal", 750, 1991),
    ("Let It Be", ["The Beatles"], "Let It Be", "Rock", 850, 1970),
    ("Hey Jude", ["The Beatles"], "Hey Jude", "Rock", 820, 1968),
    ("Let Her Go", ["Passenger"], "All the Little Lights", "Folk", 600, 2012),
    ("Halo", ["Beyoncé"], "I Am... Sasha Fierce", "Pop", 600, 2008),
    ("Crazy in Love", ["Beyoncé", "Jay-Z"], "Dangerously in Love", "Pop", 650, 2003),
    ("Ace of Spades", ["Motörhead"], "Ace of Spades", "Metal", 500, 1980),
    ("Highway to Hell", ["AC/DC"], "Highway to Hell", "Hard Rock", 650, 1979),
    ("Losing My Religion", ["R.E.M."], "Out of Time", "Alternative", 550, 1991),
    ("Nocturne in E-flat Major, Op. 9 No. 2", ["Frédéric Chopin"], "Nocturnes", "Classical", 400, 1832),
    ("Swan Lake, Op. 20: Scene", ["Pyotr Ilyich Tchaikovsky"], "Swan Lake", "Classical", 420, 1876),
    ("Dance of the Sugar Plum Fairy", ["Pyotr Ilyich Tchaikovsky"], "The Nutcracker", "Classical", 380, 1892),
    ("Metamorphosis One", ["Philip Glass"], "Solo Piano", "Classical", 300, 1989),
    ("Eine kleine Nachtmusik", ["Wolfgang Amadeus Mozart"], "Serenades", "Classical", 500, 1787),
    ("Für Elise", ["Ludwig van Beethoven"], "Bagatelles", "Classical", 600, 1810),
    ("Rhapsody in Blue", ["George Gershwin"], "Rhapsody in Blue", "Jazz", 450, 1924),
    ("Группа крови", ["Кино"], "Группа крови", "Rock", 450, 1988),
    ("Звезда по имени Солнце", ["Кино"], "Звезда по имени Солнце", "Rock", 300, 1989),
    ("Калинка", ["Хор Александрова"], "Русские песни", "Folk", 170, 1965),
    ("Τα παιδιά του Πειραιά", ["Μάνος Χατζιδάκις"], "Ποτέ την Κυριακή", "Soundtrack", 200, 1960),
    ("Zorba's Dance", ["Μίκης Θεοδωράκης"], "Zorba the Greek", "Soundtrack", 250, 1964),
    ("Merry Christmas Mr. Lawrence", ["坂本龍一"], "戦場のメリークリスマス", "Soundtrack", 350, 1983),
    ("First Love", ["宇多田ヒカル"], "First Love", "J-Pop", 380, 1999),
    ("川の流れのように", ["美空ひばり"], "川の流れのように", "Enka", 150, 1989),
    ("さくら（独唱）", ["森山直太朗"], "さくら", "J-Pop", 160, 2003),
    ("七里香", ["周杰伦"], "七里香", "Mandopop", 420, 2004),
    ("月亮代表我的心", ["邓丽君"], "岛国之情歌第四集", "Mandopop", 300, 1977),
    ("انت عمري", ["أم كلثوم"], "انت عمري", "Tarab", 260, 1964),
    ("لبيروت", ["فيروز"], "لبيروت", "Arabic", 240, 1984),
    ("תל אביב", ["עומר אדם"], "תל אביב", "Mizrahi", 180, 2015),
    ("Dynamite", ["방탄소년단"], "BE", "K-Pop", 750, 2020),
    ("Jóga", ["Björk"], "Homogenic", "Electronic", 330, 1997),
    ("Hoppípolla", ["Sigur Rós"], "Takk...", "Post-Rock", 310, 2005),
    ("Kickstart My Heart", ["Mötley Crüe"], "Dr. Feelgood", "Metal", 280, 1989),
    (
        "Get Lucky",
        ["Daft Punk", "Pharrell Williams", "Nile Rodgers"],
        "Random Access Memories",
        "Electronic",
        700,
        2013,
    ),
    ("Sweet Child o' Mine", ["Guns N' Roses"], "Appetite for Destruction", "Rock", 680, 1987),
    ("Hallelujah", ["Leonard Cohen"], "Various Positions", "Folk", 500, 1984),
    ("Hallelujah", ["Jeff Buckley"], "Grace", "Rock", 550, 1994),
    ("Despacito", ["Luis Fonsi", "Daddy Yankee"], "Vida", "Latin", 900, 2017),
    ("Ne me quitte pas", ["Jacques Brel"], "La Valse à Mille Temps", "Chanson", 220, 1959),
    ("La Vie en rose", ["Édith Piaf"], "La Vie en rose", "Chanson", 400, 1947),
    ("99 Luftballons", ["Nena"], "Nena", "Pop", 350, 1983),
    ("Paranoid", ["Black Sabbath"], "Paranoid", "Metal", 400, 1970),
    ("Misirlou", ["Dick Dale"], "Surfers' Choice", "Surf Rock", 260, 1962),
    ("Le quattro stagioni: La primavera", ["Antonio Vivaldi"], "Le quattro stagioni", "Classical", 450, 1725),
    ("Smells Like Teen Spirit", ["Nirvana"], "Nevermind", "Grunge", 880, 1991),
]

NOT_READY = [("Bohemian Like You", ["The Dandy Warhols"], TrackStatus.processing)]

# (capability, query, type, the track title or artist name that must be in the top 3)
CASES: list[tuple[str, str, str, str]] = [
    ("full text", "bohemian rhapsody", "track", "Bohemian Rhapsody"),
    ("full text", "sandman", "track", "Enter Sandman"),
    ("full text", "queen bohemian", "track", "Bohemian Rhapsody"),
    ("full text", "nothing matters metallica", "track", "Nothing Else Matters"),
    ("full text", "nutcracker", "track", "Dance of the Sugar Plum Fairy"),
    ("full text", "grunge", "track", "Smells Like Teen Spirit"),
    ("full text", "pharrell", "track", "Get Lucky"),
    ("full text", "nile rodgers lucky", "track", "Get Lucky"),
    ("full text", "hallelujah buckley", "track", "Hallelujah"),
    ("full text", "99 luftballons", "track", "99 Luftballons"),
    ("phrase", '"let it be"', "track", "Let It Be"),
    ("phrase", '"smells like teen spirit"', "track", "Smells Like Teen Spirit"),
    ("phrase", '"night at the opera"', "track", "Bohemian Rhapsody"),
    ("phrase", 'let "her go"', "track", "Let Her Go"),
    ("folding", "beyonce", "track", "Halo"),
    ("folding", "BEYONCE", "artist", "Beyoncé"),
    ("folding", "motorhead", "track", "Ace of Spades"),
    ("folding", "bjork joga", "track", "Jóga"),
    ("folding", "sigur ros", "artist", "Sigur Rós"),
    ("folding", "motley crue", "track", "Kickstart My Heart"),
    ("folding", "edith piaf", "track", "La Vie en rose"),
    ("folding", "fur elise", "track", "Für Elise"),
    ("punctuation", "acdc", "track", "Highway to Hell"),
    ("punctuation", "ac/dc", "artist", "AC/DC"),
    ("punctuation", "rem", "track", "Losing My Religion"),
    ("punctuation", "guns n roses", "track", "Sweet Child o' Mine"),
    ("punctuation", "jayz", "track", "Crazy in Love"),
    ("punctuation", "dont stop me now", "track", "Don't Stop Me Now"),
    ("transliteration", "kino", "artist", "Кино"),
    ("transliteration", "gruppa krovi", "track", "Группа крови"),
    ("transliteration", "zvezda po imeni solntse", "track", "Звезда по имени Солнце"),
    ("transliteration", "kalinka", "track", "Калинка"),
    ("transliteration", "theodorakis", "artist", "Μίκης Θεοδωράκης"),
    ("transliteration", "ta paidia tou peiraia", "track", "Τα παιδιά του Πειραιά"),
    ("transliteration", "sakamoto", "artist", "坂本龍一"),
    ("transliteration", "ryuichi sakamoto", "track", "Merry Christmas Mr. Lawrence"),
    ("transliteration", "utada hikaru", "track", "First Love"),
    ("transliteration", "misora hibari", "track", "川の流れのように"),
    ("transliteration", "sakura", "track", "さくら（独唱）"),
    ("transliteration", "zhou jielun", "artist", "周杰伦"),
    ("transliteration", "qi li xiang", "track", "七里香"),
    ("transliteration", "yueliang daibiao wo de xin", "track", "月亮代表我的心"),
    ("transliteration", "fairuz", "artist", "فيروز"),
    ("transliteration", "umm kulthum", "track", "انت عمري"),
    ("transliteration", "omer adam", "artist", "עומר אדם"),
    ("transliteration", "bangtansonyeondan", "track", "Dynamite"),
    ("reverse", "Кино", "artist", "Кино"),
    ("reverse", "Металлика", "track", "Enter Sandman"),
    ("reverse", "Битлз", "artist", "The Beatles"),
    ("reverse", "Ναϊρβάνα", "artist", "Nirvana"),
    ("reverse", "Бейонсе", "artist", "Beyoncé"),
    ("reverse", "坂本龍一", "track", "Merry Christmas Mr. Lawrence"),
    ("phonetic", "shopan", "artist", "Frédéric Chopin"),
    ("phonetic", "tchaikovski", "artist", "Pyotr Ilyich Tchaikovsky"),
    ("phonetic", "chaikovsky swan lake", "track", "Swan Lake, Op. 20: Scene"),
    ("phonetic", "filip glas", "artist", "Philip Glass"),
    ("phonetic", "motsart", "artist", "Wolfgang Amadeus Mozart"),
    ("phonetic", "nirvanna", "artist", "Nirvana"),
    ("phonetic", "fonzi despasito", "track", "Despacito"),
    ("typo", "metalica", "artist", "Metallica"),
    ("typo", "beetles", "artist", "The Beatles"),
    ("typo", "rhapsodie", "track", "Bohemian Rhapsody"),
    ("typo", "rhapsodie", "track", "Rhapsody in Blue"),
    ("typo", "paranod", "track", "Paranoid"),
    ("typo", "misirolu", "track", "Misirlou"),
    ("typo", "hallelujha", "track", "Hallelujah"),
    ("typo", "beethovan", "artist", "Ludwig van Beethoven"),
    ("typo", "vivaldo primavera", "track", "Le quattro stagioni: La primavera"),
    ("prefix", "bohem", "track", "Bohemian Rhapsody"),
    ("prefix", "metall", "artist", "Metallica"),
    ("prefix", "sweet chi", "track", "Sweet Child o' Mine"),
    ("prefix", "kicksta", "track", "Kickstart My Heart"),
    ("prefix", "desp", "track", "Despacito"),
    ("partial", "guns and roses", "track", "Sweet Child o' Mine"),
    ("partial", "sweet child of mine", "track", "Sweet Child o' Mine"),
    ("partial", "um kalthoum", "artist", "أم كلثوم"),
    ("partial", "99 balloons", "track", "99 Luftballons"),
    ("partial", "bts dynamite", "track", "Dynamite"),
    ("partial", "nocturne op 9 no 2 chopin", "track", "Nocturne in E-flat Major, Op. 9 No. 2"),
    ("typo", "smels like teen sprit", "track", "Smells Like Teen Spirit"),
    ("phonetic", "tschaikowsky", "artist", "Pyotr Ilyich Tchaikovsky"),
    ("transliteration", "chatzidakis", "artist", "Μάνος Χατζιδάκις"),
    ("transliteration", "fairouz", "artist", "فيروز"),
    ("reverse", "周杰倫", "artist", "周杰伦"),
    ("exact", "queen", "artist", "Queen"),
    ("exact", "hey jude", "track", "Hey Jude"),
    ("exact", "paranoid", "track", "Paranoid"),
]


def seed(engine: Engine) -> dict[str, int]:
    """Insert the catalog as ready tracks and index each one; returns track ids by title."""
    sessions = make_session_factory(engine)
    ids: dict[str, int] = {}
    with transaction(sessions) as s:
        artists: dict[str, Artist] = {}

        def artist(name: str) -> Artist:
            if name not in artists:
                artists[name] = Artist(name=name)
                s.add(artists[name])
                s.flush()
            return artists[name]

        for title, names, release_title, genre, plays, year in CATALOG:
            credited = [artist(n) for n in names]
            release = Release(title=release_title, artist_id=credited[0].id, release_date=date(year, 6, 1))
            s.add(release)
            s.flush()
            track = Track(
                title=title,
                genre=genre,
                play_count=plays,
                status=TrackStatus.ready,
                release_id=release.id,
                source_checksum="0" * 64,
            )
            s.add(track)
            s.flush()
            s.add_all(
                TrackArtist(track_id=track.id, artist_id=a.id, position=i) for i, a in enumerate(credited)
            )
            s.flush()
            service.index_track(s, track_id=track.id)
            ids.setdefault(title, track.id)
        for title, names, status in NOT_READY:
            track = Track(title=title, status=status, source_checksum="1" * 64)
            s.add(track)
            s.flush()
            s.add_all(TrackArtist(track_id=track.id, artist_id=artist(n).id, position=0) for n in names)
            service.index_track(s, track_id=track.id)
    return ids


@pytest.fixture(scope="module")
def seeded(db: tuple[Engine, str]) -> Iterator[Engine]:
    seed(db[0])
    yield db[0]


def test_relevance_recall_at_3(seeded: Engine, request: pytest.FixtureRequest) -> None:
    sessions = make_session_factory(seeded)
    hits: dict[str, list[bool]] = defaultdict(list)
    misses = []
    with sessions() as s:
        for capability, q, kind, expected in CASES:
            page = service.search(s, q=q, type=kind, limit=3)
            top = [h.title for h in page.hits]
            ok = expected in top
            hits[capability].append(ok)
            if not ok:
                misses.append(f"{capability}: {q!r} ({kind}) → {top}, wanted {expected!r}")
    backend = seeded.dialect.name
    print(f"\nrecall@3 on {backend} ({len(CASES)} cases)")
    for capability, results in hits.items():
        print(f"  {capability:16} {sum(results)}/{len(results)} = {100 * sum(results) / len(results):.0f} %")
    assert len(CASES) >= 60
    assert not misses, "\n".join(misses)


def test_tracks_that_are_not_ready_are_never_found(seeded: Engine) -> None:
    with make_session_factory(seeded)() as s:
        for q in ("bohemian like you", "dandy warhols", "warhols"):
            assert all(h.title != "Bohemian Like You" for h in service.search(s, q=q).hits)
        artists = service.search(s, q="dandy warhols", type="artist").hits
        assert all(h.title != "The Dandy Warhols" for h in artists)
        assert all(h.match == "partial" for h in artists)  # at most an artist matching one of the words
