"""apiclient's value classes (`Request`, the parsed command lines) are `typing.NamedTuple`s."""

from __future__ import annotations

import copy
import pickle

import pytest

from thar.apiclient.cli import ConfirmArgs, GetArgs, Invocation, RebootArgs, SetArgs, UnsetArgs, WatchArgs
from thar.apiclient.client import Request


def test_equality_is_by_value_as_for_tuples() -> None:
    assert Request("GET", "/settings") == Request("GET", "/settings", None, "application/json")
    assert Request("GET", "/settings") != Request("GET", "/settings", "")
    assert Request("GET", "/settings") != Request("GET", "/os")
    assert RebootArgs() == RebootArgs()
    assert RebootArgs() != UnsetArgs(())  # type: ignore[comparison-overlap]
    assert Request("GET", "/x") == ("GET", "/x", None, "application/json")
    assert RebootArgs() == ConfirmArgs() == ()  # type: ignore[comparison-overlap]  # the classes differ, the values do not
    assert not isinstance(RebootArgs(), ConfirmArgs)  # which is what apiclient.cli.run dispatches on


def test_keyword_arguments_and_defaults() -> None:
    assert Request(method="PATCH", uri="/settings", body="{}") == Request("PATCH", "/settings", "{}")
    assert GetArgs().prefixes == () and GetArgs().uri is None and GetArgs().toml is False
    assert SetArgs(items=("motd=a",)).dry_run is False
    assert WatchArgs(changes=3).changes == 3 and WatchArgs().count(None) == 3  # tuple.count stays a method


def test_repr_names_each_field_in_order() -> None:
    assert repr(Request("GET", "/x")) == "Request(method='GET', uri='/x', body=None, content_type='application/json')"
    assert repr(RebootArgs()) == "RebootArgs()"
    invocation = Invocation("get", GetArgs(("os.",)), "/run/api.sock", "info")
    assert repr(invocation) == (
        "Invocation(subcommand='get', command=GetArgs(prefixes=('os.',), uri=None, toml=False), "
        "socket_path='/run/api.sock', log_level='info')"
    )


def test_fields_cannot_be_assigned_or_deleted() -> None:
    request = Request("GET", "/x")
    with pytest.raises(AttributeError):
        request.uri = "/y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del request.uri
    with pytest.raises(AttributeError):
        request.other = 1  # type: ignore[attr-defined]
    assert request.uri == "/x"


def test_hash_follows_equality() -> None:
    assert hash(Request("GET", "/x")) == hash(Request("GET", "/x"))
    assert len({Request("GET", "/x"), Request("GET", "/x"), Request("GET", "/y")}) == 2
    assert hash(GetArgs(("os.",))) == hash(GetArgs(("os.",)))  # several values are a tuple, so hashable
    with pytest.raises(TypeError):
        hash(SetArgs(settings={"motd": "x"}))  # a dict field is unhashable, as in a tuple


def test_copy_and_pickle_round_trip() -> None:
    request = Request("PATCH", "/settings", '{"motd":"x"}', "application/json-patch+json")
    assert copy.copy(request) == request
    invocation = Invocation("unset", UnsetArgs(("motd",), 30), "/s", "warn")
    assert copy.deepcopy(invocation).command == UnsetArgs(("motd",), 30)
    assert pickle.loads(pickle.dumps(request)) == request
    assert type(pickle.loads(pickle.dumps(invocation)).command) is UnsetArgs
