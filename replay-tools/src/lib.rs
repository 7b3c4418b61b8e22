//! Command-line tools for auditors and admins (replay, verify, rebuild, export/import).
