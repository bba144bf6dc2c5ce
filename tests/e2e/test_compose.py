"""docker-compose.yml and its deploy/ files, checked with the tools that consume them.

No Docker engine runs on the CI machines, so the images are never started here: the checks prove the files
parse and agree with each other, not that the containers come up. Compose implementations checked:

- docker-compose 1.29.2 (the Python implementation Debian 12 ships): `docker-compose config -q`;
- the Compose Specification itself: its published JSON schema (tests/data/compose-spec, from
  compose-spec/compose-spec at 170098b), the schema Docker Compose v2 validates files against.

Not checked (not installable here without a Docker engine): the Docker Compose v2 binary and podman-compose.
Also checked: `amtool check-config`, `promtool check config` and regslo's own config loader.
"""

from __future__ import annotations

import json
import re
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


def test_compose_specification_schema_and_no_version_key():
    import jsonschema

    schema = json.loads((ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json").read_text())
    doc = compose()
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    assert errors == []
    assert "version" not in doc  # the Compose Specification ignores it; docker compose v2 warns about it


def test_every_service_has_a_healthcheck_and_waits_for_what_it_needs():
    services = compose()["services"]
    for name, svc in services.items():
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        for dep, how in (svc.get("depends_on") or {}).items():
            assert dep in services and how == {"condition": "service_healthy"}, (name, dep, how)


def test_one_image_build_shared_by_the_services_that_run_regslo():
    services = compose()["services"]
    builders = [n for n, s in services.items() if "build" in s]
    assert builders == ["regslo"], builders
    image = services["regslo"]["image"]
    users = [n for n, s in services.items() if s.get("image") == image and n != "regslo"]
    assert set(users) == {"replicator", "pager"}
    for name in users:
        svc = services[name]
        # never pulled (the image exists only locally) and started after the builder, which is healthy
        assert svc.get("pull_policy") == "never" and "build" not in svc, name
        assert svc["depends_on"]["regslo"] == {"condition": "service_healthy"}, name


# Current releases when this was written (2026), from their projects' release announcements as dependency
# bots recorded them: registry 3.1.0 (distribution v3), prom/prometheus v3.13.1, prom/alertmanager v0.35.0,
# grafana/grafana 13.2.3 (the version of @grafana/schema the dashboards are checked against).
MINIMUM = {"registry": (3, 1), "prom/prometheus": (3, 13), "prom/alertmanager": (0, 35), "grafana/grafana": (13, 2)}


def test_third_party_images_are_pinned_to_current_releases():
    seen = set()
    for name, svc in compose()["services"].items():
        repo, _, tag = svc["image"].partition(":")
        if repo == "regslo":
            continue
        match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", tag)
        assert match, f"{name}: {svc['image']} is not pinned to a full release"
        assert tuple(map(int, match.groups()[:2])) >= MINIMUM[repo], f"{name}: {svc['image']} is outdated"
        seen.add(repo)
    assert seen == set(MINIMUM)


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
