"""The run directory as a transaction: its lock, what dpok owns in it, overwrite and resume rules, the
privacy ledger, and strict, atomic file writes (see docs/engine.md, "The run directory")."""

from .files import atomic_write_text, disk_errors, make_temp_dir, strict_json, write_json
from .layout import MARKER, OWNED, claim_run_dir, is_dpok_run, prepare_fresh_run
from .ledger import PrivacyLedger
from .lock import LOCK_FILE, RunLock, RunLockedError
from .resume import RESUMABLE_CHANGES, check_resume_config
from .runlog import run_log
from .transaction import RunDirectory

__all__ = ["LOCK_FILE", "MARKER", "OWNED", "RESUMABLE_CHANGES", "PrivacyLedger", "RunDirectory", "RunLock",
           "RunLockedError", "atomic_write_text", "check_resume_config", "claim_run_dir", "disk_errors", "is_dpok_run",
           "make_temp_dir", "prepare_fresh_run", "run_log", "strict_json", "write_json"]
