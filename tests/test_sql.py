"""Named SQL (sql.py): includes, filling, and the statements compiled once to PostgreSQL's placeholders."""

import pytest

from crm_provider import sql


def test_a_statement_includes_another_of_its_file_and_leaves_other_braces():
    queries = sql.parse("-- name: rule\nx.a > 0\n\n-- name: q\nSELECT * FROM t x WHERE {rule} AND {other} AND y = '{}'\n")
    assert queries["q"] == "SELECT * FROM t x WHERE x.a > 0 AND {other} AND y = '{}'"
    with pytest.raises(ValueError, match="includes itself"):
        sql.parse("-- name: a\n{b}\n-- name: b\n{a}\n")


def test_the_comment_lines_after_a_statement_are_not_part_of_it():
    """They introduce the next statements; a fragment filled into another must not comment out its rest."""
    queries = sql.parse("-- name: part\nc.balance\n\n-- The statements below:\n-- more\n\n-- name: b\nSELECT 2\n")
    assert queries == {"part": "c.balance", "b": "SELECT 2"}


def test_fill_refuses_a_brace_left_empty():
    assert sql.fill("SELECT {a}", {"a": "1"}) == "SELECT 1"
    with pytest.raises(ValueError, match="no SQL for b"):
        sql.fill("SELECT {a}, {b}", {"a": "1"})


def test_native_numbers_each_name_once_and_unescapes_percent():
    text, names = sql.native("SELECT %(a)s, %(b)s, %(a)s WHERE x LIKE 'a%%'")
    assert text == b"SELECT $1, $2, $1 WHERE x LIKE 'a%'" and names == ("a", "b")
    with pytest.raises(ValueError, match="lone %"):
        sql.native("SELECT 5 % 2")


def test_execute_runs_the_compiled_statement(conn):
    row = sql.execute(conn, "SELECT %(a)s::int + %(b)s::int AS n, %(a)s::int AS a, '100%%' AS p", {"a": 2, "b": 3}).fetchone()
    assert row == {"n": 5, "a": 2, "p": "100%"}
