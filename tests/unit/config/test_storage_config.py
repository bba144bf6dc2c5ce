"""registries[].storage and registries[].gc: defaults, units, and check-config's one-line explanations."""

import subprocess
import sys
import textwrap

import pytest

from regslo.config import ConfigError, parse_config


def cfg(tmp_path, storage="", gc="", logs=""):
    return textwrap.dedent(f"""
        registries:
          - name: us
            url: http://127.0.0.1:5000
            {storage}
            {gc}
        {logs}
    """)


def test_defaults(tmp_path):
    config = parse_config(cfg(tmp_path, f"storage: {{path: {tmp_path}}}"), base_dir=tmp_path)
    st = config.registries[0].storage
    assert (st.path, st.target, st.window, st.page_within, st.ticket_within) == (tmp_path, 0.7, 21600, 21600, 345600)
    assert config.registries[0].gc is None


@pytest.mark.parametrize("target", ["80%", "0.8", "80"])
def test_target_forms(tmp_path, target):
    text = cfg(tmp_path, f"storage: {{path: {tmp_path}, target: '{target}'}}".replace("'0.8'", "0.8").replace("'80'", "80"))
    assert parse_config(text, base_dir=tmp_path).registries[0].storage.target == pytest.approx(0.8)


def test_relative_path_and_gc(tmp_path):
    (tmp_path / "data").mkdir()
    text = cfg(tmp_path, "storage: {path: data, window: 2h}", "gc: {max_age: 3d}",
               f"logs: [{{path: {tmp_path}/gc.log, format: distribution-gc, registry: us}}]")
    config = parse_config(text, base_dir=tmp_path)
    assert config.registries[0].storage.path == tmp_path / "data"
    assert config.registries[0].gc.max_age == 3 * 86400
    assert config.warnings == []


def test_gc_without_a_gc_source_warns(tmp_path):
    config = parse_config(cfg(tmp_path, gc="gc: {max_age: 8d}"), base_dir=tmp_path)
    assert any("registries[0].gc: no logs source with format distribution-gc" in w for w in config.warnings)


@pytest.mark.parametrize("storage, message", [
    ("storage: {path: 's3://bucket/registry'}", "registries[0].storage.path: s3://bucket/registry is object storage"),
    ("storage: {path: /nonexistent/registry}", "registries[0].storage.path: /nonexistent/registry is not a directory"),
    ("storage: {path: /tmp, target: 120%}", "registries[0].storage.target: must be between 0% and 100%"),
    ("storage: {path: /tmp, page_within: 5d}", "registries[0].storage.page_within: must not exceed ticket_within"),
    ("storage: {path: /tmp, window: 1m}", "registries[0].storage.window: must hold at least 5 samples"),
    ("storage: {path: /tmp, colour: red}", "registries[0].storage.colour: unknown key"),
    ("storage: {target: 70%}", "registries[0].storage.path: is required"),
    ("storage: /var/lib/registry", "registries[0].storage: must be a mapping"),  # the path alone: a common slip
    ("storage: [/var/lib/registry]", "registries[0].storage: must be a mapping"),
    ("storage: {path: ''}", "registries[0].storage.path: must be a non-empty string"),
    ("storage: {path: 42}", "registries[0].storage.path: must be a non-empty string"),
    ("storage: {path: /etc/hostname}", "registries[0].storage.path: /etc/hostname is not a directory"),
    ("storage: {path: /tmp, target: true}", "registries[0].storage.target: must be a percentage"),
    ("storage: {path: /tmp, target: 0}", "registries[0].storage.target: must be between 0% and 100%"),
    ("storage: {path: /tmp, scan_rate: 0}", "registries[0].storage.scan_rate: must be >= 1"),
    ("storage: {path: /tmp, window: -1h}", "registries[0].storage.window: expected a duration"),
])
def test_bad_storage_is_one_line_naming_the_key(tmp_path, storage, message):
    with pytest.raises(ConfigError) as info:
        parse_config(cfg(tmp_path, storage), base_dir=tmp_path)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith(message), info.value.problems


def test_generate_does_not_need_the_directory(tmp_path):
    config = parse_config(cfg(tmp_path, "storage: {path: /only/on/the/registry/host}"), base_dir=tmp_path,
                          check_secrets=False)
    assert str(config.registries[0].storage.path) == "/only/on/the/registry/host"


def test_check_config_explains_object_storage(tmp_path):
    path = tmp_path / "regslo.yml"
    path.write_text(cfg(tmp_path, "storage: {path: 'gs://bucket/docker'}"))
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert lines[0].startswith("error: registries[0].storage.path: gs://bucket/docker is object storage")
    assert "docs/operations.md#object-storage" in lines[0]


def test_mount_type_reads_the_longest_matching_mount(tmp_path):
    from pathlib import Path

    from regslo.config.storage import mount_type
    assert mount_type(Path("/proc/self")) == "proc"
    assert mount_type(tmp_path) not in (None, "proc")


def test_network_mounts_warn(tmp_path, monkeypatch):
    from regslo.config import storage
    monkeypatch.setattr(storage, "mount_type", lambda path: "fuse.s3fs")
    config = parse_config(cfg(tmp_path, f"storage: {{path: {tmp_path}}}"), base_dir=tmp_path)
    assert any("is on a fuse.s3fs mount" in w and "object-storage" in w for w in config.warnings), config.warnings
