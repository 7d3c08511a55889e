"""The program registry: the shipped programs.toml, user-defined programs and their validation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import config
from config import ConfigError
from config.programs import LEVELS, PROGRAMS_FILE, Program, Registry, default_registry, load_registry
from scraper import models

REQUIRED = {
    "sme-cluster": "中小企业特色产业集群", "specialized-sme": "专精特新中小企业", "little-giant": '专精特新"小巨人"企业',
    "tech-sme": "科技型中小企业", "cluster-core-area": "特色产业集群核心区/协同区",
    "first-set-equipment": "首台（套）装备", "small-micro-park": "小微企业园",
}


def test_shipped_programs() -> None:
    reg = default_registry()
    for key, name in REQUIRED.items():
        assert reg.get(key).name == name
    assert reg.get("sme-cluster").name_en == "SME characteristic industrial clusters"
    assert reg.get("cluster-core-area").name_en == "characteristic industrial cluster core areas"
    assert all(p.builtin and p.level in LEVELS for p in reg)
    assert reg.get("little-giant").keeps_level and not reg.get("specialized-sme").keeps_level


def test_priority_order() -> None:
    keys = default_registry().keys()
    assert keys.index("little-giant") < keys.index("specialized-sme")
    assert keys.index("cluster-core-area") < keys.index("sme-cluster")
    assert keys.index("cluster-core-area") < keys.index("advanced-manufacturing-cluster")


def test_names_are_aliases_and_aliases_are_unique() -> None:
    reg = default_registry()
    seen: dict[str, str] = {}
    for p in reg:
        assert p.name in p.aliases and (not p.name_en or p.name_en in p.aliases)
        for a in p.aliases:
            assert seen.setdefault(a.casefold(), p.key) == p.key, a


def test_levels_mirror_the_models() -> None:
    assert LEVELS == models.LEVELS


def test_toml_is_the_source() -> None:
    data = tomllib.loads(PROGRAMS_FILE.read_text(encoding="utf-8"))
    assert [p["key"] for p in data["programs"]] == list(default_registry().keys())


def test_registry_is_frozen_and_looks_up_by_key() -> None:
    reg = default_registry()
    assert isinstance(reg, Registry) and isinstance(reg.get("tech-sme"), Program)
    assert "tech-sme" in reg and "nope" not in reg and len(reg) == len(reg.keys())
    with pytest.raises(KeyError):
        reg.get("nope")
    with pytest.raises(AttributeError):
        reg.programs = ()  # type: ignore[misc]
    assert hash(reg) == hash(load_registry())


def test_user_programs_come_first() -> None:
    reg = load_registry([{"key": "eagle", "name": "雄鹰行动企业", "aliases": ["雄鹰行动"], "level": "provincial"}])
    first = reg.programs[0]
    assert (first.key, first.builtin, first.level, first.keeps_level) == ("eagle", False, "provincial", False)
    assert first.aliases == ("雄鹰行动企业", "雄鹰行动") and first.name_en == ""
    assert reg.keys()[1:] == default_registry().keys()


def test_minimal_user_program() -> None:
    p = load_registry([{"key": "x1", "name": "某某计划"}]).get("x1")
    assert (p.level, p.aliases, p.keeps_level) == (None, ("某某计划",), False)


@pytest.mark.parametrize("table, path, problem", [
    ({"name": "某某计划"}, "programs[0].key", "is required"),
    ({"key": 3, "name": "某某计划"}, "programs[0].key", "expected a string, got an integer"),
    ({"key": "Bad Key", "name": "某某计划"}, "programs[0].key", "is not a program key"),
    ({"key": "x"}, "programs[0].name", "is required"),
    ({"key": "x", "name": " "}, "programs[0].name", "must not be empty"),
    ({"key": "x", "name": "计"}, "programs[0].name", "too short"),
    ({"key": "x", "name": "某某计划", "level": "city"}, "programs[0].level", "must be one of national"),
    ({"key": "x", "name": "某某计划", "keeps_level": True}, "programs[0].keeps_level", "needs a level"),
    ({"key": "x", "name": "某某计划", "keeps_level": "yes"}, "programs[0].keeps_level", "expected a boolean"),
    ({"key": "x", "name": "某某计划", "aliases": "某某"}, None, None),  # one string is accepted as a list
    ({"key": "x", "name": "某某计划", "aliases": ["ok", ""]}, "programs[0].aliases[1]", "non-empty string"),
    ({"key": "x", "name": "某某计划", "aliases": ["某某…x"]}, "programs[0].aliases[0]", "at least 2 characters"),
    ({"key": "x", "name": "某某计划", "colour": "red"}, "programs[0].colour", "unknown key"),
    ({"key": "sme-cluster", "name": "某某计划"}, "programs[0].key", "duplicate program key 'sme-cluster'"),
    ({"key": "x", "name": "某某计划", "aliases": ["小巨人"]}, "programs[0].aliases", "names both 'x' and 'little-giant'"),
])
def test_user_program_errors(table: dict, path: str | None, problem: str | None) -> None:
    if path is None:
        assert load_registry([table]).get("x").aliases == ("某某计划", "某某")
        return
    with pytest.raises(ConfigError) as e:
        load_registry([table], file="cw.toml")
    assert (e.value.file, e.value.path) == ("cw.toml", path)
    assert problem in e.value.problem and f"cw.toml: {path}: " in str(e.value)


def test_errors_name_the_later_of_two_user_programs() -> None:
    with pytest.raises(ConfigError) as e:
        load_registry([{"key": "a", "name": "甲计划"}, {"key": "a", "name": "乙计划"}])
    assert e.value.path == "programs[1].key" and "programs[0]" in e.value.problem
    with pytest.raises(ConfigError) as e:
        load_registry([{"key": "a", "name": "甲计划"}, "not a table"])  # type: ignore[list-item]
    assert (e.value.path, e.value.problem) == ("programs[1]", "expected a table")


def test_config_file_programs_table(tmp_path: Path) -> None:
    base = '[[sources]]\nname = "a"\nurl = "http://a.example.gov.cn/col/col1/index.html"\n'
    p = tmp_path / "cw.toml"
    p.write_text(base + '[[programs]]\nkey = "eagle"\nname = "雄鹰行动企业"\nlevel = "provincial"\n', encoding="utf-8")
    settings = config.load(p, environ={})
    assert load_registry(settings.programs).keys()[0] == "eagle"
    p.write_text(base + '[[programs]]\nkey = "eagle"\nname = "雄鹰行动企业"\nlevel = "town"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        config.load(p, environ={})
    assert e.value.path == "programs[0].level" and str(p) in str(e.value)
