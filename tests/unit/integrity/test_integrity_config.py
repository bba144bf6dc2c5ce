"""consistency: and immutable_tags: sections: parsed values, and check-config naming the broken key."""

import subprocess
import sys

import pytest

from regslo.config import parse_config
from regslo.config.integrity import compile_pattern

REGS = "registries:\n  - {name: us, url: 'http://a'}\n  - {name: eu, url: 'http://b'}\n  - {name: ap, url: 'http://c'}\n"


def test_consistency_defaults_and_values():
    cfg = parse_config(REGS + "consistency:\n  - {repository: app/web, tags: [latest, stable], registries: [us, eu],"
                              " interval: 10s, grace: 2m}\n  - {repository: base/alpine, tags: ['3.19']}\n")
    a, b = cfg.consistency
    assert (a.repository, a.tags, a.registries, a.interval, a.grace) == ("app/web", ("latest", "stable"),
                                                                         ("us", "eu"), 10.0, 120.0)
    assert (b.registries, b.interval, b.grace) == (("us", "eu", "ap"), 60.0, 300.0)
    assert parse_config(REGS).consistency == []


def test_immutable_tags_list_and_mapping_forms():
    cfg = parse_config(REGS + 'immutable_tags: ["prod/**:v*", "base/*:latest"]\n')
    tags = cfg.immutable_tags
    assert tags.severity == "ticket" and tags.patterns == ("prod/**:v*", "base/*:latest")
    assert tags.protects("prod/app", "v1.2") and tags.protects("prod/team/app", "v1")
    assert not tags.protects("prod", "v1") and not tags.protects("prod/app", "latest")
    assert tags.protects("base/alpine", "latest") and not tags.protects("base/x/alpine", "latest")
    assert not tags.protects("base/alpine", "latest2") and not tags.protects("other/prod/app", "v1")
    cfg = parse_config(REGS + 'immutable_tags: {patterns: ["*:v?"], severity: page}\n')
    assert cfg.immutable_tags.severity == "page" and cfg.immutable_tags.protects("app", "v1")
    assert not cfg.immutable_tags.protects("team/app", "v1") and not parse_config(REGS).immutable_tags


@pytest.mark.parametrize("pattern", ["prod", ":v1", "prod/:v1", "Prod/*:v1", "prod/a**:v1", "prod/*:v 1"])
def test_bad_patterns_are_refused(pattern):
    with pytest.raises(ValueError):
        compile_pattern(pattern)


BROKEN = [
    ("consistency: {repository: a}", "consistency: must be a list"),
    ("consistency:\n  - {tags: [x]}", "consistency[0].repository: is required"),
    ("consistency:\n  - {repository: App, tags: [x]}", "consistency[0].repository: not a valid repository"),
    ("consistency:\n  - {repository: app, tags: []}", "consistency[0].tags: must list at least one tag"),
    ("consistency:\n  - {repository: app, tags: ['-bad']}", "consistency[0].tags[0]: not a valid tag"),
    ("consistency:\n  - {repository: app, tags: [x], registries: [us, mars]}",
     "consistency[0].registries[1]: unknown registry 'mars'"),
    ("consistency:\n  - {repository: app, tags: [x], registries: [us]}",
     "consistency[0].registries: needs at least two registries"),
    ("consistency:\n  - {repository: app, tags: [x], interval: 0s}", "consistency[0].interval: must be a positive"),
    ("consistency:\n  - {repository: app, tags: [x], color: red}", "consistency[0].color: unknown key"),
    ("consistency:\n  - {repository: app, tags: [x]}\n  - {repository: app, tags: [x]}",
     "consistency[1].tags[0]: app:x is already checked by consistency[0]"),
    ("immutable_tags: [prod]", "immutable_tags[0]: must be <repository glob>:<tag glob>"),
    ("immutable_tags: {patterns: ['a:b'], severity: loud}", "immutable_tags.severity: must be one of page, ticket"),
    ("immutable_tags: {severity: page}", "immutable_tags.patterns: is required"),
    ("immutable_tags: 3", "immutable_tags: must be a list of patterns"),
]


@pytest.mark.parametrize("text,expected", BROKEN)
def test_check_config_names_the_key(tmp_path, text, expected):
    path = tmp_path / "regslo.yml"
    path.write_text(REGS + text + "\n")
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2, res.stderr
    assert expected in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
