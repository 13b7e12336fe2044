"""Controllers' resolutions: files under a resolutions folder, read on every reconcile run.

A resolution names a discrepancy and an action: `accept` (known and fine: resolved),
`write_off` (the difference is booked off its holding account: a `recon.write_off` decision)
or `manual_match` (the given item refs are matched by hand; rule id `manual`). Files are read
in name order: CSV with a header `discrepancy_id,action,note,who,refs` (refs separated by `;`)
or YAML (a list of mappings with the same keys, refs as a list). A line that cannot be used
is kept in the log with the reason, never a crash; a later line for the same discrepancy
overrides an earlier one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import yaml

ACTIONS = ("accept", "write_off", "manual_match")
COLUMNS = ("discrepancy_id", "action", "note", "who", "refs")


@dataclass(frozen=True, slots=True)
class Resolution:
    file: str
    line: int
    discrepancy_id: str | None
    action: str | None
    note: str | None
    who: str | None
    refs: tuple[str, ...]
    problem: str | None = None  # why it cannot be applied (checked against the data later too)


def read_resolutions(folder: str | Path | None) -> list[Resolution]:
    if folder is None or not Path(folder).is_dir():
        return []
    found: list[Resolution] = []
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix == ".csv":
            found.extend(_from_csv(path))
        elif suffix in (".yml", ".yaml"):
            found.extend(_from_yaml(path))
    return found


def _make(file: str, line: int, raw: dict) -> Resolution:
    def text(key: str) -> str | None:
        value = raw.get(key)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    refs_raw = raw.get("refs")
    if isinstance(refs_raw, list):
        refs = tuple(str(r).strip() for r in refs_raw if str(r).strip())
    else:
        refs = tuple(r.strip() for r in str(refs_raw or "").split(";") if r.strip())
    discrepancy_id, action = text("discrepancy_id"), text("action")
    problem = None
    if discrepancy_id is None:
        problem = "missing discrepancy_id"
    elif action not in ACTIONS:
        problem = f"unknown action {action!r}; expected one of {ACTIONS}"
    elif action == "manual_match" and len(refs) < 2:
        problem = "manual_match needs at least two refs (separated by ';')"
    elif text("who") is None:
        problem = "missing who"
    return Resolution(file, line, discrepancy_id, action, text("note"), text("who"), refs, problem)


def _from_csv(path: Path) -> list[Resolution]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return [Resolution(path.name, 0, None, None, None, None, (), f"unreadable: {error}")]
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    if "discrepancy_id" not in header or "action" not in header:
        return [Resolution(path.name, 1, None, None, None, None, (),
                           f"header must contain {COLUMNS}, got {header}")]  # fmt: skip
    found = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            found.append(Resolution(path.name, number, None, None, None, None, (),
                                    f"{len(row)} fields for {len(header)} columns"))  # fmt: skip
            continue
        found.append(_make(path.name, number, dict(zip(header, row, strict=False))))
    return found


def _from_yaml(path: Path) -> list[Resolution]:
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return [Resolution(path.name, 0, None, None, None, None, (), f"unreadable: {error}")]
    if isinstance(data, dict) and "resolutions" in data:
        data = data["resolutions"]
        node = next(v for k, v in node.value if k.value == "resolutions")
    if data is None:
        return []
    if not isinstance(data, list):
        return [Resolution(path.name, 1, None, None, None, None, (),
                           "expected a list of resolutions")]  # fmt: skip
    found = []
    for item, item_node in zip(data, node.value, strict=True):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            found.append(Resolution(path.name, line, None, None, None, None, (),
                                    "a resolution must be a mapping"))  # fmt: skip
            continue
        found.append(_make(path.name, line, item))
    return found
