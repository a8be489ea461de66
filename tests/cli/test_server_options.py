"""The server options are one bundle (cli/_options.SERVER_OPTIONS), taken whole by every command that talks to a
server: found from the code (the commands the bundle's decorator marks), checked against two lists, so that a new
command is put in one of them on purpose."""

from __future__ import annotations

import typer

from tritonctl.cli._options import SERVER_OPTIONS

TALKS = {"load", "unload", "status", "infer", "policy apply", "version rm", "tune"}
SILENT = {"validate", "rules", "sync", "export east", "export str", "config generate", "config show", "config init",
          "config convert", "version add", "version list", "policy show", "policy set", "server start", "server stop",
          "server logs", "server list"}  # local files, S3, or the local servers' processes: no server connection


def _commands():
    from tritonctl.cli.app import app

    def walk(command, path):
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    return dict(walk(typer.main.get_command(app), []))


def test_every_command_that_talks_to_a_server_takes_every_server_option():
    commands = _commands()
    assert set(commands) == TALKS | SILENT, "a command in neither list: decide whether it talks to a server"
    assert not TALKS & SILENT
    bundle = {"url", "server", "fleet", "all_addresses", "timeout", "ssl", "header", "ca_cert"}
    assert set(SERVER_OPTIONS) == bundle
    for path, command in commands.items():
        marked = getattr(command.callback, "talks_to_servers", False)
        params = {p.name for p in command.params}
        assert marked == (path in TALKS), path
        if marked:
            assert bundle <= params, (path, bundle - params)
        else:
            assert not ({"url", "fleet", "ca_cert"} & params), path  # no half a bundle anywhere
