"""Statement splitting: strings, comments, dollar quotes, triggers, DELIMITER."""

from __future__ import annotations

from colmig.schema.splitter import Statement, split_statements


def texts(sql: str, dialect: str = "postgres") -> list[str]:
    return [s.text for s in split_statements(sql, dialect)]


def test_simple_and_line_numbers() -> None:
    sql = "-- header comment\nCREATE TABLE a (x int);\n\n\nINSERT INTO a VALUES (1);\nSELECT 1"
    assert split_statements(sql, "sqlite") == [
        Statement("CREATE TABLE a (x int)", 2),
        Statement("INSERT INTO a VALUES (1)", 5),
        Statement("SELECT 1", 6),
    ]


def test_semicolons_in_strings_and_comments() -> None:
    sql = (
        "INSERT INTO t VALUES ('a;b', 'it''s; fine');\n"
        'CREATE TABLE "we;ird" (x int); -- trailing; comment\n'
        "/* block; comment\n spanning; lines */\n"
        "SELECT 2;"
    )
    assert texts(sql, "sqlite") == [
        "INSERT INTO t VALUES ('a;b', 'it''s; fine')",
        'CREATE TABLE "we;ird" (x int)',
        "SELECT 2",
    ]


def test_comment_only_and_empty_statements_dropped() -> None:
    assert texts(";;\n-- nothing\n/* still nothing */;\n", "duckdb") == []
    assert texts("", "sqlite") == []


def test_comment_inside_statement_kept_and_line_points_at_code() -> None:
    (s,) = split_statements("\n/* leading */\n  SELECT 1 -- x;y\n  + 2;\n", "postgres")
    assert s.line == 3
    assert s.text == "SELECT 1 -- x;y\n  + 2"


def test_postgres_dollar_quotes() -> None:
    sql = """
CREATE FUNCTION f() RETURNS trigger AS $$
BEGIN
  NEW.updated := now();  -- ; inside
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION g() RETURNS text AS $body$ SELECT 'x;$$;y' $body$ LANGUAGE sql;
SELECT 1;
"""
    out = split_statements(sql, "postgres")
    assert len(out) == 3
    assert out[0].text.startswith("CREATE FUNCTION f()") and out[0].text.endswith("plpgsql")
    assert out[0].line == 2
    assert "$body$ SELECT 'x;$$;y' $body$" in out[1].text
    assert out[2] == Statement("SELECT 1", 9)


def test_postgres_nested_block_comment_and_e_string() -> None:
    sql = "/* a /* nested; */ still; */ SELECT E'it\\'s;'; SELECT 2;"
    assert texts(sql) == ["SELECT E'it\\'s;'", "SELECT 2"]


def test_postgres_begin_atomic_body() -> None:
    sql = (
        "CREATE FUNCTION h(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC\n"
        "  SELECT a + 1;\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\nEND;\nSELECT 3;"
    )
    out = texts(sql)
    assert len(out) == 2 and out[1] == "SELECT 3"


def test_dollar_is_not_a_quote_in_identifiers_or_sqlite() -> None:
    assert texts("SELECT a$b$ FROM t; SELECT 2;") == ["SELECT a$b$ FROM t", "SELECT 2"]
    assert texts("SELECT $1; SELECT 2;", "sqlite") == ["SELECT $1", "SELECT 2"]


def test_mysql_backticks_hash_comments_and_backslash_escapes() -> None:
    sql = (
        "CREATE TABLE `a;b` (x int); # hash; comment\n"
        "INSERT INTO t VALUES ('it\\'s; here');\n"
        "/*!40101 SET NAMES utf8 */;\n"
    )
    assert texts(sql, "mysql") == [
        "CREATE TABLE `a;b` (x int)",
        "INSERT INTO t VALUES ('it\\'s; here')",
        "/*!40101 SET NAMES utf8 */",
    ]


def test_mysql_delimiter() -> None:
    sql = """DROP PROCEDURE IF EXISTS p;
DELIMITER $$
CREATE PROCEDURE p()
BEGIN
  SELECT 1;
  SELECT 2;
END$$
DELIMITER ;
CALL p();
"""
    out = split_statements(sql, "mysql")
    assert [s.text.split("\n")[0] for s in out] == [
        "DROP PROCEDURE IF EXISTS p",
        "CREATE PROCEDURE p()",
        "CALL p()",
    ]
    assert out[1].line == 3
    assert out[1].text.endswith("END")
    assert out[2].line == 9


def test_sqlite_trigger_body() -> None:
    sql = """CREATE TRIGGER t_upd AFTER UPDATE ON t
BEGIN
  UPDATE t SET n = CASE WHEN new.n > 0 THEN 1 ELSE 0 END WHERE id = new.id;
  INSERT INTO log VALUES ('x;y');
END;
CREATE INDEX i ON t(n);
"""
    out = split_statements(sql, "sqlite")
    assert len(out) == 2
    assert out[0].text.endswith("END")
    assert out[1] == Statement("CREATE INDEX i ON t(n)", 6)


def test_unterminated_string_keeps_rest_as_one_statement() -> None:
    assert texts("SELECT 'abc; SELECT 2;", "sqlite") == ["SELECT 'abc; SELECT 2;"]


def test_copy_from_stdin_keeps_its_data_block() -> None:
    sql = (
        "CREATE TABLE t (a int, b text);\n"
        "COPY public.t (a, b) FROM stdin;\n"
        "1\tsemi;colon -- not a comment\n"
        "2\t'unbalanced quote\n"
        "\\.\n"
        "INSERT INTO t VALUES (3, 'c');\n"
    )
    assert split_statements(sql, "postgres") == [
        Statement("CREATE TABLE t (a int, b text)", 1),
        Statement(
            "COPY public.t (a, b) FROM stdin;\n1\tsemi;colon -- not a comment\n"
            "2\t'unbalanced quote\n\\.",
            2,
        ),
        Statement("INSERT INTO t VALUES (3, 'c')", 6),
    ]
    # Only PostgreSQL reads data lines after COPY; elsewhere ';' still ends the statement.
    assert texts("COPY t FROM stdin;\nSELECT 1;", "duckdb") == ["COPY t FROM stdin", "SELECT 1"]
