"""Token service health from the probes' own token requests: ``regslo_auth_token_requests_total``.

Each registry's ``RegistryAuth`` counts the outcome of every token request it makes (ok; denied: the token
server answered 401/403; error: unreachable, timed out, 5xx, no token in the answer). This collector exposes
those counts at scrape time, every result of every registry from the start (zeros for registries that never
ask for a bearer token), so ``increase()`` works from the first failure.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

RESULTS = ("ok", "denied", "error")


class TokenRequests(Collector):
    def __init__(self, probers: Mapping[str, Any], registry: CollectorRegistry | None = None):
        self.probers = probers
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        fam = CounterMetricFamily("regslo_auth_token_requests",
                                  "Token requests the probes made to each registry's token service, by result "
                                  "(ok, denied: 401/403, error: unreachable, timeout, other answers).",
                                  labels=["registry", "result"])
        for name, prober in self.probers.items():
            counts = getattr(getattr(prober.client, "auth", None), "token_results", None) or {}
            for result in RESULTS:
                fam.add_metric([name, result], counts.get(result, 0))
        yield fam
