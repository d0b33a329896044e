"""How the auth service reads its MySQL URL."""

from __future__ import annotations

import pytest

from auth.database import connection_options


def test_connection_options_are_read_from_the_url() -> None:
    options = connection_options("mysql://auth:p%40ss%3Aword@db.internal:3307/vidmp3?ssl-mode=DISABLED")

    assert options | {"autocommit": None, "connection_timeout": None} == {
        "host": "db.internal",
        "port": 3307,
        "user": "auth",
        "password": "p@ss:word",
        "database": "vidmp3",
        "autocommit": None,
        "connection_timeout": None,
        "ssl_disabled": True,
    }
    assert connection_options("mysql://auth:pw@db.internal/vidmp3")["ssl_disabled"] is False
    assert connection_options("mysql://auth:pw@db.internal/vidmp3")["port"] == 3306


@pytest.mark.parametrize("url", ["postgres://u:p@h/db", "mysql://u:p@h", "mysql://u:p@h/"])
def test_a_url_that_is_not_mysql_with_a_database_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="mysql://"):
        connection_options(url)
