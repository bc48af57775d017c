"""The archive on a real three-node Elasticsearch cluster, and a data node killed in the middle of a crawl.

The cluster runs on loopback from the cached distribution (the one the session's node uses):
three master-eligible data nodes started through :func:`indexer.node.start` with a
:class:`indexer.node.ClusterMember` each — own folder, HTTP and transport ports, 256 MB heap —
that find each other through their transport ports. DealWatch is pointed at all three node
URLs (``DEALWATCH_ES_URL``, comma-separated) with one replica per shard (``index_replicas``).

Specification:
* every index DealWatch creates there has its replica on another node (the cluster is green);
* a crawl of the demo sites goes on while the node holding the articles' primary shard is
  killed with SIGKILL: the client retries on the remaining nodes, the replica takes over;
* the archive ends complete — every article of the sites exactly once, with its title — and the
  runs are recorded as ok with every article counted new and no write refused.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from conftest import free_http_port
from crawler.canonical import canonicalize
from crawler.sources import load_sources
from crawler.supervisor import supervise_crawl
from dealwatch.processes import read_pid_file
from dealwatch.settings import Settings
from demo_sites import expected_articles
from indexer import node, store
from indexer.archive import Archive
from indexer.client import make_client
from indexer.schema import article_id
from jobs_helpers import slow_demo_sites, write_sources

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SITES = ["baltic-ledger", "kurier-nadwislanski", "harbour-tribune"]
ARTICLE_DELAY_S = 0.3


@dataclass
class Cluster:
    nodes: list[Settings]             # one settings object per node (its folder and ports)
    names: list[str]

    @property
    def url(self) -> str:
        return ",".join(f"http://127.0.0.1:{s.es_port}" for s in self.nodes)

    def pid(self, name: str) -> int | None:
        return read_pid_file(self.nodes[self.names.index(name)].es_run_dir / "elasticsearch.pid")


def _ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_http_port()
        if all(abs(port - p) not in (0, 100) for p in ports):   # no HTTP port is another's transport port
            ports.append(port)
    return ports


@pytest.fixture(scope="module")
def cluster(es_node):
    """Three local nodes forming one cluster, green; stopped and deleted at the end of the module."""
    if not es_node.local_node:
        pytest.skip("the test cluster is started from the local node's distribution (DEALWATCH_ES_URL is set)")
    tag = uuid.uuid4().hex[:8]
    root = es_node.data_dir / f"test-cluster-{tag}"
    names = [f"dw-{tag}-{i}" for i in range(3)]
    nodes = [es_node.replace(es_dir=root / name, es_port=port, es_heap="256m")
             for name, port in zip(names, _ports(3))]
    seeds = tuple(s.es_transport_port for s in nodes)
    members = [node.ClusterMember(f"dwtest-{tag}", name, seeds, tuple(names)) for name in names]
    failures: list[BaseException] = []

    def start(s: Settings, member: node.ClusterMember) -> None:
        try:
            node.start(s, member=member)
        except BaseException as exc:    # noqa: BLE001 - reported below, with the other nodes stopped
            failures.append(exc)

    t0 = time.monotonic()
    threads = [threading.Thread(target=start, args=pair) for pair in zip(nodes, members)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures, f"a cluster node did not start: {failures[0]}"
        es = make_client(nodes[0].replace(es_url=Cluster(nodes, names).url))
        health = es.cluster.health(wait_for_nodes="3", wait_for_status="green", timeout="120s")
        assert health["number_of_nodes"] == 3 and health["status"] == "green", health
        print(f"\ncluster of 3 nodes green in {time.monotonic() - t0:.0f} s")
        yield Cluster(nodes, names)
    finally:
        t1 = time.monotonic()
        stoppers = [threading.Thread(target=node.stop, args=(s,)) for s in nodes]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        shutil.rmtree(root, ignore_errors=True)
        print(f"\ncluster stopped in {time.monotonic() - t1:.0f} s")


def _primary_holder(es, index: str) -> str:
    [shard] = [s for s in es.cat.shards(index=index, format="json") if s["prirep"] == "p"]
    return shard["node"]


def test_a_crawl_survives_a_killed_data_node_and_the_archive_ends_complete(cluster, settings, tmp_path):
    s = settings.replace(es_url=cluster.url, index_replicas=1, index_prefix=f"{settings.index_prefix}cluster-",
                         data_dir=tmp_path / "data", extract_workers=1, concurrent_requests_per_domain=1,
                         index_batch_size=4, index_flush_seconds=0.5)
    es = make_client(s)
    archive = Archive(s)
    index = archive.ensure()
    health = es.cluster.health(wait_for_status="green", timeout="60s")
    assert health["status"] == "green", "every shard has its replica on another node"
    replicas = es.indices.get_settings(index=f"{s.index_prefix}*", name="index.number_of_replicas")
    assert {v["settings"]["index"]["number_of_replicas"] for v in replicas.values()} == {"1"}

    with slow_demo_sites(ARTICLE_DELAY_S) as demo:
        sources = load_sources(write_sources(demo, tmp_path / "sources.yaml", SITES, time_limit="10m"))
        expected = expected_articles(1, sites=[demo.site(name) for name in SITES])
        victim = _primary_holder(es, index)
        victim_pid = cluster.pid(victim)
        assert victim_pid, f"the node {victim} runs"

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(sources)) as pool:
            runs = [pool.submit(supervise_crawl, source, s, sources_file=tmp_path / "sources.yaml")
                    for source in sources]
            deadline = time.monotonic() + 300
            while archive.count() < len(expected) // 4:      # a quarter written: kill in the middle
                assert not all(r.done() for r in runs), "the crawl ended before the node could be killed"
                assert time.monotonic() < deadline, "the crawl wrote too little in time"
                time.sleep(0.2)
            os.kill(victim_pid, signal.SIGKILL)
            killed_after = time.monotonic() - t0
            at_kill = archive.count()
            records = [r.result(timeout=600) for r in runs]
            crawl_s = time.monotonic() - t0

    assert at_kill < len(expected), "the node was killed after the crawl had written everything"
    alive = {n["name"] for n in es.cat.nodes(format="json")}
    assert victim not in alive and len(alive) == 2
    assert _primary_holder(es, index) != victim, "the replica took over as primary"

    for record in records:
        assert record.status == "ok", (record.source, record.last_error)
        assert not record.errors, (record.source, record.errors)
    assert sum(r.articles["new"] for r in records) == len(expected)
    assert sum(r.articles.get("failed", 0) for r in records) == 0

    archive.refresh()
    stored = {h["_id"]: h["_source"] for h in archive.scan(["title", "source"])}
    want = {article_id(canonicalize(a.url)): a for a in expected}
    assert set(stored) == set(want), (f"missing {len(set(want) - set(stored))}, "
                                      f"unexpected {len(set(stored) - set(want))}")
    assert all(stored[i]["title"] == a.title for i, a in want.items())
    assert {r.run_id for r in archive.last_runs(n=10)} >= {r.run_id for r in records}, "the runs are recorded"
    print(f"\ncluster: {len(expected)} articles, {at_kill} archived when node {victim} (primary) was killed "
          f"after {killed_after:.0f} s; all {len(stored)} archived at the end; crawl {crawl_s:.0f} s")
    store.drop_all(es, s)
