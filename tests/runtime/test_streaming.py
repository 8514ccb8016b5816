"""Response streaming from lamina's runtime: chunked posts, the HTTP prelude, mid-stream errors."""

from __future__ import annotations

import base64
import json
import time

from tests.runtime.runtime_process import start
from tests.runtime.stub_api import StubRuntimeAPI


def test_generator_handler_streams_chunks_with_streaming_response_mode(api, runtimes) -> None:
    api.enqueue()
    start(runtimes, api, "streams.chunks")
    [post] = api.wait_posts(1)
    assert post.path.endswith("/response")
    assert post.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert post.headers["transfer-encoding"] == "chunked"
    assert post.headers["content-type"] == "application/octet-stream"
    assert post.body == b"first,second,third"
    assert api.live_chunks == [6, 7, 5]
    assert post.trailers == {}


def test_first_chunk_reaches_the_api_before_the_handler_finishes(api, runtimes, tmp_path) -> None:
    marker = tmp_path / "seen-first-chunk"
    api.enqueue(json.dumps({"marker": str(marker)}).encode())
    start(runtimes, api, "streams.wait_for_marker")
    api.wait_chunks(1)  # the handler is now blocked until the marker exists
    assert api.posts == []
    marker.touch()
    [post] = api.wait_posts(1)
    assert post.body == b"before-marker;after-marker"
    assert post.headers["content-type"] == "text/plain"


def test_streaming_response_sends_the_http_integration_prelude(api, runtimes) -> None:
    api.enqueue()
    start(runtimes, api, "streams.http")
    [post] = api.wait_posts(1)
    assert post.headers["content-type"] == "application/vnd.awslambda.http-integration-response"
    prelude, body = post.body.split(b"\x00" * 8, 1)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"content-type": "text/html"},
                                   "cookies": ["a=b"]}
    assert body == b"<h1>hi</h1>"


def test_three_parameter_handler_writes_to_the_stream_it_is_given(api, runtimes) -> None:
    api.enqueue()
    start(runtimes, api, "streams.writer")
    [post] = api.wait_posts(1)
    prelude, body = post.body.split(b"\x00" * 8, 1)
    assert json.loads(prelude) == {"statusCode": 200, "headers": {"x-test": "1"}}
    assert body == b"line 0\nline 1\nline 2\n"


def test_async_generator_handler_streams(api, runtimes) -> None:
    api.enqueue()
    api.enqueue()
    start(runtimes, api, "streams.async_chunks")
    posts = api.wait_posts(2)
    assert [p.body for p in posts] == [b"a0;a1;a2;", b"a0;a1;a2;"]


def test_exception_after_the_first_chunk_is_reported_in_the_error_trailers(api, runtimes) -> None:
    api.enqueue()
    start(runtimes, api, "streams.fail_midway")
    [post] = api.wait_posts(1)
    assert post.body == b"partial"
    assert post.trailers["lambda-runtime-function-error-type"] == "ValueError"
    error = json.loads(base64.b64decode(post.trailers["lambda-runtime-function-error-body"]))
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "broke mid-stream")
    assert error["stackTrace"] and "streams.py" in error["stackTrace"][-1]


def test_exception_before_the_first_chunk_is_an_ordinary_error(api, runtimes) -> None:
    api.enqueue()
    start(runtimes, api, "streams.fail_first")
    [post] = api.wait_posts(1)
    assert post.path.endswith("/error")
    assert json.loads(post.body)["errorMessage"] == "broke before streaming"


def test_non_bytes_chunk_is_a_marshal_error_and_the_next_invocation_still_works(api, runtimes) -> None:
    api.enqueue()
    api.enqueue()
    start(runtimes, api, "streams.bad_chunk")
    posts = api.wait_posts(2)
    assert posts[0].trailers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"
    assert posts[1].body == b"ok"


def test_non_iterable_result_is_sent_as_one_json_chunk(api, runtimes) -> None:
    api.enqueue()
    start(runtimes, api, "streams.plain_value")
    [post] = api.wait_posts(1)
    assert post.body == b'{"not": "iterable chunks"}'


def test_streaming_100_mib_keeps_the_runtime_memory_flat(runtimes) -> None:
    with StubRuntimeAPI(count_only=True) as api:
        api.enqueue()
        runtime = start(runtimes, api, "streams.hundred_mib")
        [post] = api.wait_posts(1, timeout=60)
        with open(f"/proc/{runtime.proc.pid}/status") as status:
            peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        time.sleep(0)
    assert post.size == 100 * 1024 * 1024
    assert peak_kib < 40 * 1024  # a few 1 MiB chunks in flight at most, never the whole 100 MiB


def test_streamed_response_comes_back_whole_under_aws_emulator(emulator_factory) -> None:
    # AWS's emulator accepts streamed responses but buffers them: the caller gets the whole body.
    import sys

    from tests.runtime.test_differential import FUNCTIONS

    emulator = emulator_factory([sys.executable, "-m", "lamina.runtime", "streams.chunks"], FUNCTIONS,
                                {"PYTHONPATH": str(FUNCTIONS.parents[2] / "src")})
    result = emulator.invoke(b"{}")
    assert (result.status, result.body) == (200, b"first,second,third")
