"""Issue 9 item 7: a delete event removes tags from the tag memory without scanning it.

Before: each delete walked the whole memory under the metrics lock (2,000 deletes against 10,000 remembered
tags: 2.5 s in TagMemory alone, 5.4 s through the webhook). The index makes it 1.5 ms
(bench/server_hostile.py prints both).
"""

from collections import OrderedDict

from regslo.sources.logs.formats.notifications import TagMemory


class NoScan(OrderedDict):
    """An LRU store that fails the test if anything iterates over it."""

    def _scan(self, *args, **kwargs):
        raise AssertionError("the tag memory was scanned")

    items = keys = values = __iter__ = _scan


def digest(i: int) -> str:
    return f"sha256:{i:064x}"


def test_delete_never_scans_the_memory_and_removes_every_tag_of_the_digest():
    tags = TagMemory(10_000)
    for i in range(10_000):
        tags.push("r1", "repo", f"t{i}", digest(i % 5000))  # two tags per digest
    tags.lru.data = NoScan(tags.lru.data)
    for i in range(2000):
        tags.delete("r1", "repo", digest(i))
    tags.delete("r1", "other", digest(4000))  # another repository: nothing of repo goes
    tags.delete("r2", "repo", digest(4001))  # another registry: nothing goes
    assert len(tags) == 10_000 - 4000
    for i in (0, 1999, 5000, 6999):
        assert tags.get("r1", "repo", f"t{i}") is None
    for i in (2000, 4000, 4001, 7000, 9999):
        assert tags.get("r1", "repo", f"t{i}") == digest(i % 5000)


def test_index_follows_overwrites_and_evictions():
    tags = TagMemory(3)
    assert not tags.push("r1", "a", "latest", digest(1))
    assert tags.push("r1", "a", "latest", digest(2))  # moved: an overwrite
    tags.delete("r1", "a", digest(1))  # the old digest no longer holds the tag
    assert tags.get("r1", "a", "latest") == digest(2)
    for i in range(3):  # evicts latest
        tags.push("r1", "a", f"v{i}", digest(10 + i))
    assert tags.get("r1", "a", "latest") is None and len(tags) == 3
    assert ("r1", "a", digest(2)) not in tags.by_digest  # the index forgets what the LRU forgot
    assert len(tags.by_digest) == 3
    tags.delete("r1", "a", digest(11))
    assert tags.get("r1", "a", "v1") is None and len(tags) == 2 and len(tags.by_digest) == 2
    tags.resize(1)
    assert len(tags) == 1 and len(tags.by_digest) == 1


def test_dump_and_load_keep_the_index():
    tags = TagMemory(100)
    for i in range(10):
        tags.push("r1", "a", f"t{i}", digest(i // 2))
    again = TagMemory(100)
    again.load(tags.dump())
    again.delete("r1", "a", digest(0))
    assert again.get("r1", "a", "t0") is None and again.get("r1", "a", "t1") is None
    assert again.get("r1", "a", "t2") == digest(1) and len(again) == 8
