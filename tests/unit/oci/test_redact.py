"""The last net for secrets in texts: regslo.oci.errors.redact and the log formatter that applies it."""

import logging
import sys

import pytest

from regslo.logsetup import JSONFormatter, LogfmtFormatter
from regslo.oci.errors import redact, remember_secret, short_message


def test_authorization_shaped_values_are_removed():
    assert redact("Illegal header value b'Bearer eyJhbGciOi.abc\\nX: 1'") == \
        "Illegal header value b'Bearer <redacted> 1'"
    assert "dXNlcjpwYXNz" not in redact("Authorization: Basic dXNlcjpwYXNz")
    assert "r3fr3sh" not in redact("form refresh_token=r3fr3sh&client_id=regslo")
    # ordinary words survive
    assert redact("basic auth failed; bearer challenge without a realm") == \
        "basic auth failed; bearer challenge without a realm"


def test_remembered_secrets_are_removed_anywhere():
    remember_secret("correct-horse-battery")
    assert redact("registry said: user probe password correct-horse-battery is wrong") == \
        "registry said: user probe password <redacted> is wrong"
    assert "correct-horse" not in short_message(ValueError("x correct-horse-battery y"))


@pytest.mark.parametrize("formatter", [LogfmtFormatter(), JSONFormatter()], ids=["logfmt", "json"])
def test_log_lines_and_tracebacks_are_redacted(formatter):
    remember_secret("tok-0123456789")
    try:
        raise RuntimeError("header b'Bearer tok-0123456789'")
    except RuntimeError:
        record = logging.LogRecord("regslo", logging.WARNING, __file__, 1, "failed with %s", ("tok-0123456789",),
                                   sys.exc_info())
    record.detail = "echo tok-0123456789"  # a structured field (extra=)
    line = formatter.format(record)
    assert "tok-0123456789" not in line
    assert "Traceback" in line and "<redacted>" in line
