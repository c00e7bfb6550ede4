"""``jac serve`` under load and faults: a real server on 127.0.0.1, bounded loops only.

Every request is answered (200, 400, 413 or 503), none is lost or left hanging; a request
past its time limit is stopped while small ones are answered; a worker killed or hung
mid-request gives that request an error and the pool recovers. Latencies are printed
(run with ``-s``), never asserted.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from web_support import running_server

pytestmark = pytest.mark.slow

SMALL = {"expr": "sin(x1-x2), cos(x1-x2)", "wrt": "x1,x2"}
LARGE = {"expr": "-mean(T*log(softmax(tanh(X@W1+b1)@W2+b2)))", "wrt": "W1,b1,W2,b2",
         "shapes": {"X": "4x3", "W1": "3x5", "b1": "5", "W2": "5x2", "b2": "2", "T": "4x2"},
         "mode": "backprop", "onehot": "T"}
#: X@X at 300x300 with its size limits raised: minutes of work, ended by the time limit.
MINUTES = {"expr": "X@X", "wrt": "X", "shapes": {"X": "300x300"}, "max_entries": 10**10,
           "max_nodes": 10**10, "max_output": 10**10}


def mixed(i: int) -> bytes:
    """Request ``i`` of the mix: small, large, bad input, malformed, oversized."""
    kind = i % 5
    if kind == 0:
        return json.dumps(LARGE).encode()
    if kind == 1:
        return json.dumps({"expr": "sin(x1-x2)" + "+x1" * 3000}).encode()  # over 8 KiB
    if kind == 2:
        return b'{"expr": "sin(x", '  # malformed JSON
    if kind == 3:
        return json.dumps({"expr": f"sigmoud(x{i})"}).encode()  # the parser refuses it
    return json.dumps({**SMALL, "at": f"x1={i},x2=0.5"}).encode()


def timed(server, body: bytes) -> tuple[int, float, dict, bytes]:
    start = time.perf_counter()
    status, headers, answer = server.request("/api/run", body, timeout=300)
    return status, time.perf_counter() - start, headers, answer


def test_fifty_concurrent_mixed_requests():
    with running_server("--workers", "2", "--queue", "8", "--max-body", "8192") as server:
        barrier = threading.Barrier(50, timeout=60)

        def one(i: int):
            barrier.wait()
            return timed(server, mixed(i))

        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(one, range(50)))
        statuses = Counter(status for status, *_ in results)
        latencies = sorted(seconds for _, seconds, *_ in results)
        p50 = statistics.median(latencies)
        p95 = latencies[int(0.95 * len(latencies)) - 1]
        print(f"\n50 concurrent mixed requests, 2 workers, queue 8: statuses "
              f"{dict(sorted(statuses.items()))}; p50 {p50:.2f} s, p95 {p95:.2f} s, "
              f"max {latencies[-1]:.2f} s")
        assert len(results) == 50 and set(statuses) <= {200, 400, 413, 503}
        assert statuses[413] == 10 and statuses[200] >= 2 and statuses[400] >= 10
        for i, (status, _, headers, answer) in enumerate(results):
            document = json.loads(answer)  # every answer is JSON
            if status == 200:
                assert document["format"] == "jacobian_calc"
            elif status == 503:
                assert headers["retry-after"] == "2" and "busy" in document["error"]
            else:
                assert document["error"]
            if i % 5 in (1, 2):  # refused before any worker is involved
                assert status == {1: 413, 2: 400}[i % 5]
        # afterwards the server answers as before
        assert server.request("/api/run", SMALL)[0] == 200
        assert not server.status()["waiting"]


def test_long_request_is_stopped_while_small_ones_are_answered():
    with running_server("--workers", "2", "--timeout", "6") as server:
        answers = {}
        slow = threading.Thread(target=lambda: answers.update(
            long=server.request("/api/run", MINUTES, timeout=120)))
        slow.start()
        small = []
        for _ in range(200):  # bounded: the long request ends within its 6 s limit
            if not slow.is_alive():
                break
            small.append(server.request("/api/run", SMALL, timeout=60)[0])
            time.sleep(0.05)
        slow.join(120)
        status, _, body = answers["long"]
        assert status == 400
        assert json.loads(body)["error"].startswith("the request took longer than 6 s")
        assert len(small) >= 3 and set(small) == {200}
        assert server.request("/api/run", SMALL)[0] == 200


def busy_worker(server) -> int:
    for _ in range(600):  # bounded wait for the request to reach a worker
        busy = [w["pid"] for w in server.status()["workers"] if w["busy"]]
        if busy:
            return busy[0]
        time.sleep(0.05)
    raise AssertionError("no worker took the request")


def recovered(server, workers: int) -> None:
    for _ in range(600):
        status = server.status()
        if len(status["workers"]) == workers and not any(w["busy"] for w in status["workers"]):
            return
        time.sleep(0.1)
    raise AssertionError(f"the pool did not recover: {server.status()}")


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_worker_fault_mid_request(fault):
    with running_server("--workers", "2", "--timeout", "8") as server:
        answers = {}
        request = threading.Thread(target=lambda: answers.update(
            long=server.request("/api/run", MINUTES, timeout=120)))
        request.start()
        pid = busy_worker(server)
        # SIGSTOP: the worker neither answers nor ends; the server must stop it itself
        os.kill(pid, signal.SIGKILL if fault == "killed" else signal.SIGSTOP)
        request.join(120)
        status, _, body = answers["long"]
        message = json.loads(body)["error"]
        if fault == "killed":
            assert status == 500 and "ended (signal 9)" in message
        else:
            assert status == 400 and message.startswith("the request took longer than 8 s")
        recovered(server, 2)
        assert pid not in [w["pid"] for w in server.status()["workers"]]
        assert [server.request("/api/run", SMALL)[0] for _ in range(4)] == [200] * 4


def test_memory_cap_ends_a_request_with_the_out_of_memory_message():
    with running_server("--workers", "1", "--timeout", "60", "--memory", "200") as server:
        status, _, body = server.request("/api/run", MINUTES, timeout=120)
        assert status == 400 and "out of memory" in json.loads(body)["error"]
        recovered(server, 1)
        assert server.request("/api/run", SMALL)[0] == 200
