"""``synkan batch --help``'s epilog: the manifest's columns, reruns and the exit status."""

BATCH_EPILOG = """\
manifest CSV (one row per video; only path is required):
  path            the video, absolute or relative to the manifest's folder
  patient_id      groups a patient's sessions into one trend (trends/<patient>-<hash>.png)
  session_date    the visit's date, YYYY-MM-DD
  affected_side   right or left (subject's side); overrides --affected for that video
  label           the patient's group (e.g. synkinesis, control), the same on all their rows;
                  groups cohort.png
  clinician       who filmed or rated the visit
  note            a remark on the visit
A manifest's metadata wins over a folder or glob naming the same video, whatever
the order; two manifests giving one video different values are an error.
Example: sample_videos/manifest.csv.

  synkan batch sessions/ manifest.csv -o cohort_out --jobs 2

A rerun into the same OUTDIR does only what is missing: videos not done yet, interrupted, or whose
worker crashed. A video that failed because of what it is (unreadable, no face) is listed as failed
again without being run, as it would fail again with the same settings: --retry-failed runs those
again, --force runs every video again.

exit status: 0 when every video is ok or was done before, 1 when any video failed (see the status
column of OUTDIR/summary.csv), 2 for a usage, input or output error (one line on stderr), 130 after
Ctrl-C.
"""
