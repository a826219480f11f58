"""apiclient's value classes (`Request`, the parsed command lines) behave as frozen dataclasses do."""

from __future__ import annotations

import copy
import pickle

import pytest

from thar.apiclient.cli import GetArgs, Invocation, RebootArgs, SetArgs, UnsetArgs
from thar.apiclient.client import Request


def test_equality_is_by_class_and_every_field() -> None:
    assert Request("GET", "/settings") == Request("GET", "/settings", None, "application/json")
    assert Request("GET", "/settings") != Request("GET", "/settings", "")
    assert Request("GET", "/settings") != Request("GET", "/os")
    assert RebootArgs() == RebootArgs()
    assert RebootArgs() != UnsetArgs([])
    assert GetArgs() != ("", None)


def test_keyword_arguments_and_defaults() -> None:
    assert Request(method="PATCH", uri="/settings", body="{}") == Request("PATCH", "/settings", "{}")
    assert GetArgs().prefixes == [] and GetArgs().uri is None
    assert GetArgs().prefixes is not GetArgs().prefixes  # a fresh list each time, not a shared default
    assert SetArgs(items=["motd=a"]).dry_run is False


def test_repr_names_each_field_in_order() -> None:
    assert repr(Request("GET", "/x")) == "Request(method='GET', uri='/x', body=None, content_type='application/json')"
    assert repr(RebootArgs()) == "RebootArgs()"
    invocation = Invocation("get", GetArgs(["os."]), "/run/api.sock", "info")
    assert repr(invocation) == (
        "Invocation(subcommand='get', command=GetArgs(prefixes=['os.'], uri=None), "
        "socket_path='/run/api.sock', log_level='info')"
    )


def test_fields_cannot_be_assigned_or_deleted() -> None:
    request = Request("GET", "/x")
    with pytest.raises(AttributeError):
        request.uri = "/y"
    with pytest.raises(AttributeError):
        del request.uri
    with pytest.raises(AttributeError):
        request.other = 1  # type: ignore[attr-defined]
    assert request.uri == "/x"


def test_hash_follows_equality() -> None:
    assert hash(Request("GET", "/x")) == hash(Request("GET", "/x"))
    assert len({Request("GET", "/x"), Request("GET", "/x"), Request("GET", "/y")}) == 2
    with pytest.raises(TypeError):
        hash(GetArgs(["os."]))  # a list field is unhashable, as in a dataclass


def test_copy_and_pickle_round_trip() -> None:
    request = Request("PATCH", "/settings", '{"motd":"x"}', "application/json-patch+json")
    assert copy.copy(request) == request
    assert copy.deepcopy(Invocation("unset", UnsetArgs(["motd"], 30), "/s", "warn")).command == UnsetArgs(["motd"], 30)
    assert pickle.loads(pickle.dumps(request)) == request
