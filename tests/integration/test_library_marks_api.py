"""`GET /api/me/marks/{kind}`: the heart and stars a screen shows beside each item it lists, read in one
call for the whole screen, on both databases."""

from __future__ import annotations

from test_library_api import Api, _ok, api  # noqa: F401  (the fixture)


def test_a_screen_reads_each_items_star_and_rating_in_the_order_it_asked(api: Api) -> None:  # noqa: F811
    a, b, fr = api.tracks["a"], api.tracks["b"], api.tracks["fr"]
    _ok(api("ann", "PUT", f"/api/me/favourites/track/{b}"))
    _ok(api("ann", "PUT", f"/api/me/ratings/track/{a}", json={"rating": 4}))
    _ok(api("ann", "PUT", f"/api/me/ratings/track/{b}", json={"rating": 2}))

    got = _ok(api("ann", "GET", "/api/me/marks/track", params=[("ids", b), ("ids", fr), ("ids", a)]))
    assert [(m["id"], m["starred"], m["rating"]) for m in got] == [
        (b, True, 2),
        (fr, False, None),
        (a, False, 4),
    ]
    assert got[0]["starred_at"] is not None and got[2]["starred_at"] is None

    # Marks are the caller's own: another listener sees none of ann's.
    other = _ok(api("ben", "GET", "/api/me/marks/track", params=[("ids", a), ("ids", b)]))
    assert [(m["starred"], m["rating"]) for m in other] == [(False, None), (False, None)]


def test_a_marks_lookup_is_bounded_with_a_reason(api: Api) -> None:  # noqa: F811
    assert api("ann", "GET", "/api/me/marks/track").status_code == 422  # no ids
    assert api("ann", "GET", "/api/me/marks/track", params={"ids": 0}).status_code == 422
    assert api("ann", "GET", "/api/me/marks/playlist", params={"ids": 1}).status_code == 422
    many = [("ids", i) for i in range(1, 502)]
    resp = api("ann", "GET", "/api/me/marks/track", params=many)
    assert resp.status_code == 422 and resp.json()["reason"]
