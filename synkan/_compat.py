"""Old import paths (before 0.2) keep working for one release, with a DeprecationWarning.

``import synkan.signals`` now finds :mod:`synkan.measure.signals` and says so.
The map is the changelog's list of moved modules; remove this module in 0.3.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED_MODULES = {
    "video": "measure.video", "landmarker": "measure.landmarker", "models": "measure.models",
    "tracking": "measure.tracking", "align": "measure.align", "mirror": "measure.mirror",
    "eyelids": "measure.eyelids", "regions": "measure.regions", "region_pixels": "measure.texture",
    "signals": "measure.signals", "events": "grade.events", "movements": "grade.movements",
    "protocols": "grade.protocols", "coupling": "grade.coupling", "scoring": "grade.grades",
    "matrix": "grade.matrix", "scales": "grade.scales", "compare": "clinic.compare",
    "deidentify": "clinic.deidentify", "export": "clinic.export", "validate": "validation.synthetic",
    "validate_real": "validation.real", "validate_scales": "validation.scales", "npz": "_util.npz",
    "memory": "_util.memory", "native_stderr": "_util.native_stderr", "batch.files": "_util.files",
}


def new_module_name(old: str) -> str | None:
    """``synkan.<new path>`` of a moved ``synkan.<old path>``, or None when ``old`` did not move."""
    short = old.removeprefix("synkan.")
    return f"synkan.{MOVED_MODULES[short]}" if old.startswith("synkan.") and short in MOVED_MODULES else None


def import_moved(old: str):
    """Import the module that ``old`` names now, warning once about the new name."""
    new = new_module_name(old)
    warnings.warn(f"{old} has moved to {new}; the old name goes in synkan 0.3", DeprecationWarning, stacklevel=3)
    return importlib.import_module(new)


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds old module names and hands out the already-imported new module."""

    def find_spec(self, fullname, path=None, target=None):
        if new_module_name(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return import_moved(spec.name)

    def exec_module(self, module):
        """The new module is already executed."""


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())  # before any editable-install finder that knows the old files
