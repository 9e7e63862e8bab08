"""``sql()`` stays read-only and local (issue 11, acceptance 5).

No statement but a query runs, whatever DuckDB's parser calls it; no extension is installed or
loaded; a query reads the views and the store's files, no other path and no URL; nothing is
written under ``$HOME``. Real DuckDB on a real store under tmp_path; HOME is an empty directory
of a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench as wb
from workbench.errors import QueryError
from workbench.settings import load_settings
from workbench.store import Store

QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}
COUNTS = ("select (select count(*) from _runs), (select count(*) from _params), "
          "(select count(*) from _summaries), (select count(*) from metrics)")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path, list[str]]:
    """A store of two runs, a secret file beside it and one in its root (outside runs/, catalog/)."""
    base = tmp_path_factory.mktemp("sqlsec")
    root = base / "store"
    ids = []
    for i in range(2):
        run = wb.init(project="sec", name=f"run{i}", config={"i": i}, root=root, **QUIET)
        for step in range(5):
            run.log({"loss": float(step)})
        run.finish()
        ids.append(run.id)
    (base / "secret.txt").write_text("outside the store\n")
    pq.write_table(pa.table({"secret": [1]}), base / "secret.parquet")
    (root / "secret.txt").write_text("in the root, outside runs/ and catalog/\n")
    return Store(load_settings(root)), base, ids


def unchanged(store: Store, before: list[Any], out: Path) -> None:
    assert store.sql(COUNTS).values.tolist() == before
    assert sorted(p.name for p in out.iterdir()) == []
    assert len(store.runs()) == 2


# -- only queries run --------------------------------------------------------------------------------

NOT_QUERIES = [
    # extensions
    "INSTALL httpfs",
    "FORCE INSTALL httpfs",
    "INSTALL httpfs FROM core_nightly",
    "LOAD httpfs",
    "LOAD '{out}/evil.duckdb_extension'",
    "UPDATE EXTENSIONS",
    # other databases and files
    "ATTACH ':memory:' AS other",
    "ATTACH '{out}/other.duckdb' AS other",
    "DETACH memory",
    "USE memory",
    "COPY _runs TO '{out}/copy.csv'",
    "COPY (SELECT 1) TO '{root}/runs/copy.csv'",
    "COPY _runs FROM '{out}/in.csv'",
    "EXPORT DATABASE '{out}/export'",
    "IMPORT DATABASE '{out}/export'",
    # settings and secrets
    "SET enable_external_access = true",
    "SET GLOBAL autoload_known_extensions = true",
    "RESET threads",
    "SET VARIABLE v = 1",
    "PRAGMA enable_profiling",
    "PRAGMA threads = 1",
    "CALL pragma_version()",
    "CREATE SECRET s (TYPE http, BEARER_TOKEN 'x')",
    "CREATE PERSISTENT SECRET s (TYPE http, BEARER_TOKEN 'x')",
    "DROP SECRET s",
    # maintenance and transactions
    "CHECKPOINT",
    "VACUUM",
    "ANALYZE",
    "BEGIN TRANSACTION",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    # writes
    "CREATE TABLE t AS SELECT 1",
    "CREATE MACRO m(x) AS x",
    "CREATE OR REPLACE VIEW runs AS SELECT 1",
    "DROP TABLE _runs",
    "INSERT INTO _runs SELECT * FROM _runs",
    "UPDATE _runs SET status = 'x'",
    "DELETE FROM _params",
    "TRUNCATE _summaries",
    "ALTER TABLE _runs ADD COLUMN x INT",
    "MERGE INTO _runs USING _runs s ON true WHEN MATCHED THEN DELETE",
    # a SELECT beside another statement, in either order
    "select 1; drop table _runs",
    "delete from _runs; select 1",
    "select * from runs; install httpfs",
    # EXPLAIN ANALYZE runs what it explains
    "EXPLAIN ANALYZE DELETE FROM _runs",
    "EXPLAIN (ANALYZE, FORMAT json) COPY (SELECT 1) TO '{out}/explained.csv'",
    # statements DuckDB's parser calls SELECT
    "WITH x AS (DELETE FROM _runs RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (UPDATE _runs SET status = 'x' RETURNING *) SELECT * FROM x",
    "WITH x AS (INSERT INTO _params SELECT * FROM _params RETURNING *) SELECT * FROM x",
    "WITH x AS MATERIALIZED (DELETE FROM _summaries RETURNING *) SELECT 1",
    "WITH x AS (COPY (SELECT 42) TO '{out}/cte.csv') SELECT * FROM x",
    "WITH x AS (COPY (SELECT 42) TO '{root}/runs/cte.csv') SELECT * FROM x",
    "SELECT * FROM runs WHERE run_id IN (WITH d AS (DELETE FROM _runs RETURNING run_id) SELECT * FROM d)",
    "EXPLAIN ANALYZE WITH x AS (DELETE FROM _runs RETURNING *) SELECT * FROM x",
    "DESCRIBE (WITH x AS (DELETE FROM _runs RETURNING *) SELECT * FROM x)",
    "SUMMARIZE (WITH x AS (UPDATE _runs SET status = 'x' RETURNING *) SELECT * FROM x)",
    "SELECT * FROM runs UNION ALL (WITH x AS (DELETE FROM _runs RETURNING *) SELECT * FROM runs)",
    "PIVOT runs ON status USING count(*)",  # without IN it creates a type first
]


@pytest.mark.parametrize("query", NOT_QUERIES)
def test_a_statement_that_is_not_a_query_is_a_query_error(
    tmp_path: Path, store: tuple[Store, Path, list[str]], query: str
) -> None:
    db, _, _ = store
    out = tmp_path / "out"
    out.mkdir()
    before = db.sql(COUNTS).values.tolist()
    text = query.format(out=out, root=db.root)
    with pytest.raises(QueryError, match=r"^sql\(\) is read-only: ") as caught:
        db.sql(text)
    assert "runs, params, summaries and metrics" in str(caught.value) or "PIVOT" in str(caught.value)
    unchanged(db, before, out)
    assert not list((db.root / "runs").glob("*.csv"))


@pytest.mark.parametrize("query", [";", "-- only a comment", "/* nothing */ ;"])
def test_text_without_a_statement_is_a_query_error(store: tuple[Store, Path, list[str]], query: str) -> None:
    db, _, _ = store
    with pytest.raises(QueryError, match="needs a query"):
        db.sql(query)


READS = [
    "describe runs",
    "show tables",
    "summarize runs",
    "from runs select count(*)",
    "values (1), (2)",
    "table params",
    "pivot runs on status in ('completed', 'failed') using count(*)",
    "select * from runs union all select * from runs",
    "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) select * from r",
    "with x as materialized (select * from metrics) select count(*) from x",
    "select * from runs r, lateral (select count(*) n from metrics m where m.run_id = r.run_id)",
    "explain analyze select count(*) from metrics",
    "select * from query('select 1')",
    "select current_setting('enable_external_access')",
    "select 'DELETE_QUERY_NODE' as type, 1 as \"COPY_QUERY_NODE\"",
]


@pytest.mark.parametrize("query", READS)
def test_queries_still_run(store: tuple[Store, Path, list[str]], query: str) -> None:
    db, _, _ = store
    assert db.sql(query) is not None


# -- a query reads the store, nothing else ------------------------------------------------------------

OUTSIDE = [
    "select * from read_text('/etc/passwd')",
    "select * from read_csv('/etc/passwd', sep = ':')",
    "select * from read_text('~/.ssh/id_ed25519')",
    "select * from read_csv('~/.ssh/id_ed25519')",
    "select * from read_blob('/proc/self/environ')",
    "select * from glob('/*')",
    "select * from glob('~/*')",
    "select * from read_text('{base}/secret.txt')",
    "select * from read_parquet('{base}/secret.parquet')",
    "select * from parquet_metadata('{base}/secret.parquet')",
    "select * from sniff_csv('{base}/secret.txt')",
    "select * from read_text('{root}/secret.txt')",  # the root itself: only runs/ and catalog/
    "select * from read_text('{root}/workbench.toml')",
    "select * from read_text('{root}/runs/../secret.txt')",
    "select * from read_text('{root}/runs/../../secret.txt')",
    "select * from read_text('file:///etc/passwd')",
    "select * from read_json('{base}/secret.txt')",
    "select * from runs, read_text('/etc/hostname')",
    "select (select content from read_text('/etc/hostname'))",
    "select * from query('select * from read_text(''/etc/passwd'')')",
]

URLS = [
    "select * from read_parquet('http://127.0.0.1:9/x.parquet')",
    "select * from read_parquet('https://example.com/data.parquet')",
    "select * from read_csv('https://example.com/data.csv')",
    "select * from read_text('https://example.com/')",
    "select * from read_parquet('s3://bucket/data.parquet')",
    "select * from read_parquet('s3a://bucket/data.parquet')",
    "select * from read_parquet('gcs://bucket/data.parquet')",
    "select * from read_parquet('gs://bucket/data.parquet')",
    "select * from read_parquet('r2://bucket/data.parquet')",
    "select * from read_parquet('az://container/data.parquet')",
    "select * from read_parquet('abfss://c@a.dfs.core.windows.net/d.parquet')",
    "select * from read_parquet('hf://datasets/user/data/file.parquet')",
    "select * from read_json('https://example.com/data.json')",
]


@pytest.mark.parametrize("query", OUTSIDE + URLS)
def test_a_read_outside_the_store_is_a_query_error(store: tuple[Store, Path, list[str]], query: str) -> None:
    db, base, _ = store
    with pytest.raises(QueryError) as caught:
        db.sql(query.format(base=base, root=db.root))
    message = str(caught.value)
    assert "outside the store" not in message and "in the root" not in message  # no content leaks
    assert "root:" not in message  # nor /etc/passwd's


def test_a_read_outside_names_what_a_query_may_read(store: tuple[Store, Path, list[str]]) -> None:
    db, _, _ = store
    with pytest.raises(QueryError, match="reads only the views and the store's files") as caught:
        db.sql("select * from read_text('/etc/passwd')")
    assert str(db.root / "runs") in str(caught.value) and "/etc/passwd" in str(caught.value)


def test_a_python_variable_is_not_a_table(store: tuple[Store, Path, list[str]]) -> None:
    db, _, _ = store
    secret_frame = pa.table({"password": ["hunter2"]})  # noqa: F841 - DuckDB's replacement scan would find it
    with pytest.raises(QueryError, match="secret_frame"):
        db.sql("select * from secret_frame")


def test_the_store_s_own_files_can_be_read(store: tuple[Store, Path, list[str]]) -> None:
    db, _, ids = store
    records = db.sql(f"select id, name from read_json('{db.root}/runs/*/run.json') order by name")
    assert records.values.tolist() == [[ids[0], "run0"], [ids[1], "run1"]]
    points = db.sql(f"select count(*) from read_parquet('{db.root}/runs/{ids[0]}/metrics/*.parquet')")
    assert points.iloc[0, 0] == 5
    assert db.sql("select count(*) from read_json('~/runs/*/run.json')").iloc[0, 0] == 2  # ~ is the root
    assert len(db.sql(f"select * from glob('{db.root}/runs/*/run.json')")) == 2
    # runs(), history() and the metrics view read their parquet files under the root
    assert len(db.runs()) == 2
    assert len(db.history(ids)) == 10
    assert db.sql("select count(*) from metrics").iloc[0, 0] == 10


def test_the_connection_is_closed_and_locked(store: tuple[Store, Path, list[str]]) -> None:
    db, _, _ = store
    names = ["enable_external_access", "autoinstall_known_extensions", "autoload_known_extensions",
             "allow_community_extensions", "allow_persistent_secrets", "lock_configuration"]
    values = db.sql("select " + ", ".join(f"current_setting('{n}') as {n}" for n in names))
    assert values.iloc[0].tolist() == [False, False, False, False, False, True]
    dirs = db.sql("select current_setting('home_directory'), current_setting('extension_directory'), "
                  "current_setting('secret_directory'), current_setting('temp_directory')").iloc[0]
    for directory in dirs:
        assert Path(directory).is_relative_to(db.root), directory
    allowed = db.sql("select current_setting('allowed_directories')").iloc[0, 0]
    # DuckDB adds its spill directory, which is under catalog/
    assert {str(Path(d)) for d in allowed} - {str(db.root / "catalog" / "tmp")} == {
        str(db.root / "runs"), str(db.root / "catalog")}
    # not even our own code can open it up again
    import duckdb

    with pytest.raises(duckdb.Error, match="locked"):
        db.catalog.connection.execute("SET enable_external_access = true")


EXTENSION_QUERIES = [
    "select * from sqlite_scan('{base}/x.db', 't')",
    "select st_point(1, 2)",
    "select * from read_xlsx('{base}/x.xlsx')",
    "select * from iceberg_scan('{base}/table')",
    "select * from delta_scan('{base}/table')",
    "select * from postgres_scan('host=127.0.0.1', 'public', 't')",
    "select * from mysql_query('m', 'select 1')",
    "select * from read_parquet('https://example.com/x.parquet')",
    "select * from load_aws_credentials()",
    "select * from which_secret('s3://bucket/x', 's3')",
    "select * from duckdb_extensions()",
]


@pytest.mark.parametrize("query", EXTENSION_QUERIES)
def test_no_extension_is_installed_or_loaded_by_a_query(
    store: tuple[Store, Path, list[str]], query: str
) -> None:
    db, base, _ = store
    loaded = "select extension_name from duckdb_extensions() where loaded order by 1"
    before = db.sql(loaded)["extension_name"].tolist()
    try:
        db.sql(query.format(base=base))
    except QueryError:
        pass
    assert db.sql(loaded)["extension_name"].tolist() == before
    installed = db.sql("select count(*) from duckdb_extensions() where installed and install_mode "
                       "not in ('STATICALLY_LINKED', 'NOT_INSTALLED')").iloc[0, 0]
    assert installed == 0
    assert not (db.root / "catalog" / "extensions").exists()


# -- nothing under $HOME ----------------------------------------------------------------------------

HOME_SCRIPT = textwrap.dedent("""
    import json, sys
    import workbench as wb
    from workbench.errors import QueryError

    root, queries = sys.argv[1], json.loads(sys.argv[2])
    run = wb.init(project="home", name="r", config={"lr": 0.1}, root=root, flush_interval=0.05,
                  system_metrics=False, capture_output=False, fsync=False)
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    ok = failed = 0
    for _ in range(3):
        for query in queries:
            try:
                wb.sql(query, root=root)
                ok += 1
            except QueryError:
                failed += 1
    wb.runs(root=root)
    wb.history([run.id], root=root)
    print(json.dumps({"ok": ok, "failed": failed}))
""")


def test_nothing_is_written_under_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "store"
    queries = [
        "select count(*) from metrics",
        "select * from runs order by created",
        "select key, max(value) from metrics group by key",
        "select * from duckdb_extensions()",
        "select * from duckdb_secrets()",
        *[q.format(base=tmp_path) for q in EXTENSION_QUERIES],
        *[q.format(base=tmp_path, root=root) for q in OUTSIDE + URLS],
        *[q.format(out=home, root=root) for q in NOT_QUERIES],
        "select * from read_text('~/.duckdb/stored_secrets/x')",
    ]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("XDG_", "WORKBENCH_", "DUCKDB"))}
    env.update(HOME=str(home), USERPROFILE=str(home), WORKBENCH_SYSTEM_METRICS="0")
    proc = subprocess.run([sys.executable, "-c", HOME_SCRIPT, str(root), json.dumps(queries)],
                          cwd=home, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout.splitlines()[-1])
    assert counts["ok"] >= 3 * 5 and counts["failed"] >= 3 * (len(NOT_QUERIES) + len(OUTSIDE))
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
