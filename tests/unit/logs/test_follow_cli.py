"""The stand-alone follower's --listen is checked like regslo run's --web.listen-address: a bad address is
exit 2 and one line (a port over 65535 or a host with an underscore used to end in a ValueError traceback)."""

import pytest
import yaml

from regslo.sources.logs import follow


@pytest.mark.parametrize("listen,message", [
    ("127.0.0.1:99999", "port must be a number from 0 to 65535"),
    ("foo_bar:9746", "is not a host name or IPv4 address"),
    ("9746", "must be HOST:PORT"),
])
def test_a_bad_listen_address_is_exit_2_and_one_line(tmp_path, capsys, listen, message):
    log = tmp_path / "registry.log"
    log.write_text("")
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump({"registries": [{"name": "r1", "url": "http://127.0.0.1:5000"}],
                                   "logs": {"sources": [{"path": str(log), "format": "distribution",
                                                         "registry": "r1"}]}}))
    assert follow.main(["-c", str(cfg), "--listen", listen]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --listen: ") and message in err[0], err
