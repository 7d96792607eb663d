"""A collect of several sources keeps each finished source's state until the stage publishes.

When a later source fails (or the process is killed), the rerun takes the sources that had
finished from the work directory (the crawl log, the downloaded Bright Data snapshot)
instead of fetching them again; requests are counted at the local stand-ins.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.collect.conftest import FakeBrightData, serve
from tests.collect.test_brightdata import FAST as BD_FAST, PRODUCTS
from tests.collect.test_crawl import crawl_source
from webtune.collect.crawler import LOG
from webtune.errors import StageError

ROOT = Path(__file__).resolve().parents[2]


def bd_source(fake: FakeBrightData, **extra):
    return {"kind": "brightdata", "dataset_id": "gd_test", "base_url": fake.base_url,
            "inputs": [{"url": "https://www.amazon.com/dp/B00"}], "fields": {"title": "title"}, **BD_FAST, **extra}


@pytest.fixture
def second_brightdata():
    """Another fake Bright Data API, for a collect with two Bright Data sources."""
    fake = FakeBrightData(snapshot_id="s_second", records=[{"title": "Stapler"}])
    server, fake.base_url = serve(fake.handler())
    yield fake
    server.shutdown()
    server.server_close()


def test_a_failed_second_source_does_not_refetch_the_first(site, brightdata, collect, tmp_path):
    crawl = crawl_source(site, deny=["/slow", "/big"])
    brightdata.fail = {"trigger": [400]}  # the second source fails at once
    with pytest.raises(StageError, match="HTTP 400"):
        collect([crawl, bd_source(brightdata)])
    hits_after_first_try = sum(site.hits.values())
    assert hits_after_first_try > 0 and not (tmp_path / "run" / "collect").exists()
    assert (tmp_path / "run" / ".work" / "collect" / "source-0-crawl" / LOG).is_file()

    brightdata.records = PRODUCTS
    out = collect([crawl, bd_source(brightdata)])
    assert sum(site.hits.values()) == hits_after_first_try  # not one request to the site again
    assert [d["source"]["kind"] for d in out.docs].count("crawl") == 6
    assert [d["source"]["kind"] for d in out.docs].count("brightdata") == 3
    crawl_stats = out.manifest.stats["sources"][0]
    assert crawl_stats["fetched"] > 0 and crawl_stats["resumed"] == crawl_stats["in"]
    # Published: the resume state is gone, but for the Bright Data request's (a forced rerun reuses it).
    assert kept_work(tmp_path / "run") == ["source-1-brightdata/brightdata.json"]


def test_a_collect_killed_after_its_first_source_resumes_without_fetching_it(
        brightdata, second_brightdata, tmp_path):
    brightdata.records = PRODUCTS
    sources = [bd_source(brightdata), bd_source(second_brightdata)]
    run_dir = tmp_path / "run"
    killed = threading.Event()
    proc = _collect_in_subprocess(sources, run_dir, tmp_path)

    # Kill the process the moment the second source makes its first request: the first is done.
    def kill_on_first_request() -> None:
        while not second_brightdata.calls and proc.poll() is None:
            threading.Event().wait(0.01)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed.set()

    watcher = threading.Thread(target=kill_on_first_request, daemon=True)
    watcher.start()
    proc.wait(timeout=60)
    watcher.join(timeout=5)
    assert killed.is_set() and proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    first = dict(brightdata.calls)
    assert first == {"trigger": 1, "progress": 2, "snapshot": 2}  # running, ready; 202, 200
    assert not (run_dir / "collect").exists()

    rerun = _collect_in_subprocess(sources, run_dir, tmp_path)
    _, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert dict(brightdata.calls) == first  # the first source was not fetched again
    documents = [json.loads(line) for line in (run_dir / "collect" / "documents.jsonl").read_text().splitlines()]
    assert [d["fields"]["title"] for d in documents] == ["Pen 0", "Pen 1", "Pen 2", "Stapler"]
    assert kept_work(run_dir) == ["source-0-brightdata/brightdata.json", "source-1-brightdata/brightdata.json"]


def kept_work(run_dir: Path) -> list[str]:
    """The files left in the collect stage's work dir."""
    work = run_dir / ".work" / "collect"
    return sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file())


def _collect_in_subprocess(sources: list[dict], run_dir: Path, base_dir: Path) -> subprocess.Popen:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from webtune.collect.config import CollectConfig\n"
        "from webtune.collect.stage import run_collect\n"
        "from webtune.stage import run_stage\n"
        "sources, run_dir, base = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])\n"
        "config = CollectConfig.model_validate({'sources': sources}, context={'base_dir': base})\n"
        "run_stage('collect', run_collect, run_dir=run_dir, config=config)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "BRIGHTDATA_API_TOKEN": "test-token"}
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(sources), str(run_dir), str(base_dir)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
