"""Registry logs and notifications -> request SLIs (see docs/logs.md).

- ``classify``: operation and repository from method + URI; Go durations.
- ``formats``: one parser per log format, each ``feed(line, sink) -> outcome``, never raising.
- ``pipeline``: bytes -> bounded, decoded lines -> parser; shared by the follower and replay.
- ``follower``: one glob's files (rotation, truncation, recreation, partial lines, checkpoints entries).
- ``checkpoint``: atomic file of positions and totals. ``service``: ``LogService`` for ``regslo run``.
- ``replay``: ``regslo logs replay``. ``follow``: a stand-alone tailer process (tests, trying a config).
"""
