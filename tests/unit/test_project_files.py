"""Files at the repository root agree with what the code and pyproject say: the licence, and a
README row for every setting."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from fixative.config import Settings

ROOT = Path(__file__).resolve().parents[2]
MIT_GRANT = "Permission is hereby granted, free of charge, to any person obtaining a copy"


def test_license_file_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "MIT License"
    assert "Copyright (c) 2026 The Fixative developers" in text
    assert MIT_GRANT in " ".join(text.split())


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(\w+)` \|", readme, flags=re.MULTILINE))
    assert set(Settings.model_fields) - documented == set()
