"""Many videos at once: a local process pool by default, Dask distributed on request.

``synkan batch INPUT... -o OUTDIR`` analyses every video found in the
inputs (folders searched recursively, globs, video files, or manifest CSVs:
:mod:`synkan.batch.jobs`) and writes:

- ``OUTDIR/<stem>-<sha8>/`` (``video-<sha12>/`` with ``--deidentify``): one ordinary analysis folder per video
  (report.json, signals.csv, ...), written atomically by
  :func:`synkan.report.writer.write_outputs`. This folder is the durable
  record of a finished video.
- ``OUTDIR/summary.csv``: one row per video (metadata, scores, QC, status,
  time), rewritten atomically after every result (:mod:`synkan.batch.summary`).
- ``OUTDIR/trends.csv``, ``OUTDIR/trends/<patient>-<hash>.png`` and
  ``OUTDIR/cohort.png``: :func:`write_trends`.

Resume (:mod:`synkan.batch.state`): a video whose folder holds a report.json
with the same input SHA-256 and the same settings hash (settings + synkan
version) is skipped; one whose scoring settings changed is re-scored from
its ``track.npz``, one whose tracking settings changed analysed again.
After a crash, Ctrl-C or SIGTERM, the videos that had started are
``failed: interrupted`` and those that had not are ``pending``; a rerun
finishes only what is missing. A video that failed because of what it is
(unreadable, no face) is not run again with the same settings, as it would
fail again: ``--retry-failed`` runs those again, ``--force`` every video.

Failure isolation: a corrupt video, a video without a face, or a worker
process that dies marks that video's row ``failed: <reason>`` and the batch
goes on (a broken process pool is recreated: :mod:`synkan.batch.local`).
The exit code is 0 when every video is ok, 1 when some failed.

With ``--scheduler tcp://HOST:PORT`` or ``tls://HOST:PORT`` the same work
runs on an existing Dask cluster (:mod:`synkan.batch.cluster`, which says
what each URL trusts).

Modules: ``jobs`` (inputs and manifests), ``state`` (resume, lock),
``worker`` (one video), ``local`` and ``cluster`` (runners), ``summary``,
``run`` (the batch), ``trends`` and ``trend_figures``.
"""
from .._util.files import csv_safe
from .cluster import SCHEDULER_CONNECT_TIMEOUT_S, Tls, check_scheduler
from .jobs import MANIFEST_COLUMNS, VIDEO_EXTENSIONS, Job, collect_jobs, read_manifest
from .run import run_batch
from .state import settings_hash
from .summary import SCORE_COLUMNS, SUMMARY_COLUMNS, read_summary, write_summary
from .trends import NO_TRENDS_NOTE, trend_figure_name, write_trends
from .worker import frames_in_progress, process_video, reusable_track

__all__ = ["MANIFEST_COLUMNS", "NO_TRENDS_NOTE", "SCHEDULER_CONNECT_TIMEOUT_S", "SCORE_COLUMNS",
           "SUMMARY_COLUMNS", "VIDEO_EXTENSIONS",
           "Job", "Tls", "check_scheduler", "collect_jobs", "csv_safe", "frames_in_progress", "process_video",
           "read_manifest", "read_summary", "reusable_track", "run_batch", "settings_hash", "trend_figure_name",
           "write_summary", "write_trends"]
