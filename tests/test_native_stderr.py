"""Native libraries' INFO/WARNING lines written to fd 2 never reach the command line's stderr."""
import subprocess
import sys
import textwrap

# What MediaPipe's C++ core does: write Abseil-formatted lines straight to file descriptor 2.
PROGRAM = textwrap.dedent(r'''
    import os, sys
    from synkan._util.native_stderr import filtered_native_stderr
    with filtered_native_stderr():
        os.write(2, b"W0000 00:00:1796134493.808395   27042 inference_runner_litert.cc:1433] Input tensor "
                    b"memory is not aligned according to LiteRt's memory alignment requirements.\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
                    b"I0000 00:00:17961.8 12 gl_context.cc:3")
        os.write(2, b"57] no GL\nE0000 00:00:1796134493.8 27042 graph.cc:9] INTERNAL: a real native error\n")
        print("synkan: error: no face found", file=sys.stderr)
    os.write(2, b"after\n")
''')


def test_native_info_and_warning_lines_are_dropped_errors_kept():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, timeout=60)
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 0
    assert sorted(lines) == sorted(["E0000 00:00:1796134493.8 27042 graph.cc:9] INTERNAL: a real native error",
                                    "synkan: error: no face found", "after"])
    assert lines[-1] == "after"  # everything written in the block is out before the block ends


def test_cli_error_is_one_line_whatever_native_code_logs(tmp_path):
    """The command's own message stays the only line (its stderr is the process's)."""
    video = tmp_path / "empty.mp4"
    video.write_bytes(b"")
    done = subprocess.run([sys.executable, "-m", "synkan.cli", "analyze", str(video), "-o", str(tmp_path / "o")],
                          capture_output=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [f"synkan: error: {video}: file is empty (0 bytes)"]
