"""docker-compose.yml and its deploy/ files, checked with the tools that consume them.

No Docker engine runs on the CI machines, so `docker-compose config -q` (Debian's docker-compose 1.29),
`amtool check-config`, `promtool check config` and regslo's own config loader are the only checks possible
here: they prove the files parse and agree with each other, not that the images start.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from regslo.config import load_config
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_docker_compose_config_is_valid():
    res = subprocess.run([require("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr


def test_every_published_port_is_on_loopback_and_every_mounted_file_exists():
    services = compose()["services"]
    assert {"registry-us", "registry-eu", "regslo", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
        for volume in svc.get("volumes", []):
            src = volume.split(":")[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), f"{name} mounts missing {src}"
    am = services["alertmanager"]["command"]
    assert "--cluster.listen-address=" in am, "Alertmanager would open its gossip port on every interface"


def test_regslo_compose_config_loads_and_targets_the_compose_registries():
    config = load_config(ROOT / "deploy" / "regslo-compose.yml")
    assert {r.name: r.url for r in config.registries} == {"us": "http://registry-us:5000",
                                                         "eu": "http://registry-eu:5000"}
    assert [(p.source, p.destination) for p in config.replication] == [("us", "eu")]


def test_regslo_compose_config_has_the_slos_the_committed_alerts_were_generated_from():
    """Prometheus in compose loads alerts/ (from examples/regslo.yml): the SLOs must be the same ones."""
    example = yaml.safe_load((ROOT / "examples" / "regslo.yml").read_text())
    ours = yaml.safe_load((ROOT / "deploy" / "regslo-compose.yml").read_text())
    for section in ("slos", "alerting", "dashboards"):
        assert ours.get(section) == example.get(section), \
            f"{section}: differs from examples/regslo.yml; sync with `python3 -m regslo.demo.configs`"


def test_prometheus_config_is_valid_and_loads_the_committed_rules(tmp_path):
    cfg = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    pattern = cfg["rule_files"][0]
    assert pattern.startswith("/etc/prometheus/rules/")
    rules = sorted((ROOT / "alerts").glob(pattern.rsplit("/", 1)[1]))
    assert rules, f"{pattern} matches none of the committed alerts/ files"
    # promtool resolves rule_files relative to the config: check a copy pointing at the committed files
    cfg["rule_files"] = [str(p) for p in rules]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([require("promtool"), "check", "config", str(local)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_alertmanager_config_is_the_generated_routing_with_the_pager_as_receiver():
    from regslo.demo.configs import compose_alertmanager

    path = ROOT / "deploy" / "alertmanager.yml"
    res = subprocess.run([require("amtool"), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert path.read_text() == compose_alertmanager(ROOT / "alerts" / "alertmanager.yml"), \
        "deploy/alertmanager.yml is stale: rewrite it with `python3 -m regslo.demo.configs`"


def test_grafana_provisioning_points_at_the_dashboards_and_their_datasource():
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {d["uid"] for d in ds["datasources"]}
    boards = sorted((ROOT / "dashboards").glob("*.json"))
    assert boards
    for board in boards:
        text = board.read_text()
        json.loads(text)
        for uid in {m for m in _datasource_uids(json.loads(text))}:
            assert uid in uids or uid.startswith("${"), f"{board.name} uses datasource uid {uid!r}"
    home = compose()["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "dashboards" / Path(home).name).exists()


def _datasource_uids(node) -> set[str]:
    out: set[str] = set()
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict) and isinstance(ds.get("uid"), str):
            out.add(ds["uid"])
        for v in node.values():
            out |= _datasource_uids(v)
    elif isinstance(node, list):
        for v in node:
            out |= _datasource_uids(v)
    return out
