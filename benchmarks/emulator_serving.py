"""How fast the Stripe emulator serves charge pages with expanded balance transactions.

Walks `--pages` pages of `GET /v1/charges?limit=100&expand[]=data.balance_transaction` (newest
first, `starting_after` cursors, as the pipeline and the SDK page) over an account of
`--charges` charges, with the emulator in its own process. Baseline, in the same run and the
same way: a trivial ASGI app on the same server stack returning the same bytes (one pre-encoded
page), so `ratio` is the emulator's throughput as a share of what the HTTP stack alone allows.
Also reported: the in-process cost of rendering + encoding a page, against encoding it alone.

    .venv/bin/python benchmarks/emulator_serving.py --charges 1000000 --pages 400

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from stripe_pipeline.processes import free_port, wait_until_answers

PATH = "/v1/charges"
PARAMS = {"limit": 100, "expand[]": "data.balance_transaction"}


def _make_store(charges: int) -> Any:
    from stripe_emulator.store import Store, StoreOptions

    return Store.generate(
        StoreOptions(seed=42, accounts=0, unconnected_accounts=0, charges=charges)
    )


def _serve_emulator(port: int, charges: int) -> None:
    import uvicorn

    from stripe_emulator.app import create_app

    app = create_app(_make_store(charges), extensions=())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", http="httptools",
                lifespan="on", access_log=False)  # fmt: skip


def _serve_static(port: int, body: bytes) -> None:
    import uvicorn

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", http="httptools",
                lifespan="off", access_log=False)  # fmt: skip


def _rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process (Linux), to show the account is not materialized."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _walk(base_url: str, pages: int, api_key: str) -> tuple[float, int, int]:
    """Seconds, objects and bytes for `pages` pages walked with starting_after cursors.

    A lean keep-alive client (http.client) that takes the cursor from the raw bytes, so the
    client's own cost stays small next to the server's; the baseline uses the same client."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {api_key}"}
    base_query = urlencode(PARAMS)
    objects_seen = size = 0
    cursor = None
    started = time.perf_counter()
    for _ in range(pages):
        query = base_query + (f"&starting_after={cursor}" if cursor else "")
        conn.request("GET", f"{PATH}?{query}", headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {body[:300]!r}")
        size += len(body)
        objects_seen += body.count(b'"object":"charge"')
        # The last charge's id: the last `{"id":"ch_` in the page (BTs nest under charges).
        at = body.rfind(b'{"id":"ch_')
        cursor = body[at + 7 : body.index(b'"', at + 7)].decode()
        if b'"has_more":true' not in body[-200:]:
            cursor = None
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, objects_seen, size


def _in_process(charges: int, pages: int) -> dict[str, float]:
    from stripe_emulator.app import expand_page
    from stripe_emulator.objects import list_object
    from stripe_emulator.store import ListQuery

    account = _make_store(charges).platform
    cursor = None
    started = time.perf_counter()
    page_body = b""
    for _ in range(pages):
        page = account.list("charge", ListQuery(limit=100, starting_after=cursor))
        data = expand_page(account, page.data, ["data.balance_transaction"])
        page_body = orjson.dumps(list_object(PATH, data, page.has_more))
        cursor = page.data[-1]["id"]
    render = time.perf_counter() - started
    decoded = orjson.loads(page_body)
    started = time.perf_counter()
    for _ in range(pages):
        orjson.dumps(decoded)
    encode = time.perf_counter() - started
    return {
        "in_process_pages_per_s": pages / render,
        "encode_only_pages_per_s": pages / encode,
        "page_bytes": len(page_body),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=400)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")

    in_process = _in_process(args.charges, min(args.pages, 200))

    port = free_port()
    server = ctx.Process(target=_serve_emulator, args=(port, args.charges), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answers(
            base + "/v1/account",
            timeout=60,
            what="the emulator",
            interval=0.05,
            headers={"Authorization": "Bearer sk_test_emulator"},
        )
        rss_before = _rss_mb(server.pid)
        first = httpx.get(
            base + PATH, params=PARAMS, headers={"Authorization": "Bearer sk_test_emulator"}
        )
        page_bytes = first.content
        seconds, objects_seen, size = _walk(base, args.pages, "sk_test_emulator")
        rss_after = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.join()

    port = free_port()
    static = ctx.Process(target=_serve_static, args=(port, page_bytes), daemon=True)
    static.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answers(base + "/", timeout=60, what="the static server", interval=0.05)
        base_seconds, base_objects, _ = _walk(base, args.pages, "unused")
    finally:
        static.terminate()
        static.join()

    pages_per_s = args.pages / seconds
    baseline_pages_per_s = args.pages / base_seconds
    result = {
        "benchmark": "emulator_serving",
        "charges_in_account": args.charges,
        "pages": args.pages,
        "limit": 100,
        "expand": "data.balance_transaction",
        "pages_per_s": round(pages_per_s, 1),
        "objects_per_s": round(objects_seen / seconds),
        "mb_per_s": round(size / seconds / 1e6, 1),
        "baseline": "same bytes from a trivial ASGI endpoint on the same uvicorn/httptools stack",
        "baseline_pages_per_s": round(baseline_pages_per_s, 1),
        "ratio": round(pages_per_s / baseline_pages_per_s, 3),
        "in_process_pages_per_s": round(in_process["in_process_pages_per_s"], 1),
        "in_process_encode_only_pages_per_s": round(in_process["encode_only_pages_per_s"], 1),
        "in_process_ratio": round(
            in_process["in_process_pages_per_s"] / in_process["encode_only_pages_per_s"], 3
        ),
        "page_bytes": in_process["page_bytes"],
        "server_rss_mb_before_walk": rss_before,
        "server_rss_mb_after_walk": rss_after,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
