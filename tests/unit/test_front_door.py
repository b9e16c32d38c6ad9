"""The public API: ``tsodso.__all__`` is exactly what the README promises, every name is
documented, and the README's Python section runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import tsodso

README = Path(__file__).resolve().parents[2] / "README.md"


def test_all_is_the_public_api() -> None:
    assert sorted(tsodso.__all__) == sorted(
        [
            "Comparison",
            "Mechanism",
            "ModelPreset",
            "Prepared",
            "RunResult",
            "Scenario",
            "ScenarioConfig",
            "ScenarioConfigError",
            "build",
            "compare",
            "load",
            "models",
            "prepare",
            "run",
        ]
    )
    for name in tsodso.__all__:
        obj = getattr(tsodso, name)
        assert obj.__doc__ and obj.__doc__.strip(), name


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_readme_python_section_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("From Python"), re.S)
    assert len(blocks) == 1
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102
    cmp = namespace["cmp"]
    assert isinstance(cmp, tsodso.Comparison)
    table = cmp.table()
    assert list(table.index) == ["smartnet-a", "smartnet-d"]
    assert set(table.status) == {"optimal"}
    assert table.loc["smartnet-a", "gap_to_joint_eur"] is not None
    tables = namespace["tables"]
    assert {"activations", "ledger", "messages", "kpis"} <= set(tables)  # type: ignore[arg-type]


def test_readme_model_list_is_the_catalogue() -> None:
    from tsodso.cli.main import catalogue_markdown
    from tsodso.coordination.catalogue import CATALOGUE

    text = README.read_text()
    listed = text[
        text.index("<!-- catalogue:start -->\n") + 25 : text.index("<!-- catalogue:end -->")
    ]
    assert listed == catalogue_markdown(CATALOGUE)
    assert len(CATALOGUE) == 34
