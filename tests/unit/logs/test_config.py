import pytest

from regslo.config import ConfigError, parse_config

BASE = "registries: [{name: us, url: 'http://127.0.0.1:5000'}, {name: eu, url: 'http://127.0.0.1:5001'}]\n"


def problems(text: str, tmp_path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(BASE + text, base_dir=tmp_path)
    return exc.value.problems


def test_plain_list_shape(tmp_path):
    cfg = parse_config(BASE + "logs: [{path: logs/*.log, format: distribution, registry: us}]\n", base_dir=tmp_path)
    (src,) = cfg.logs.sources
    assert src.path == str(tmp_path / "logs/*.log") and src.format == "distribution" and src.registry == "us"
    assert cfg.logs.start_at == "end" and cfg.logs.checkpoint_dir is None and cfg.logs.registries == ("us", "eu")


def test_mapping_shape_with_settings(tmp_path):
    cfg = parse_config(BASE + """
logs:
  checkpoint_dir: state
  start_at: beginning
  repository_top_k: 20
  max_line_bytes: 1MiB
  poll_interval: 500ms
  sources:
    - {path: /var/log/nginx/access.log, format: nginx, registry: eu, log_format: '$remote_addr "$request" $status'}
    - {format: notifications, registry: us}
""", base_dir=tmp_path)
    logs = cfg.logs
    assert logs.checkpoint_dir == tmp_path / "state" and logs.start_at == "beginning"
    assert logs.repository_top_k == 20 and logs.max_line_bytes == 1024 * 1024 and logs.poll_interval == 0.5
    assert logs.webhook_registries == ("us",)
    assert logs.sources[1].label == "notifications/us"


def test_every_problem_names_its_key_path(tmp_path):
    (tmp_path / "afile").write_text("x")
    found = problems("""
logs:
  checkpoint_dir: afile
  start_at: middle
  repository_top_k: 0
  max_line_bytes: 10
  poll_interval: soon
  colour: red
  sources:
    - {path: a.log, format: jsonish, registry: us}
    - {path: b.log, format: distribution, registry: asia}
    - {format: combined, registry: us}
    - {path: c.log, format: combined, registry: us, log_format: '$status'}
    - {path: d.log, format: nginx, registry: us, log_format: '$remote_addr'}
    - {path: b.log, format: combined, registry: us}
""", tmp_path)
    text = "\n".join(found)
    for fragment in [
        "logs.checkpoint_dir: exists and is not a directory",
        "logs.start_at: must be one of end, beginning",
        "logs.repository_top_k: must be >= 1",
        "logs.max_line_bytes: must be between",
        "logs.poll_interval: expected a duration",
        "logs.colour: unknown key",
        "logs.sources[0].format: must be one of",
        "logs.sources[1].registry: unknown registry 'asia' (known: us, eu)",
        "logs.sources[2].path: is required",
        "logs.sources[3].log_format: only applies to format nginx",
        "logs.sources[4].log_format: log_format must contain $status",
        "logs.sources[5].path: duplicate path",
    ]:
        assert fragment in text, (fragment, found)


def test_empty_sources_and_wrong_types(tmp_path):
    assert any(p.startswith("logs.sources: must list at least one") for p in problems("logs: {sources: []}\n", tmp_path))
    assert any(p.startswith("logs: must be a mapping") for p in problems("logs: 3\n", tmp_path))
    assert any(p.startswith("logs.sources[0]: must be a mapping") for p in problems("logs: [nope]\n", tmp_path))


def test_check_config_cli_reports_logs_problems(tmp_path, capsys):
    from regslo.cli import main
    path = tmp_path / "c.yml"
    path.write_text(BASE + "logs: [{path: a.log, format: nope, registry: us}]\n")
    with pytest.raises(SystemExit) as exc:
        main(["check-config", "-c", str(path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error: logs.sources[0].format: must be one of" in err and "Traceback" not in err
