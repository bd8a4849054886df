"""The local web server of ``synkan live``: the page, its assets, and a WebSocket for frames and results.

aiohttp serves everything (no CDN, nothing from the network) on 127.0.0.1
only. Every request for the page, the video and the WebSocket must carry the
session's random token (``?token=``), printed in the URL at start-up, so
another web page or another local user cannot connect; a WebSocket from a
browser must also come from this server's own origin.

Frames go through two stages, each in its own thread: landmarking (MediaPipe,
which releases the GIL) and measuring, so two consecutive frames are worked
on at once, in order. A frame that arrives while the first stage is busy
waits in a one-frame slot; a newer frame replaces it and the older one is
reported ``dropped``: when the measurement falls behind the camera, frames
are dropped, never queued.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiohttp import WSMsgType, web

from ..errors import SynkanError
from ..measure.landmarker import Landmarker
from .engine import Engine, EngineConfig

HOST = "127.0.0.1"
STATIC = Path(__file__).parent / "static"
FRAME_HEADER = struct.Struct("<dI")  # capture time (ms, the page's clock), frame id; then the JPEG
MAX_FRAME_BYTES = 4 << 20
_ASSETS = {"live.js": "application/javascript", "live.css": "text/css"}


@dataclass(frozen=True)
class LiveConfig:
    """The server's settings."""

    model: Path
    engine: EngineConfig
    port: int = 0
    video: Path | None = None
    token: str = ""


def new_token() -> str:
    """A random per-session token (128 bits)."""
    return secrets.token_urlsafe(16)


def _authorised(request: web.Request) -> bool:
    token = request.app["config"].token
    return hmac.compare_digest(request.query.get("token", "").encode(), token.encode())


def _refuse() -> web.Response:
    return web.Response(
        status=403, text="synkan live: open the address printed by `synkan live` (it holds the token)\n"
    )


async def page(request: web.Request) -> web.Response:
    """The page, with the session's settings written into it."""
    if not _authorised(request):
        return _refuse()
    config: LiveConfig = request.app["config"]
    settings = {
        "token": config.token,
        "video": config.video is not None,
        "affected": config.engine.affected,
        "exercise": config.engine.exercise,
        "reps": config.engine.reps,
    }
    html = (STATIC / "index.html").read_text().replace("{{SETTINGS}}", json.dumps(settings))
    return web.Response(
        text=html,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def asset(request: web.Request) -> web.Response:
    """A static asset of the page (no data in them: no token needed)."""
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise web.HTTPNotFound()
    return web.Response(body=(STATIC / name).read_bytes(), content_type=_ASSETS[name])


async def video(request: web.Request) -> web.StreamResponse:
    """The ``--video`` file, played by the page in place of the camera."""
    config: LiveConfig = request.app["config"]
    if not _authorised(request) or config.video is None:
        return _refuse() if config.video is not None else web.Response(status=404)
    return web.FileResponse(config.video)


def _own_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"http://{request.host}" and request.host.startswith(f"{HOST}:")


async def websocket(request: web.Request) -> web.StreamResponse:
    """Frames in (binary: header + JPEG), commands in (JSON), results out (JSON)."""
    app = request.app
    if not _authorised(request) or not _own_origin(request):
        return _refuse()
    if app["busy"]:
        return web.Response(status=409, text="synkan live: another page is already connected\n")
    app["busy"] = True
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, heartbeat=30)
    await ws.prepare(request)
    pools = tuple(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"synkan-live-{k}") for k in range(2))
    try:
        await _serve(ws, app, pools)
    finally:
        for pool in pools:
            pool.shutdown(wait=False)
        app["busy"] = False
    return ws


async def _serve(
    ws: web.WebSocketResponse, app: web.Application, pools: tuple[ThreadPoolExecutor, ...]
) -> None:
    """One connection: a reader fills the one-frame slot; two stages (landmark, then measure), each in
    its own thread, work on consecutive frames at once, in order."""
    loop = asyncio.get_running_loop()
    config: LiveConfig = app["config"]
    engine = await loop.run_in_executor(pools[0], Engine, app["landmarker"], config.engine)
    slot: dict = {}
    ready = asyncio.Event()
    handoff: asyncio.Queue = asyncio.Queue(maxsize=1)
    stages = [
        asyncio.create_task(_landmark_stage(ws, engine, pools[0], slot, ready, handoff)),
        asyncio.create_task(_measure_stage(ws, engine, pools[1], handoff)),
    ]
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY and len(msg.data) > FRAME_HEADER.size:
                capture_ms, frame_id = FRAME_HEADER.unpack_from(msg.data)
                if "frame" in slot:
                    await ws.send_json({"type": "dropped", "id": slot["frame"][1]})
                slot["frame"] = (msg.data[FRAME_HEADER.size :], frame_id, capture_ms)
                ready.set()
            elif msg.type == WSMsgType.TEXT and isinstance(command := _command_of(msg.data), dict):
                slot.setdefault("commands", []).append(command)
                ready.set()
    finally:
        for stage in stages:
            stage.cancel()


def _command_of(text: str) -> dict | None:
    """A command sent by the page (a JSON object), or None for anything else (ignored)."""
    try:
        command = json.loads(text)
    except ValueError:
        return None
    return command if isinstance(command, dict) else None


async def _landmark_stage(
    ws: web.WebSocketResponse,
    engine: Engine,
    pool: ThreadPoolExecutor,
    slot: dict,
    ready: asyncio.Event,
    handoff: asyncio.Queue,
) -> None:
    """Landmark the newest frame; commands pass through in order (a start also restarts the tracking)."""
    loop = asyncio.get_running_loop()
    while not ws.closed:
        await ready.wait()
        ready.clear()
        for command in slot.pop("commands", []):
            if command.get("type") == "start":
                await loop.run_in_executor(pool, engine.restart_tracking)
            await handoff.put(("command", command))
        if "frame" in slot:
            jpeg, frame_id, capture_ms = slot.pop("frame")
            began = time.perf_counter()
            frame = await loop.run_in_executor(pool, engine.landmark, jpeg, capture_ms)
            await handoff.put(("frame", (frame, jpeg, frame_id, capture_ms, began)))


async def _measure_stage(
    ws: web.WebSocketResponse, engine: Engine, pool: ThreadPoolExecutor, handoff: asyncio.Queue
) -> None:
    """Measure landmarked frames and send each result; run the commands."""
    loop = asyncio.get_running_loop()
    while not ws.closed:
        kind, item = await handoff.get()
        if kind == "command":
            await _command(ws, engine, pool, item)
            continue
        frame, jpeg, frame_id, capture_ms, began = item
        message = await loop.run_in_executor(pool, engine.process, frame, jpeg)
        await ws.send_json(
            {
                **message,
                "id": frame_id,
                "capture_ms": capture_ms,
                "server_ms": round(1000 * (time.perf_counter() - began), 1),
            }
        )
        if message.get("done"):
            await _command(ws, engine, pool, {"type": "stop"})


async def _command(
    ws: web.WebSocketResponse, engine: Engine, pool: ThreadPoolExecutor, command: dict
) -> None:
    """``start`` (with ``record``) or ``stop``; a stopped recording is written and analysed aside."""
    loop = asyncio.get_running_loop()
    try:
        if command.get("type") == "start":
            await ws.send_json(await loop.run_in_executor(pool, engine.start, bool(command.get("record"))))
        elif command.get("type") == "stop":
            recorder = await loop.run_in_executor(pool, engine.stop)
            await ws.send_json({"type": "stopped", "reps": len(engine.reps)})
            if recorder is not None:
                await ws.send_json({"type": "saving", "folder": str(recorder.folder)})
                args = (
                    engine.phases,
                    list(engine.reps),
                    engine.settings(),
                    engine.config.exercise,
                    engine.config.model,
                )
                folder = await loop.run_in_executor(None, recorder.finish, *args)
                await ws.send_json({"type": "saved", "folder": str(recorder.folder), "analysis": str(folder)})
    except SynkanError as exc:
        await ws.send_json({"type": "error", "message": str(exc)})
    except Exception as exc:  # a bug: the page must still hear that nothing was saved
        await ws.send_json({"type": "error", "message": f"internal error: {type(exc).__name__}: {exc}"})
        raise


def build_app(config: LiveConfig, landmarker: Landmarker) -> web.Application:
    """The aiohttp application of one ``synkan live`` run."""
    app = web.Application()
    app["config"], app["landmarker"], app["busy"] = config, landmarker, False
    app.add_routes(
        [
            web.get("/", page),
            web.get("/static/{name}", asset),
            web.get("/video", video),
            web.get("/ws", websocket),
        ]
    )
    return app


async def start(config: LiveConfig, landmarker: Landmarker) -> tuple[web.AppRunner, int]:
    """Bind 127.0.0.1 and start serving; returns the runner and the port bound.

    Raises
    ------
    SynkanError
        The port is in use or cannot be bound.
    """
    runner = web.AppRunner(build_app(config, landmarker), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, config.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SynkanError(f"cannot listen on {HOST}:{config.port}: {exc.strerror or exc}") from None
    return runner, runner.addresses[0][1]
