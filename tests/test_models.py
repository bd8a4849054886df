"""Tests for the model registry, against a real local HTTP server (no mocks)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import synkan.measure.models as models
from synkan.errors import ModelError, SynkanError
from synkan.measure.models import (
    MODEL_FILENAME,
    MODEL_SHA256,
    MODEL_SIZE,
    fetch_model,
    import_model,
    model_info,
    resolve_model,
    sha256_file,
)

SHARED_MODEL = Path(__file__).resolve().parents[2] / "shared" / "models" / MODEL_FILENAME


def _real_model_path() -> Path:
    env = os.environ.get("SYNKAN_MODEL")
    if env and Path(env).is_file():
        return Path(env)
    return SHARED_MODEL


@pytest.fixture(scope="session")
def real_model() -> Path:
    path = _real_model_path()
    assert path.is_file(), f"the real model is expected at $SYNKAN_MODEL or {SHARED_MODEL}"
    return path


@pytest.fixture()
def good_copy(tmp_path: Path, real_model: Path) -> Path:
    d = tmp_path / "good"
    d.mkdir()
    dst = d / MODEL_FILENAME
    shutil.copyfile(real_model, dst)
    return dst


@pytest.fixture()
def bad_copy(tmp_path: Path, real_model: Path) -> Path:
    """The real model with one byte flipped (same size, wrong checksum)."""
    d = tmp_path / "bad"
    d.mkdir()
    data = bytearray(real_model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst = d / MODEL_FILENAME
    dst.write_bytes(bytes(data))
    return dst


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user env, an empty cache dir, and no source-tree model.

    ``SOURCE_MODEL_DIR`` is a data location, pointed at an empty directory so a
    developer's ``models/face_landmarker.task`` cannot change the outcome.
    """
    cache = tmp_path / "cache"
    monkeypatch.delenv("SYNKAN_MODEL", raising=False)
    monkeypatch.delenv("SYNKAN_MODEL_URL", raising=False)
    monkeypatch.setenv("SYNKAN_CACHE_DIR", str(cache))
    src = tmp_path / "srcmodels"
    src.mkdir()
    monkeypatch.setattr(models, "SOURCE_MODEL_DIR", src)
    return cache


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/truncated":
            # Promise the full model, send a little, then hang up.
            self.send_response(200)
            self.send_header("Content-Length", str(MODEL_SIZE))
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path == "/endless":
            # No length, and data until the client hangs up (or ENDLESS_CAP, so a broken client cannot fill
            # the disk).
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(ENDLESS_CAP // 65536):
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                pass
            self.close_connection = True
            return
        super().do_GET()


ENDLESS_CAP = 64 * MODEL_SIZE


@pytest.fixture()
def server(tmp_path: Path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/www``; yields (dir, base_url)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- sha256_file ---------------------------------------------------------------
def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # spans several chunks
    p.write_bytes(data)
    assert sha256_file(p) == hashlib.sha256(data).hexdigest()
    assert sha256_file(p, chunk_size=1000) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()


def test_real_model_checksum(real_model: Path) -> None:
    assert real_model.stat().st_size == MODEL_SIZE
    assert sha256_file(real_model) == MODEL_SHA256


# --- fetch_model -------------------------------------------------------------------
def test_fetch_verifies_and_lands_atomically(server, real_model: Path, tmp_path: Path) -> None:
    www, base = server
    shutil.copyfile(real_model, www / MODEL_FILENAME)
    dest = tmp_path / "dest" / "nested"
    got = fetch_model(dest, url=f"{base}/{MODEL_FILENAME}", progress=False, timeout_s=5)
    assert got == dest / MODEL_FILENAME
    assert sorted(os.listdir(dest)) == [MODEL_FILENAME]  # no temp file left
    assert got.stat().st_size == MODEL_SIZE
    assert sha256_file(got) == MODEL_SHA256
    # Fetching again replaces the file in place.
    got2 = fetch_model(dest, url=f"{base}/{MODEL_FILENAME}", progress=True, timeout_s=5)
    assert got2 == got and sorted(os.listdir(dest)) == [MODEL_FILENAME]


def test_fetch_corrupt_raises_and_leaves_nothing(server, bad_copy: Path, tmp_path: Path) -> None:
    www, base = server
    shutil.copyfile(bad_copy, www / MODEL_FILENAME)
    dest = tmp_path / "dest"
    with pytest.raises(ModelError, match="checksum") as info:
        fetch_model(dest, url=f"{base}/{MODEL_FILENAME}", progress=False, timeout_s=5)
    assert "\n" not in str(info.value)
    assert os.listdir(dest) == []


def test_fetch_corrupt_keeps_existing_good_file(server, bad_copy: Path, good_copy: Path, tmp_path: Path) -> None:
    www, base = server
    shutil.copyfile(bad_copy, www / MODEL_FILENAME)
    dest = good_copy.parent
    with pytest.raises(ModelError):
        fetch_model(dest, url=f"{base}/{MODEL_FILENAME}", progress=False, timeout_s=5)
    assert os.listdir(dest) == [MODEL_FILENAME]
    assert sha256_file(good_copy) == MODEL_SHA256


def test_fetch_404(server, tmp_path: Path) -> None:
    _, base = server
    dest = tmp_path / "dest"
    with pytest.raises(ModelError, match="404"):
        fetch_model(dest, url=f"{base}/missing.task", progress=False, timeout_s=5)
    assert os.listdir(dest) == []


def test_fetch_unreachable(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(ModelError, match="download of .* failed"):
        fetch_model(dest, url=f"http://127.0.0.1:{_free_port()}/{MODEL_FILENAME}", progress=False, timeout_s=2)
    assert os.listdir(dest) == []


@pytest.mark.parametrize("path,message", [("truncated", "incomplete"), ("endless", "more than the model's")])
def test_fetch_truncated_or_too_long(path, message, server, tmp_path: Path) -> None:
    """A download cut short, or one that never ends: the first stops at the model's size."""
    _, base = server
    dest = tmp_path / "dest"
    with pytest.raises(ModelError, match=message):
        fetch_model(dest, url=f"{base}/{path}", progress=False, timeout_s=5)
    assert os.listdir(dest) == []


def test_fetch_timeout(tmp_path: Path) -> None:
    # A socket that listens but never answers: connect succeeds, the read times out.
    dest = tmp_path / "dest"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/{MODEL_FILENAME}"
        with pytest.raises(ModelError, match="timed out"):
            fetch_model(dest, url=url, progress=False, timeout_s=0.5)
    assert os.listdir(dest) == []


def test_fetch_bad_url(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(ModelError, match="not a url"):
        fetch_model(dest, url="not a url", progress=False, timeout_s=2)
    assert os.listdir(dest) == []


def test_model_error_is_a_user_error() -> None:
    assert issubclass(ModelError, SynkanError)


# --- resolve_model ----------------------------------------------------------------
def test_explicit_wins(good_copy: Path, tmp_path: Path, monkeypatch, isolated: Path) -> None:
    other = tmp_path / "other" / MODEL_FILENAME
    other.parent.mkdir()
    shutil.copyfile(good_copy, other)
    monkeypatch.setenv("SYNKAN_MODEL", str(other))
    assert resolve_model(good_copy) == good_copy
    assert resolve_model(str(good_copy)) == good_copy
    assert resolve_model(good_copy.parent) == good_copy  # a directory holding the model
    assert model_info(good_copy)["source"] == "explicit"


def test_env_beats_source_and_cache(good_copy: Path, monkeypatch, isolated: Path) -> None:
    import_model(good_copy, isolated)
    import_model(good_copy, models.SOURCE_MODEL_DIR)
    monkeypatch.setenv("SYNKAN_MODEL", str(good_copy))
    assert resolve_model() == good_copy
    info = model_info(good_copy)
    assert info["source"] == "env"


def test_source_tree_beats_cache(good_copy: Path, isolated: Path) -> None:
    src = import_model(good_copy, models.SOURCE_MODEL_DIR)
    import_model(good_copy, isolated)
    assert resolve_model(download=False) == src
    assert model_info()["source"] == "source"


def test_cache_used(good_copy: Path, isolated: Path) -> None:
    cached = import_model(good_copy)  # default destination: the user cache
    assert cached == isolated / MODEL_FILENAME
    assert resolve_model(download=False) == cached
    info = model_info(cached)
    assert info == {
        "path": str(cached.resolve()),
        "sha256": MODEL_SHA256,
        "size": MODEL_SIZE,
        "source": "cache",
        "verified": True,
        "name": MODEL_FILENAME,
        "url": models.MODEL_URL,
        "license": "Apache-2.0",
    }


def test_cache_dir_rules(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNKAN_CACHE_DIR", str(tmp_path / "a"))
    assert models.user_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("SYNKAN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.user_cache_dir() == tmp_path / "xdg" / "synkan"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.user_cache_dir() == tmp_path / "home" / ".cache" / "synkan"


def test_source_model_dir_is_repo_models() -> None:
    # Checked on the real module value, not the fixture's stand-in.
    assert models._source_model_dir() == Path(models.__file__).resolve().parents[2] / "models"


def test_explicit_missing_is_error(good_copy: Path, tmp_path: Path, isolated: Path) -> None:
    import_model(good_copy, isolated)  # a good cached copy must not be used instead
    with pytest.raises(ModelError, match="does not exist") as info:
        resolve_model(tmp_path / "nope.task")
    assert "\n" not in str(info.value)
    assert "synkan models import" in str(info.value)


def test_explicit_corrupt_is_error(bad_copy: Path, good_copy: Path, isolated: Path) -> None:
    import_model(good_copy, isolated)
    with pytest.raises(ModelError, match="checksum"):
        resolve_model(bad_copy)


def test_explicit_truncated_is_error(good_copy: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.task"
    short.write_bytes(good_copy.read_bytes()[:1000])
    with pytest.raises(ModelError, match="1000 bytes"):
        resolve_model(short)


def test_env_missing_or_corrupt_is_error(bad_copy: Path, good_copy: Path, tmp_path: Path, monkeypatch, isolated: Path) -> None:
    import_model(good_copy, isolated)
    monkeypatch.setenv("SYNKAN_MODEL", str(tmp_path / "nope.task"))
    with pytest.raises(ModelError, match="SYNKAN_MODEL"):
        resolve_model()
    monkeypatch.setenv("SYNKAN_MODEL", str(bad_copy))
    with pytest.raises(ModelError, match="checksum"):
        resolve_model()


def test_corrupt_source_tree_model_is_error(bad_copy: Path) -> None:
    shutil.copyfile(bad_copy, models.SOURCE_MODEL_DIR / MODEL_FILENAME)
    with pytest.raises(ModelError, match="source-tree"):
        resolve_model(download=False)


def test_nothing_found_without_download(isolated: Path) -> None:
    with pytest.raises(ModelError, match="not found") as info:
        resolve_model(download=False)
    msg = str(info.value)
    assert "\n" not in msg and "synkan models" in msg
    assert not isolated.exists() or os.listdir(isolated) == []
    with pytest.raises(ModelError):
        model_info()


def test_resolve_downloads_into_cache(server, real_model: Path, monkeypatch, isolated: Path) -> None:
    www, base = server
    shutil.copyfile(real_model, www / MODEL_FILENAME)
    monkeypatch.setenv("SYNKAN_MODEL_URL", f"{base}/{MODEL_FILENAME}")
    got = resolve_model()
    assert got == isolated / MODEL_FILENAME
    assert os.listdir(isolated) == [MODEL_FILENAME]
    # Where it was found depends on where it is, not on how it got there (no hidden state).
    assert model_info()["source"] == "cache"
    # The next call finds it in the cache, no server needed.
    (www / MODEL_FILENAME).unlink()
    assert resolve_model() == got
    assert model_info()["source"] == "cache"


def test_resolve_replaces_corrupt_cache(server, real_model: Path, bad_copy: Path, monkeypatch, isolated: Path) -> None:
    www, base = server
    shutil.copyfile(real_model, www / MODEL_FILENAME)
    isolated.mkdir()
    shutil.copyfile(bad_copy, isolated / MODEL_FILENAME)
    with pytest.raises(ModelError, match="checksum"):
        resolve_model(download=False)
    monkeypatch.setenv("SYNKAN_MODEL_URL", f"{base}/{MODEL_FILENAME}")
    got = resolve_model()
    assert sha256_file(got) == MODEL_SHA256


def test_resolve_download_failure_message(monkeypatch, isolated: Path) -> None:
    monkeypatch.setenv("SYNKAN_MODEL_URL", f"http://127.0.0.1:{_free_port()}/{MODEL_FILENAME}")
    with pytest.raises(ModelError, match="download failed") as info:
        resolve_model()
    msg = str(info.value)
    assert "\n" not in msg
    assert "synkan models import FILE" in msg and "SYNKAN_MODEL" in msg
    assert os.listdir(isolated) == []


def test_verification_is_cached(good_copy: Path) -> None:
    resolve_model(good_copy)
    st = good_copy.stat()
    key = (str(good_copy.resolve()), st.st_size, st.st_mtime_ns)
    assert models._sha_cache[key] == MODEL_SHA256
    # A changed file (new mtime) is hashed again, and now fails.
    data = bytearray(good_copy.read_bytes())
    data[10] ^= 0x01
    good_copy.write_bytes(bytes(data))
    os.utime(good_copy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ModelError, match="checksum"):
        resolve_model(good_copy)


# --- import_model ---------------------------------------------------------------------
def test_import_good(good_copy: Path, tmp_path: Path) -> None:
    dest = tmp_path / "hospital" / "models"
    got = import_model(good_copy, dest)
    assert got == dest / MODEL_FILENAME
    assert os.listdir(dest) == [MODEL_FILENAME]
    assert sha256_file(got) == MODEL_SHA256
    assert good_copy.exists()  # a copy, not a move
    assert import_model(got, dest) == got  # importing onto itself is a no-op
    assert import_model(good_copy, dest) == got  # re-import replaces
    assert os.listdir(dest) == [MODEL_FILENAME]


def test_import_bad(bad_copy: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(ModelError, match="checksum"):
        import_model(bad_copy, dest)
    assert not dest.exists() or os.listdir(dest) == []
    with pytest.raises(ModelError, match="does not exist"):
        import_model(tmp_path / "missing.task", dest)


# --- Issue 17 (14): `models fetch` honours SYNKAN_MODEL_URL and stops at the model's size ----------------
def _fetch_cli(url: str, dest: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SYNKAN_MODEL"} | {"SYNKAN_MODEL_URL": url}
    return subprocess.run([sys.executable, "-m", "synkan.cli", "models", "fetch", "--dest", str(dest)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_models_fetch_honours_model_url(server, real_model: Path, tmp_path: Path) -> None:
    www, base = server
    shutil.copy(real_model, www / MODEL_FILENAME)
    res = _fetch_cli(f"{base}/{MODEL_FILENAME}", tmp_path / "dest")
    assert res.returncode == 0, res.stderr
    assert sha256_file(tmp_path / "dest" / MODEL_FILENAME) == MODEL_SHA256


def test_models_fetch_stops_an_endless_stream(server, tmp_path: Path) -> None:
    _, base = server
    dest = tmp_path / "dest"
    res = _fetch_cli(f"{base}/endless", dest)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and f"more than the model's {MODEL_SIZE} bytes" in lines[0], res.stderr
    assert os.listdir(dest) == []  # the partial file is gone
