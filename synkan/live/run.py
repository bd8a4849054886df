"""The ``synkan live`` command: check the inputs, start the server, print its address, serve until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path

from ..errors import InputError, NoFaceError, SynkanError
from ..measure.landmarker import Landmarker
from .engine import EngineConfig
from .session import exercise_steps

FACE_CHECK_FRAMES = 90  # a --video must show a face within its first frames (3 s at 30 fps)


def check_video(path: Path, landmarker: Landmarker) -> None:
    """A ``--video`` must be a readable video with a face near its start; a one-line error otherwise."""
    from ..measure.video import iter_frames, probe
    from .measure import landmark, new_follower

    probe(path)
    follower = new_follower(landmarker)
    with contextlib.closing(iter_frames(path)) as frames:
        if not any(
            landmark(landmarker, follower, f.rgb, f.t_s).valid
            for f in itertools.islice(frames, FACE_CHECK_FRAMES)
        ):
            raise NoFaceError(f"{path}: no face in its first {FACE_CHECK_FRAMES} frames")


def run_live(
    *,
    affected: str | None,
    exercise: str,
    reps: int,
    port: int,
    video: str | None,
    output: str,
    model: str | None,
) -> int:
    """Serve the live page until interrupted.

    Parameters
    ----------
    affected : {"right", "left"} or None
        The known affected side (the subject's); otherwise the side that narrows more.
    exercise : str
        :data:`synkan.live.session.EXERCISE_NAMES`.
    reps : int
        Repetitions of each movement.
    port : int
        Port on 127.0.0.1 (0: any free port).
    video : str, optional
        Play this file instead of the camera.
    output : str
        Where recorded sessions go (only when the user ticks Record).
    model : str, optional
        The landmark model (default as for ``synkan analyze``).
    """
    from ..measure.models import resolve_model
    from .server import LiveConfig, new_token

    try:
        import aiohttp  # noqa: F401
        import av  # noqa: F401
    except ImportError:
        raise SynkanError("synkan live needs aiohttp and av: pip install 'synkan[live]'") from None
    exercise_steps(exercise)
    if reps < 1:
        raise InputError(f"--reps must be at least 1, not {reps}")
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be between 0 and 65535, not {port}")
    video_path = Path(video) if video else None
    model_path = resolve_model(model)
    landmarker = Landmarker(model_path)
    try:
        if video_path is not None:
            check_video(video_path, landmarker)
        config = LiveConfig(
            model=model_path,
            port=port,
            video=video_path.resolve() if video_path else None,
            token=new_token(),
            engine=EngineConfig(affected, exercise, reps, Path(output).resolve(), model_path),
        )
        asyncio.run(_serve(config, landmarker))
    except KeyboardInterrupt:
        print("synkan live: stopped", flush=True)
    finally:
        landmarker.close()
    return 0


async def _serve(config, landmarker: Landmarker) -> None:
    from .server import HOST, start

    runner, port = await start(config, landmarker)
    try:
        print(f"synkan live: open http://{HOST}:{port}/?token={config.token}", flush=True)
        print("(only this computer can connect; press Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
