"""Histogram bucket bounds, in seconds. Part of the public contract: latency and freshness SLO thresholds
must be one of these bounds (``check-config`` lists them), so the generated rules can read the SLI off a
single ``_bucket{le=...}`` series exactly, without interpolation.
"""

# regslo_probe_duration_seconds and regslo_probe_phase_duration_seconds: 5 ms .. 120 s
PROBE_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
                          30.0, 60.0, 120.0)
# regslo_registry_request_duration_seconds (from logs that carry a duration)
REQUEST_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# regslo_replication_lag_seconds
REPLICATION_LAG_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0,
                           600.0)
# regslo_pushed_image_size_bytes (bytes): 1 MB .. 20 GB, from slim base images to AI-model images
IMAGE_SIZE_BUCKETS = (1e6, 5e6, 1e7, 2.5e7, 5e7, 1e8, 2.5e8, 5e8, 1e9, 2.5e9, 5e9, 1e10, 2e10)
