"""Fleets (issue 20): many inputs (directories, globs, file:// and s3:// URLs) summed on local
processes or a Dask cluster equal the serial --merge exactly; unreadable inputs are skipped and
counted unless --strict; --group-by totals per host."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_heapviz

distributed = pytest.importorskip("distributed")

HOSTS = {"h1": ["threads.0001.heap"], "h2": ["threads.0002.heap", "cxx.0001.heap"],
         "h3": ["threads.0003.heap", "threads.0004.heap", "cxx.0002.heap"]}
BY_HOST = "hosts/(?P<host>[^/]+)/"


@pytest.fixture(scope="module")
def fleet(examples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hosts/HOST/*.heap: copies of the examples' dumps, as a nightly job would collect them."""
    root = tmp_path_factory.mktemp("fleet")
    for host, names in HOSTS.items():
        (root / "hosts" / host).mkdir(parents=True)
        for name in names:
            shutil.copy(examples / name, root / "hosts" / host / name)
    return root


def files(root: Path) -> list[str]:
    return [str(root / "hosts" / h / n) for h, names in HOSTS.items() for n in names]


def top_json(*args: str, env: dict[str, str] | None = None) -> dict:
    r = run_heapviz("top", *args, "--format", "json", env=env, timeout=120)
    assert r.rc == 0, r.err
    doc = json.loads(r.out)
    doc.pop("profile", None)  # names the inputs as given: paths or URLs
    return doc


def report_json(tmp: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    out = tmp / f"summary-{len(list(tmp.iterdir()))}.json"
    r = run_heapviz("report", "--merge", *args, "-o", str(out), env=env, timeout=120)
    assert r.rc == 0, r.err
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def serial(fleet: Path) -> dict:
    return top_json(*files(fleet))


@pytest.fixture(scope="module")
def cluster():
    """A Dask cluster in the test process: a scheduler and two workers (threads)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  host="127.0.0.1", protocol="tcp://") as c:
        yield c


def test_directories_globs_and_jobs_equal_the_serial_merge(fleet, serial, tmp_path):
    assert top_json(str(fleet / "hosts")) == serial
    assert top_json(str(fleet / "hosts" / "*" / "*.heap"), "--jobs", "2") == serial
    assert top_json(f"file://{fleet}/hosts", "--jobs", "1") == serial
    merged = report_json(tmp_path, str(fleet / "hosts"), "--jobs", "2")
    plain = report_json(tmp_path, *files(fleet))
    assert merged["mode"] == "merged" and merged["skipped"] == {"count": 0, "inputs": []}
    assert (merged["totals"], merged["top"]) == (plain["totals"], plain["top"])


def test_an_unreadable_input_is_skipped_and_counted_unless_strict(fleet, serial, tmp_path):
    hosts = tmp_path / "hosts"
    shutil.copytree(fleet / "hosts", hosts)
    (hosts / "h2" / "broken.heap").write_text("heap profile: 1: 2 [ 3: 4] @ heapprofile\nnot a stack\n")
    r = run_heapviz("top", str(hosts), "--jobs", "2", "--format", "json")
    assert r.rc == 0, r.err
    assert f"heapviz: warning: skipped: {hosts / 'h2' / 'broken.heap'}" in r.err
    doc = json.loads(r.out)
    assert doc.pop("warnings") and {k: v for k, v in serial.items() if k not in ("warnings",)} == \
        {k: v for k, v in doc.items() if k != "profile"}
    summary = report_json(tmp_path, str(hosts))
    assert summary["skipped"]["count"] == 1
    assert summary["skipped"]["inputs"][0]["file"] == str(hosts / "h2" / "broken.heap")
    r = run_heapviz("top", str(hosts), "--strict")
    assert r.rc == 1 and r.err.startswith(f"heapviz: error: {hosts / 'h2' / 'broken.heap'}:"), r.err


def test_group_by_totals_and_top_functions_per_host(fleet, tmp_path):
    summary = report_json(tmp_path, str(fleet / "hosts"), "--group-by", BY_HOST, "--jobs", "2")
    groups = {g["label"]: g for g in summary["groups"]}
    assert set(groups) == set(HOSTS)
    assert {h: g["profiles"] for h, g in groups.items()} == {h: len(n) for h, n in HOSTS.items()}
    for name, total in summary["totals"].items():
        assert sum(g["totals"][name] for g in groups.values()) == total
    values = [g["totals"][summary["sample_type"]] for g in summary["groups"]]
    assert values == sorted(values, reverse=True)
    assert all(g["top"] and g["top"][0]["flat"] > 0 for g in groups.values())
    html = tmp_path / "r.html"
    hostile = tmp_path / "hosts" / "<b>x&y"
    hostile.mkdir(parents=True)
    shutil.copy(fleet / "hosts" / "h1" / "threads.0001.heap", hostile)
    r = run_heapviz("report", "--merge", str(tmp_path / "hosts"), "--group-by", BY_HOST, "-o", str(html),
                    "--static")
    assert r.rc == 0, r.err
    page = html.read_text()
    assert 'id="groups-table"' in page and "&lt;b&gt;x&amp;y" in page and "<b>x&y" not in page


def test_group_by_in_the_pdf_and_markdown(fleet, tmp_path):
    hosts = tmp_path / "hosts"
    shutil.copytree(fleet / "hosts", hosts)
    hostile = hosts / "<b>x&y|z"
    hostile.mkdir()
    shutil.copy(fleet / "hosts" / "h1" / "threads.0001.heap", hostile)
    pdf, md, summary = tmp_path / "r.pdf", tmp_path / "r.md", tmp_path / "r.json"
    r = run_heapviz("report", "--merge", str(hosts), "--group-by", BY_HOST, "-o", str(pdf), "-o", str(md),
                    "-o", str(summary), timeout=120)
    assert r.rc == 0, r.err
    groups = json.loads(summary.read_text())["groups"]
    from pypdf import PdfReader
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert f"Groups ({len(groups)}, by inuse_space)" in text
    for g in groups:  # every group's row and its top functions, in the order of the JSON summary
        assert f"{g['label']}: top functions (flat inuse_space)" in text
        assert g["top"][0]["name"] in text
    labels = [g["label"] for g in groups]
    assert sorted(labels, key=lambda label: text.index(f"{label}: top functions")) == labels
    lines = md.read_text().splitlines()
    head = lines.index("### Groups by inuse\\_space")
    rows = lines[head + 4:head + 4 + len(groups)]
    assert lines[head + 2].startswith("| Group | Profiles | inuse\\_space | Share |")
    assert [row.split(" | ")[0] for row in rows] == ["| " + g["label"].replace("<", "\\<").replace(">", "\\>")
                                                     .replace("&", "\\&").replace("|", "\\|") for g in groups]
    assert "<b>" not in md.read_text()
    for g, row in zip(groups, rows, strict=True):
        assert row.split(" | ")[1] == str(g["profiles"]) and g["top"][0]["name"].replace("_", "\\_") in row


def test_a_dask_cluster_gives_the_serial_merge(fleet, serial, cluster, tmp_path):
    address = cluster.scheduler_address
    assert top_json(str(fleet / "hosts"), "--scheduler", address) == serial
    env = {"DASK_SCHEDULER_ADDRESS": address}
    merged = report_json(tmp_path, str(fleet / "hosts"), "--group-by", BY_HOST, env=env)
    local = report_json(tmp_path, str(fleet / "hosts"), "--group-by", BY_HOST, "--jobs", "1")
    for key in ("totals", "top", "groups", "skipped"):
        assert merged[key] == local[key], key


def test_an_unreachable_scheduler_is_a_clear_error(fleet):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    r = run_heapviz("top", str(fleet / "hosts"), "--scheduler", f"tcp://127.0.0.1:{port}", "--timeout", "3",
                    timeout=60)
    assert r.rc == 1 and r.err.startswith("heapviz: error: cannot reach the Dask scheduler"), r.err
    assert "Traceback" not in r.err


def test_a_scheduler_that_accepts_and_never_answers_is_a_clear_error(fleet):
    with socket.socket() as s:  # takes the connection, then says nothing: Dask's handshake would wait forever
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        started = time.monotonic()
        r = run_heapviz("top", str(fleet / "hosts"), "--scheduler", f"tcp://127.0.0.1:{s.getsockname()[1]}",
                        "--timeout", "2", timeout=60)
    assert r.rc == 1 and "heapviz: error: cannot reach the Dask scheduler" in r.err, r.err
    assert "no answer within 2 s" in r.err and "Traceback" not in r.err
    assert time.monotonic() - started < 30


def test_without_the_fleet_extra_the_error_names_it(fleet):
    code = ("import sys; sys.modules['distributed'] = None; sys.modules['fsspec'] = None\n"
            "from heapviz.cli import main; sys.exit(main(sys.argv[1:]))")
    import subprocess
    for args in (["top", str(fleet / "hosts"), "--scheduler", "tcp://127.0.0.1:1"], ["top", "s3://bucket/x.heap"]):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                              check=False)
        assert proc.returncode == 2 and "heapviz: error:" in proc.stderr and "heapviz[fleet]" in proc.stderr, \
            proc.stderr


@pytest.fixture(scope="module")
def s3(fleet: Path):
    """An S3-compatible server on the loopback (moto) holding the fleet under s3://dumps/."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("s3fs")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket="dumps")
    for path in files(fleet):
        client.upload_file(path, "dumps", str(Path(path).relative_to(fleet)))
    yield env
    server.stop()


def test_s3_inputs_locally_and_on_the_cluster(fleet, serial, s3, cluster, monkeypatch, tmp_path):
    assert top_json("s3://dumps/hosts/", env=s3) == serial
    assert top_json("s3://dumps/hosts/*/*.heap", "--jobs", "2", env=s3) == serial
    for k, v in s3.items():  # the cluster's workers are threads of this process
        monkeypatch.setenv(k, v)
    merged = report_json(tmp_path, "s3://dumps/hosts/", "--scheduler", cluster.scheduler_address,
                         "--group-by", BY_HOST, env=s3)
    local = report_json(tmp_path, str(fleet / "hosts"), "--group-by", BY_HOST)
    for key in ("totals", "top", "groups"):
        assert merged[key] == local[key], key
    r = run_heapviz("top", "s3://dumps/hosts/h1/missing.heap", env=s3)
    assert r.rc == 1 and "s3://dumps/hosts/h1/missing.heap" in r.err and "Traceback" not in r.err


def test_a_cluster_that_never_finishes_times_out(fleet):
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None, host="127.0.0.1",
                                  protocol="tcp://") as idle:  # a scheduler without workers
        r = run_heapviz("top", str(fleet / "hosts"), "--scheduler", idle.scheduler_address, "--timeout", "2",
                        timeout=60)
    assert r.rc == 1 and "did not finish within 2 s (--timeout)" in r.err, r.err
    assert "Traceback" not in r.err


def test_a_worker_killed_mid_run_is_replaced_and_the_result_is_the_serial_merge(examples, tmp_path):
    hosts = tmp_path / "hosts"  # 480 small dumps: 8 partitions of 60, long enough to kill a worker in
    for h in range(8):
        (hosts / f"h{h}").mkdir(parents=True)
        for i in range(60):
            shutil.copy(examples / f"threads.000{i % 4 + 1}.heap", hosts / f"h{h}" / f"d{i:03d}.heap")
    # the symbol cache shared by the client and the workers, as the README advises: without it each
    # dump is symbolized on its own (a fifth of a second each)
    cache = {"HEAPVIZ_NO_CACHE": "", "HEAPVIZ_CACHE_DIR": str(tmp_path / "cache")}
    serial = top_json(str(hosts), "--jobs", "1", env=cache)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1", protocol="tcp://") as c, distributed.Client(c) as watcher:
        env = dict(os.environ, **cache)
        proc = subprocess.Popen([sys.executable, "-m", "heapviz", "top", str(hosts), "--scheduler",
                                 c.scheduler_address, "--timeout", "120", "--format", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        busy: list[str] = []
        deadline = time.monotonic() + 60
        while not busy and proc.poll() is None and time.monotonic() < deadline:
            busy = [w for w, keys in watcher.processing().items() if any("load_partition" in str(k) for k in keys)]
            time.sleep(0.01)
        assert busy, "the run ended before a worker could be killed"
        pid = watcher.run(os.getpid, workers=busy[:1])[busy[0]]
        os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker; the scheduler reruns the lost tasks
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert busy[0] not in watcher.scheduler_info()["workers"]
    doc = json.loads(out)
    doc.pop("profile", None)
    assert doc == serial


def test_a_partial_grows_with_distinct_stacks_not_with_inputs(examples):
    """What a partition sends on (and a worker holds) is the same for 2 or 8 dumps of the same
    stacks: one copy of each mapping and function used, one report per binary and outcome."""
    from heapviz.fleet import load_partition, merge
    from heapviz.pipeline import LoadOptions

    dumps = [str(examples / f"threads.000{i % 4 + 1}.heap") for i in range(8)]
    options = LoadOptions()
    few = load_partition(dumps[:4], options, "", False)
    many = merge(load_partition(dumps[:4], options, "", False), load_partition(dumps[4:], options, "", False))
    assert many.profiles == 8 and few.profiles == 4
    assert len(many.profile.samples) == len(few.profile.samples)
    for what in ("mappings", "functions", "locations"):
        assert len(getattr(many.profile, what)) == len(getattr(few.profile, what)), what
    assert [(r.file, r.status) for r in many.reports] == [(r.file, r.status) for r in few.reports]
    assert [r.addresses for r in many.reports] == [2 * r.addresses for r in few.reports]
