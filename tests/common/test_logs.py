"""thar.logs: the one level table and Bottlerocket's line format."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from thar.logs import LEVELS, TRACE, level_number, setup_logging

LINE = re.compile(r"\d\d:\d\d:\d\d \[([A-Z]+)\] (.*)")


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("thar-test-logs")
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
    log.propagate = True


def test_the_level_table_is_the_logging_module_levels() -> None:
    assert LEVELS == {
        "off": logging.CRITICAL + 10,
        "error": logging.ERROR,
        "warn": logging.WARNING,
        "info": logging.INFO,
        "debug": logging.DEBUG,
        "trace": logging.DEBUG - 5,
    }
    assert TRACE == logging.DEBUG - 5


@pytest.mark.parametrize("name", ["WARN", "warn", "Warn"])
def test_level_names_are_case_insensitive(name: str) -> None:
    assert level_number(name) == logging.WARNING


def test_a_number_is_a_level_as_it_is() -> None:
    assert level_number(7) == 7


def test_an_unknown_level_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        level_number("loud")


def test_importing_thar_logs_does_not_import_logging() -> None:
    code = "import sys, thar.logs; print('logging' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_lines_carry_the_time_and_bottlerocket_level_names(logger: logging.Logger) -> None:
    stream = io.StringIO()
    assert setup_logging("trace", logger.name, stream=stream) == TRACE
    logger.log(TRACE, "a trace")
    logger.warning("a warning")
    lines = [LINE.fullmatch(line) for line in stream.getvalue().splitlines()]
    assert [(m.group(1), m.group(2)) for m in lines if m] == [("TRACE", "a trace"), ("WARN", "a warning")]
    assert logger.propagate is False


def test_logging_names_on_request(logger: logging.Logger) -> None:
    stream = io.StringIO()
    setup_logging("info", logger.name, stream=stream, short_names=False)
    logger.warning("careful")
    assert re.fullmatch(r"\d\d:\d\d:\d\d \[WARNING\] careful\n", stream.getvalue())


def test_records_below_the_level_are_dropped(logger: logging.Logger) -> None:
    stream = io.StringIO()
    setup_logging("warn", logger.name, stream=stream)
    logger.info("quiet")
    logger.error("loud")
    assert "quiet" not in stream.getvalue()
    assert "[ERROR] loud" in stream.getvalue()


def test_off_logs_nothing(logger: logging.Logger) -> None:
    stream = io.StringIO()
    setup_logging("off", logger.name, stream=stream)
    logger.critical("nothing")
    assert stream.getvalue() == ""


def test_without_a_stream_errors_go_to_stderr_and_the_rest_to_stdout(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("info", logger.name)
    logger.info("to stdout")
    logger.error("to stderr")
    out, err = capsys.readouterr()
    assert "[INFO] to stdout" in out and "to stderr" not in out
    assert "[ERROR] to stderr" in err and "to stdout" not in err


def test_calling_it_again_replaces_the_handlers(logger: logging.Logger) -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("info", logger.name, stream=first)
    setup_logging("info", logger.name, stream=second)
    logger.info("once")
    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1
    assert len(logger.handlers) == 1


def test_several_loggers_share_the_setup(logger: logging.Logger) -> None:
    other = logging.getLogger("thar-test-logs-other")
    stream = io.StringIO()
    try:
        setup_logging("info", (logger.name, other.name), stream=stream)
        logger.info("one")
        other.info("two")
    finally:
        for handler in list(other.handlers):
            other.removeHandler(handler)
        other.propagate = True
    assert "one" in stream.getvalue() and "two" in stream.getvalue()


def test_logging_default_timestamps_on_request(logger: logging.Logger) -> None:
    stream = io.StringIO()
    setup_logging("info", logger.name, stream=stream, datefmt=None)
    logger.info("dated")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[INFO\] dated\n", stream.getvalue())
