"""The EC2 providers against a fake IMDS on 127.0.0.1: the IMDSv2 token flow, user data,
the identity document, 404 when there is none, retries (spec/early-boot-config.md §5.2-5.5)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.early_boot_config.fake_imds import FakeImds
from tests.early_boot_config.sandbox import Sandbox
from thar.early_boot_config.errors import ImdsError
from thar.early_boot_config.imds import ImdsClient

IDENTITY = json.dumps({"region": "eu-west-3", "instanceId": "i-0123456789abcdef0"}).encode()
USER_DATA = b'[settings]\nmotd = "from IMDS"\n[settings.aws]\nregion = "ap-south-1"\n'

# aws-dev (by name: the aws-dev family's extensions) with one default setting.
DEFAULTS = '[settings]\nmotd = "default"\n[metadata.settings.motd]\naffected-services = ["motd"]\n'


@pytest.fixture(scope="module")
def aws_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    from tests.early_boot_config.sandbox import start_sandbox

    sandbox = start_sandbox(tmp_path_factory.mktemp("aws"), "aws-dev", DEFAULTS)
    yield sandbox
    assert sandbox.server.stop() == 0, sandbox.server.log()


@pytest.fixture
def aws(aws_sandbox: Sandbox) -> Sandbox:
    aws_sandbox.reset({"motd": "default"})
    return aws_sandbox


def boot(sandbox: Sandbox, imds: FakeImds, *args: str, validate: bool = False) -> tuple[int, str, str]:
    """early-boot-config with the EC2 providers on the fake IMDS. The model check is tested in
    test_early_boot_config.py; here it is off unless asked for (the API still checks)."""
    flags = () if validate else ("--no-validate",)
    result = sandbox.run("early_boot_config", "--platform", "aws", "--imds-endpoint", imds.endpoint, *flags, *args)
    return result.returncode, result.stdout, result.stderr


def test_user_data_and_region_come_from_imds(aws: Sandbox, imds: FakeImds) -> None:
    imds.documents = {"user-data": USER_DATA, "dynamic/instance-identity/document": IDENTITY}
    code, out, err = boot(aws, imds, validate=True)
    assert code == 0, err
    assert "User data fits the settings model the API serves" in out
    pending = aws.pending()
    assert pending["motd"] == "from IMDS"
    assert pending["aws"]["region"] == "ap-south-1"  # 40-ec2-imds overrides 30-ec2-identity-doc
    assert "Found user data via EC2 IMDS" in out


def test_the_token_flow(aws: Sandbox, imds: FakeImds) -> None:
    imds.documents = {"user-data": USER_DATA, "dynamic/instance-identity/document": IDENTITY}
    code, _, err = boot(aws, imds)
    assert code == 0, err
    puts = [s for s in imds.seen if s.method == "PUT"]
    assert puts and all(s.path == "/latest/api/token" and s.ttl == "60" for s in puts)
    gets = [s for s in imds.seen if s.method == "GET"]
    assert {s.path for s in gets} == {"/2021-07-15/user-data", "/2021-07-15/dynamic/instance-identity/document"}
    assert all(s.token is not None and s.token.startswith("token-") and s.status == 200 for s in gets)


def test_the_identity_document_region_when_user_data_has_none(aws: Sandbox, imds: FakeImds) -> None:
    imds.documents = {"user-data": b'[settings]\nmotd = "m"\n', "dynamic/instance-identity/document": IDENTITY}
    code, _, err = boot(aws, imds)
    assert code == 0, err
    assert aws.pending()["aws"]["region"] == "eu-west-3"


def test_no_user_data_is_a_404(aws: Sandbox, imds: FakeImds) -> None:
    imds.documents = {"dynamic/instance-identity/document": IDENTITY}
    code, out, err = boot(aws, imds)
    assert code == 0, err
    assert [s.status for s in imds.requests_for("user-data")] == [404]  # no retry on 404
    assert "No user data found via 40-ec2-imds" in out
    pending = aws.pending()
    assert pending["motd"] == "default"
    assert pending["aws"]["region"] == "eu-west-3"


def test_without_an_identity_document_the_region_is_us_east_1(aws: Sandbox, imds: FakeImds) -> None:
    code, _, err = boot(aws, imds)
    assert code == 0, err
    assert aws.pending()["aws"]["region"] == "us-east-1"


def test_an_identity_document_file_wins_over_imds(aws: Sandbox, imds: FakeImds, tmp_path: Path) -> None:
    imds.documents = {"dynamic/instance-identity/document": IDENTITY}
    document = tmp_path / "identity.json"
    document.write_text('{"region": "sa-east-1"}')
    code, _, err = boot(aws, imds, "--identity-document", str(document))
    assert code == 0, err
    assert aws.pending()["aws"]["region"] == "sa-east-1"
    assert imds.requests_for("dynamic/instance-identity/document") == []


def test_an_identity_document_file_without_region_is_an_error(aws: Sandbox, imds: FakeImds, tmp_path: Path) -> None:
    document = tmp_path / "identity.json"
    document.write_text('{"instanceId": "i-1"}')
    code, _, err = boot(aws, imds, "--identity-document", str(document))
    assert code == 1
    assert "Instance identity document missing region" in err


def test_gzip_user_data_from_imds(aws: Sandbox, imds: FakeImds) -> None:
    imds.documents = {"user-data": gzip.compress(USER_DATA)}
    code, _, err = boot(aws, imds)
    assert code == 0, err
    assert aws.pending()["motd"] == "from IMDS"


def test_imds_user_data_that_does_not_fit_the_model_changes_nothing(aws: Sandbox, imds: FakeImds) -> None:
    imds.documents = {"user-data": b"[settings.aws]\nregion = 5\n", "dynamic/instance-identity/document": IDENTITY}
    code, _, err = boot(aws, imds, validate=True)
    assert code == 1
    assert "EC2 IMDS" in err and "'aws-dev'" in err and "settings.aws.region = 5" in err
    assert aws.pending() == {"motd": "default"}  # not even the identity document's region


def test_a_shell_script_as_user_data_is_a_clear_error(aws: Sandbox, imds: FakeImds) -> None:
    imds.documents = {"user-data": b"#!/bin/bash\necho hello\nyum install -y thing\n"}
    code, _, err = boot(aws, imds)
    assert code == 1
    assert "EC2 IMDS" in err and "line 2, column" in err
    assert aws.pending() == {"motd": "default"}


def test_server_errors_are_retried(aws: Sandbox, imds: FakeImds) -> None:
    imds.documents = {"user-data": USER_DATA}
    imds.failures = {"user-data": [503], "token": [500]}
    code, out, err = boot(aws, imds)
    assert code == 0, err
    assert [s.status for s in imds.requests_for("user-data")] == [503, 200]
    assert next(s.status for s in imds.seen if s.method == "PUT") == 500
    assert "retrying in" in out
    assert aws.pending()["motd"] == "from IMDS"


def test_giving_up_after_the_time_limit(aws: Sandbox, imds: FakeImds) -> None:
    imds.failures = {"user-data": [500] * 1000}
    code, _, err = boot(aws, imds, "--imds-timeout", "0.6")
    assert code == 1
    assert "Timed out fetching data from IMDS" in err
    assert aws.pending() == {"motd": "default"}  # the identity document's region was not sent either


# -- the client on its own ------------------------------------------------------------------------
def test_backoff_is_fibonacci_from_a_quarter_second_capped_at_ten(imds: FakeImds) -> None:
    imds.documents = {"user-data": b"x"}
    imds.failures = {"user-data": [500] * 11}
    delays: list[float] = []
    client = ImdsClient(imds.endpoint, sleep=delays.append)
    assert client.fetch("user-data") == b"x"
    assert delays == [0.25, 0.25, 0.5, 0.75, 1.25, 2.0, 3.25, 5.25, 8.5, 10.0, 10.0]


def test_an_expired_token_is_replaced(imds: FakeImds) -> None:
    imds.documents = {"user-data": b"data"}
    client = ImdsClient(imds.endpoint, sleep=lambda _: None)
    assert client.user_data() == b"data"
    imds.expire_token()
    assert client.user_data() == b"data"
    assert imds.tokens_issued == 2
    assert [s.status for s in imds.requests_for("user-data")] == [200, 401, 200]


def test_the_token_is_reused(imds: FakeImds) -> None:
    imds.documents = {"user-data": b"data", "dynamic/instance-identity/document": IDENTITY}
    client = ImdsClient(imds.endpoint)
    client.user_data()
    assert client.identity_document() == json.loads(IDENTITY)
    assert imds.tokens_issued == 1


def test_a_404_is_none(imds: FakeImds) -> None:
    assert ImdsClient(imds.endpoint).user_data() is None
    assert ImdsClient(imds.endpoint).identity_document() is None


def test_no_service_times_out(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ImdsClient(f"http://127.0.0.1:{port}", timeout=0.3, first_delay=0.05)
    with pytest.raises(ImdsError, match="Timed out fetching data from IMDS"):
        client.user_data()
    assert client.attempts >= 2


def test_the_endpoint_must_be_http() -> None:
    with pytest.raises(ImdsError, match="http://"):
        ImdsClient("https://169.254.169.254")


def test_installed_ec2_providers_get_the_endpoint_from_the_flag(aws: Sandbox, imds: FakeImds, tmp_path: Path) -> None:
    """The EC2 providers as programs in a providers directory: --imds-endpoint reaches them."""
    import subprocess
    import sys

    libexec = tmp_path / "libexec"
    done = subprocess.run(
        [sys.executable, "-m", "thar.early_boot_config", "install-providers", "--platform", "aws",
         "--dir", str(libexec)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    imds.documents = {"user-data": gzip.compress(USER_DATA), "dynamic/instance-identity/document": IDENTITY}
    code, out, err = boot(aws, imds, "--providers-dir", str(libexec / "data-providers.d"))
    assert code == 0, err
    assert "40-ec2-imds" in out and "Found user data via EC2 IMDS" in out
    pending = aws.pending()
    assert pending["motd"] == "from IMDS" and pending["aws"]["region"] == "ap-south-1"
    assert {s.path for s in imds.seen if s.method == "GET"} == {
        "/2021-07-15/user-data",
        "/2021-07-15/dynamic/instance-identity/document",
    }
