"""Reading nginx's stub_status page (telemetry/nginx.py): the figures nginx writes, and nothing from a
page that is not one."""

from __future__ import annotations

from cadenza.telemetry.nginx import StubStatus, parse

# The page as ngx_http_stub_status_module writes it (nginx 1.22).
PAGE = (
    "Active connections: 291 \n"
    "server accepts handled requests\n"
    " 16630948 16630947 31070465 \n"
    "Reading: 6 Writing: 179 Waiting: 106 \n"
)


def test_the_figures_of_a_stub_status_page() -> None:
    assert parse(PAGE) == StubStatus(
        active=291,
        accepted=16630948,
        handled=16630947,
        requests=31070465,
        reading=6,
        writing=179,
        waiting=106,
    )


def test_anything_else_is_not_read_as_figures() -> None:
    assert parse("") is None
    assert parse("<html><body>502 Bad Gateway</body></html>") is None
    assert parse(PAGE.replace("Writing: 179", "Writing: many")) is None
