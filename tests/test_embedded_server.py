"""The embedded server starts and stops idempotently and survives a crash's leftovers."""

import os
import socket
from dataclasses import replace

import psutil
import pytest

from warehouse.connection import check_connection
from warehouse.embedded import NO_DURABILITY, EmbeddedPostgres, EmbeddedServerError, free_port
from warehouse.settings import load_settings


@pytest.fixture
def server(tmp_path):
    settings = load_settings({"PGPORT": str(free_port())}, role="admin")
    server = EmbeddedPostgres(settings, tmp_path / "postgres", NO_DURABILITY)
    yield server
    server.destroy()


def maintenance(server):
    """Settings for the server's ``postgres`` database, which exists before any other."""
    return replace(server.settings, database="postgres")


def test_start_is_idempotent_and_listens_on_loopback(server):
    assert server.start() is True
    assert server.start() is False

    status = server.status()
    assert status.running
    assert status.port == server.settings.port
    check_connection(maintenance(server))


def test_stop_is_idempotent(server):
    server.start()

    assert server.stop() is True
    assert server.stop() is False
    assert not server.status().running


def test_start_after_stop_keeps_the_data(server):
    from warehouse.connection import connect

    server.start()
    conn = connect(server.settings, "postgres")
    with conn, conn.cursor() as cursor:
        cursor.execute("create table kept (id int); insert into kept values (1)")
    conn.close()
    server.stop()
    server.start()

    conn = connect(server.settings, "postgres")
    with conn, conn.cursor() as cursor:
        cursor.execute("select count(*) from kept")
        assert cursor.fetchone() == (1,)
    conn.close()


def test_the_server_gets_memory_for_a_warehouse_not_postgres_small_defaults(server):
    """A quarter of the machine's memory for buffers (128 MB to 2 GB), checkpoints every 4 GB of
    WAL; options a caller passes still apply on top."""
    from warehouse.connection import connect

    server.start()
    conn = connect(server.settings, "postgres")
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "select name, pg_size_bytes(current_setting(name)) / 2^20 from pg_settings"
            " where name in ('shared_buffers', 'max_wal_size')"
        )
        megabytes = dict(cursor.fetchall())
        cursor.execute("show fsync")
        (fsync,) = cursor.fetchone()
    conn.close()

    quarter = psutil.virtual_memory().total // 4 // 2**20
    assert megabytes == {"shared_buffers": max(128, min(quarter, 2048)), "max_wal_size": 4096}
    assert fsync == "off"


def test_stale_pid_file_whose_pid_now_belongs_to_another_process(server):
    server.start()
    server.stop()
    # After a crash and a reboot, postmaster.pid may name a pid that another program now has.
    pid_file = server.data_dir / "postmaster.pid"
    pid_file.write_text(f"{os.getpid()}\n{server.data_dir}\n0\n{server.settings.port}\n\n\n\n")

    assert not server.status().running
    assert server.start() is True
    check_connection(maintenance(server))


def test_start_after_the_server_was_killed(server):
    server.start()
    postmaster = psutil.Process(server.status().pid)
    children = postmaster.children(recursive=True)
    postmaster.kill()
    psutil.wait_procs([postmaster, *children], timeout=10)

    assert not server.status().running
    assert server.start() is True
    check_connection(maintenance(server))


def test_port_taken_by_another_program_is_a_clear_error(server):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", server.settings.port))
        squatter.listen()

        with pytest.raises(EmbeddedServerError, match="set PGPORT to a free port"):
            server.start()


def test_refuses_to_manage_an_external_server(tmp_path):
    with pytest.raises(EmbeddedServerError, match="external"):
        EmbeddedPostgres(load_settings({"PGHOST": "db.example.com"}), tmp_path)
