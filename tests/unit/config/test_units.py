import pytest

from regslo.units import format_duration, parse_duration, parse_size


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1d", 86400), ("1w", 604800),
                                          ("250ms", 0.25), ("2.5s", 2.5), (45, 45), ("1h0m5s", 3605)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5", "5 m", "m5", "5mm", "-1s", "1h 30m", True, None, "1.5.2s",
                                 float("nan"), float("inf"), 1e308, "99999999999999d"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("seconds,text", [(3600, "1h"), (90, "1m30s"), (2592000, "4w2d"), (0.25, "250ms"), (300, "5m")])
def test_format_duration_round_trips(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text,size", [("1MiB", 1048576), ("512KiB", 524288), ("1MB", 1000000), ("4096", 4096),
                                       (4096, 4096), ("1GiB", 1073741824), ("10B", 10)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["1 tonne", "MiB", "-1", "1.5.2MiB", None, [1]])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


@pytest.mark.parametrize("period", [".nan", ".inf", "1e308", "9999999999999w"])
def test_a_non_finite_or_huge_duration_in_the_config_is_a_key_error_not_a_crash(period):
    from regslo.config import ConfigError, parse_config
    with pytest.raises(ConfigError) as err:
        parse_config("registries: [{name: us, url: 'http://127.0.0.1:5000', region: us-east}]\n"
                     f"probes: {{interval: {period}}}\n")
    assert [p for p in err.value.problems if p.startswith("probes.interval:")], err.value.problems
