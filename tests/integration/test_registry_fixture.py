import httpx


def test_two_regions_are_independent_processes(registries):
    us, eu = registries("us", "eu")
    assert us.port != eu.port
    for reg in (us, eu):
        r = httpx.get(reg.url + "/v2/")
        assert r.status_code == 200
        assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    us.stop()
    try:
        httpx.get(us.url + "/v2/", timeout=1)
        raise AssertionError("stopped registry still answers")
    except httpx.ConnectError:
        pass
    assert httpx.get(eu.url + "/v2/").status_code == 200
