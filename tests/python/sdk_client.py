"""The official MCP Python SDK driving `mcptrace serve`.

usage: sdk_client.py stdio MCPTRACE_BINARY
       sdk_client.py http URL [TOKEN]

Lists the tools, validates a program, runs it with a progress token and a
subscription to its resource, reads its structured result, its resource and
a prompt, and completes a prompt argument. Then, as a 2026-07-28 client
that declares the tasks extension, runs a program as a task, polls it to
its result, and cancels another. Exits non-zero, with the
reason on stderr, on the first thing that is not as it should be; prints
`ok` on success. Run by tests/tests/python_sdk.rs, which installs the SDK.
"""

import os
import sys

from contextlib import asynccontextmanager
from typing import Any, ClassVar, Literal

import anyio
import httpx2
from mcp.client.extension import ResultClaim
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PromptReference
from mcp_types import Request, RequestParams, Result
from pydantic import ConfigDict

TASKS = "io.modelcontextprotocol/tasks"


def check(condition, what):
    if not condition:
        raise AssertionError(what)


@asynccontextmanager
async def connect(transport, target, token=None):
    """The (read, write) streams to a server over `transport`."""
    if transport == "stdio":
        async with stdio_client(StdioServerParameters(command=target, args=["serve"])) as streams:
            yield streams[0], streams[1]
    else:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with streamable_http_client(target, http_client=http) as streams:
                yield streams[0], streams[1]


async def main(transport, target, token=None):
    progress = []
    updated = []

    async def on_message(message):
        # Reports that arrive after exec_program answered reach the session's
        # message handler rather than the per-request callback.
        root = getattr(message, "root", message)
        method = getattr(root, "method", None)
        if method == "notifications/progress":
            progress.append(root.params)
        elif method == "notifications/resources/updated":
            updated.append(str(root.params.uri))

    async def with_token(value, total, message):
        # A callback makes the SDK send a progress token; the reports
        # themselves are collected by on_message.
        pass

    async with connect(transport, target, token) as (read, write):
        async with ClientSession(read, write, message_handler=on_message) as session:
            await session.initialize()

            tools = {t.name: t for t in (await session.list_tools()).tools}
            for name in ["validate_program", "probe_info", "exec_program", "get_result"]:
                check(name in tools, f"no tool {name}: {sorted(tools)}")
                check(tools[name].output_schema is not None, f"{name} declares no output schema")
                hints = tools[name].annotations
                check(hints is not None and hints.title, f"{name} has no annotated title")
                check(hints.read_only_hint == (name != "exec_program"), f"{name}: {hints}")

            # A refused program is a tool error the model sees, with the
            # design's fields inside.
            refused = await session.call_tool("exec_program", {"program": "BEGIN { printf(\"x\" }"})
            check(refused.is_error, f"a refused program is not isError: {refused}")
            check(refused.structured_content["status"] == "error", f"refused: {refused}")
            listed = (await session.call_tool("list_probes", {"filter": "BEGIN"})).structured_content
            check(listed["probes"] == ["BEGIN"], f"list_probes: {listed}")

            program = 'interval:ms:100 { printf("tick\\n"); @ticks = count(); } interval:s:2 { exit(); }'
            verdict = await session.call_tool("validate_program", {"program": program})
            v = verdict.structured_content
            check(v["valid"] and v["backend"] == "native", f"validate_program: {v}")
            check(v["probes"] == ["interval:ms:100", "interval:s:2"], f"probes: {v}")

            started = await session.call_tool(
                "exec_program", {"program": program, "timeout": 10}, progress_callback=with_token
            )
            s = started.structured_content
            check(s["status"] == "success", f"exec_program: {s}")
            execution = s["execution_id"]
            uri = f"mcptrace://executions/{execution}"
            links = [c for c in started.content if c.type == "resource_link"]
            check([str(link.uri) for link in links] == [uri], f"links: {started.content}")
            # The 2025 way, which this handshake negotiates (the SDK warns
            # that 2026-07-28 replaced it).
            await session.subscribe_resource(uri)

            result = None
            for _ in range(400):
                result = (await session.call_tool("get_result", {"execution_id": execution})).structured_content
                if result["status"] != "running":
                    break
                await anyio.sleep(0.05)
            check(result["status"] == "completed" and result["stop_reason"] == "exit", f"get_result: {result}")
            check(result["output"].count("tick") >= 10, f"output: {result['output']}")
            ticks = result["output"].count("tick")
            check({"type": "map", "data": {"@ticks": ticks}} in result["records"], f"records: {result}")

            for _ in range(100):
                if progress and "completed" in (progress[-1].message or ""):
                    break
                await anyio.sleep(0.05)
            check(progress, "no progress notification arrived")
            check("completed (exit)" in progress[-1].message, f"last progress: {progress[-1]}")
            check(len({p.progress_token for p in progress}) == 1, f"tokens: {progress}")
            values = [p.progress for p in progress]
            check(values == sorted(values) and len(set(values)) == len(values), f"progress values: {values}")

            for _ in range(40):
                if len(updated) >= 2:
                    break
                await anyio.sleep(0.05)
            check(len(updated) >= 2 and set(updated) == {uri}, f"updates: {updated}")

            listed = [str(r.uri) for r in (await session.list_resources()).resources]
            check(uri in listed, f"{uri} not in {listed}")
            contents = (await session.read_resource(uri)).contents
            check(contents[0].text == "\n".join(result["output"]), f"resource text: {contents}")

            prompt = await session.get_prompt("file_opens_by_pid", {"pid": "1"})
            check("pid == 1" in prompt.messages[0].content.text, f"prompt: {prompt}")
            own = str(os.getpid())
            pids = await session.complete(
                PromptReference(type="ref/prompt", name="file_opens_by_pid"), {"name": "pid", "value": own}
            )
            check(own in pids.completion.values, f"completion: {pids}")
    async with connect(transport, target, token) as (read, write):
        await tasks(read, write)
    print("ok")


# The SDK has no tasks of its own; its extension seam (a claim on the
# `task` result type, and requests of any method) is enough to speak them.
class TaskHandle(Result):
    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"]
    task_id: str
    status: str


class TaskState(Result):
    model_config = ConfigDict(extra="allow")
    task_id: str
    status: str
    status_message: str | None = None
    result: dict[str, Any] | None = None


class TaskParams(RequestParams):
    task_id: str


class GetTask(Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param: ClassVar[str | None] = "taskId"


class CancelTask(Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param: ClassVar[str | None] = "taskId"


async def tasks(read, write):
    async def resolve(handle, context):
        raise AssertionError("tasks are polled here, not resolved by the SDK")

    claim = ResultClaim(result_type="task", model=TaskHandle, resolve=resolve)
    async with ClientSession(read, write, extensions={TASKS: {}}, result_claims={TASKS: [claim]}) as session:
        await session.discover()

        async def start(program):
            task = await session.call_tool("exec_program", {"program": program, "timeout": 20}, allow_claimed=True)
            check(isinstance(task, TaskHandle) and task.status == "working", f"no task: {task}")
            return task.task_id

        async def poll(task_id):
            seen = []
            for _ in range(200):
                state = await session.send_request(GetTask(params=TaskParams(task_id=task_id)), TaskState)
                seen.append(state)
                if state.status != "working":
                    return seen
                await anyio.sleep(0.1)
            raise AssertionError(f"task {task_id} still working: {seen[-1]}")

        task_id = await start('interval:ms:100 { printf("tick\\n"); } interval:s:2 { exit(); }')
        seen = await poll(task_id)
        counts = [int(s.status_message.split(" ")[0]) for s in seen[:-1]]
        check(counts and counts[0] < counts[-1], f"the line count did not grow: {counts}")
        done = seen[-1]
        check(done.status == "completed", f"task: {done}")
        final = done.result["structuredContent"]
        check(final["execution_id"] == task_id and final["stop_reason"] == "exit", f"result: {final}")
        check(final["output"].count("tick") >= 10, f"output: {final}")

        task_id = await start('interval:ms:50 { @ticks = count(); } END { printf("END ran\\n"); }')
        await anyio.sleep(0.5)
        await session.send_request(CancelTask(params=TaskParams(task_id=task_id)), Result)
        done = (await poll(task_id))[-1]
        check(done.status == "cancelled" and done.result is None, f"cancelled task: {done}")
        stopped = (await session.call_tool("get_result", {"execution_id": task_id})).structured_content
        check(stopped["stop_reason"] == "stopped", f"stopped: {stopped}")
        check("END ran" in stopped["output"], f"END did not run: {stopped}")
        check(any(line.startswith("@ticks: ") for line in stopped["output"]), f"no map: {stopped}")


if __name__ == "__main__":
    try:
        anyio.run(main, *sys.argv[1:])
    except AssertionError as e:
        print(f"sdk_client: {e}", file=sys.stderr)
        sys.exit(1)
