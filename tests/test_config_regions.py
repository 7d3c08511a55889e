"""config/regions: Zhejiang's cities and county-level units, zones, provinces; locate / contains / children.

The expected administrative lists below are typed from the official divisions (2021 on:
临平区 and 钱塘区 in Hangzhou, 龙港市 in Wenzhou), not read back from regions.toml.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from config.regions import REGIONS_TOML, load_regions

ROOT = Path(__file__).resolve().parent.parent
REGIONS = load_regions()

ZHEJIANG = {
    "杭州市": "上城区 拱墅区 西湖区 滨江区 萧山区 余杭区 临平区 钱塘区 富阳区 临安区 桐庐县 淳安县 建德市",
    "宁波市": "海曙区 江北区 北仑区 镇海区 鄞州区 奉化区 象山县 宁海县 余姚市 慈溪市",
    "温州市": "鹿城区 龙湾区 瓯海区 洞头区 永嘉县 平阳县 苍南县 文成县 泰顺县 瑞安市 乐清市 龙港市",
    "嘉兴市": "南湖区 秀洲区 嘉善县 海盐县 海宁市 平湖市 桐乡市",
    "湖州市": "吴兴区 南浔区 德清县 长兴县 安吉县",
    "绍兴市": "越城区 柯桥区 上虞区 新昌县 诸暨市 嵊州市",
    "金华市": "婺城区 金东区 武义县 浦江县 磐安县 兰溪市 义乌市 东阳市 永康市",
    "衢州市": "柯城区 衢江区 常山县 开化县 龙游县 江山市",
    "舟山市": "定海区 普陀区 岱山县 嵊泗县",
    "台州市": "椒江区 黄岩区 路桥区 三门县 天台县 仙居县 温岭市 临海市 玉环市",
    "丽水市": "莲都区 青田县 缙云县 遂昌县 松阳县 云和县 庆元县 景宁畲族自治县 龙泉市",
}


def test_eleven_cities_and_ninety_county_level_units() -> None:
    assert set(ZHEJIANG) <= set(REGIONS.cities)
    assert REGIONS.home == frozenset(ZHEJIANG)
    assert sum(len(v.split()) for v in ZHEJIANG.values()) == 90


@pytest.mark.parametrize("city", sorted(ZHEJIANG))
def test_every_county_level_unit_belongs_to_its_city(city: str) -> None:
    counties = ZHEJIANG[city].split()
    assert REGIONS.children(city)[: len(counties)] == tuple(counties)
    for county in counties:
        assert REGIONS.locate(county) == (county, city), county
        assert REGIONS.locate(city + county + "某某有限公司") == (county, city)
        assert REGIONS.contains(city, county)
        assert REGIONS.contains("浙江省", county)
        assert not REGIONS.contains(county, city)


@pytest.mark.parametrize("text, expected", [
    ("嘉兴市平湖市光机电产业集群", ("平湖市", "嘉兴市")),
    ("平湖市光机电产业集群", ("平湖市", "嘉兴市")),
    ("温州乐清通信连接器产业集群", ("乐清市", "温州市")),
    ("杭州市萧山区汽车智能底盘", ("萧山区", "杭州市")),
    ("杭州市滨江区具身智能机器人产业集群", ("滨江区", "杭州市")),
    ("丽水经济技术开发区集成电路（关键材料）", ("丽水经济技术开发区", "丽水市")),
    ("丽水经开区半导体", ("丽水经济技术开发区", "丽水市")),
    ("松阳县高端新材料（先进金属材料及特种钢材料）", ("松阳县", "丽水市")),
    ("慈溪家电产业集群", ("慈溪市", "宁波市")),
    ("乐清", ("乐清市", "温州市")),
    ("景宁惠明茶", ("景宁畲族自治县", "丽水市")),
    ("嘉兴市（6家）", ("嘉兴市", "嘉兴市")),
    ("嘉 兴 市", ("嘉兴市", "嘉兴市")),
    ("浙江省", ("浙江省", None)),
    ("浙江", ("浙江省", None)),
    ("浙江省嘉兴市南湖区", ("南湖区", "嘉兴市")),
    ("浙江嘉善龙威机械有限公司", ("嘉善县", "嘉兴市")),
    ("浙江（绍兴）华宇纺织科技有限公司", ("绍兴市", "绍兴市")),
    ("江苏省", ("江苏省", None)),
    ("宁夏回族自治区", ("宁夏回族自治区", None)),
    ("新疆生产建设兵团", ("新疆生产建设兵团", None)),
    ("新疆", ("新疆维吾尔自治区", None)),
    ("内蒙古", ("内蒙古自治区", None)),
    ("大连市", ("大连市", None)),
    ("宁波市", ("宁波市", "宁波市")),
    ("上海市普陀区", ("上海市", None)),  # another province: Zhoushan's 普陀区 must not match
    ("江苏江山化工有限公司", ("江苏省", None)),
    ("三门峡市某某公司", (None, None)),  # 三门峡 is in Henan, not 三门县
    ("西湖龙井茶叶有限公司", (None, None)),  # 西湖 alone is a word, not 西湖区
    ("钱塘江海塘工程公司", (None, None)),
    ("石嘴山市 惠农区", (None, None)),
    ("", (None, None)),
    (None, (None, None)),
])
def test_locate(text: str | None, expected: tuple[str | None, str | None]) -> None:
    assert REGIONS.locate(text) == expected


@pytest.mark.parametrize("area, place, expected", [
    ("嘉兴市", "平湖市", True),
    ("嘉兴市", "嘉兴市", True),
    ("嘉兴", "平湖", True),
    ("嘉兴市", "嘉兴港区", True),
    ("浙江省", "平湖市", True),
    ("浙江省", "嘉兴市", True),
    ("平湖市", "嘉兴市", False),
    ("杭州市", "平湖市", False),
    ("嘉兴市", "江苏省", False),
    ("浙江省", "江苏省", False),
    ("石嘴山市", "石嘴山市", True),  # unknown places: equal names only
    ("石嘴山市", "惠农区", False),
])
def test_contains(area: str, place: str, expected: bool) -> None:
    assert REGIONS.contains(area, place) is expected


def test_children() -> None:
    assert REGIONS.children("嘉兴市") == ("南湖区", "秀洲区", "嘉善县", "海盐县", "海宁市", "平湖市", "桐乡市",
                                        "嘉兴经济技术开发区", "嘉兴港区")
    assert REGIONS.children("嘉兴") == REGIONS.children("嘉兴市")
    assert REGIONS.children("平湖市") == ()
    assert REGIONS.children("江苏省") == ()


def test_extra_places_from_config() -> None:
    r = load_regions({"石嘴山市": ["惠农区", "大武口区"], "嘉兴市": ["经开区"]})
    assert r.locate("石嘴山市 惠农区") == ("惠农区", "石嘴山市")
    assert r.locate("惠农区") == ("惠农区", "石嘴山市")
    assert r.locate("经开区") == ("经开区", "嘉兴市")
    assert r.contains("嘉兴市", "经开区")
    assert not r.contains("浙江省", "惠农区")  # an extra city is not in the province
    assert "经开区" in r.children("嘉兴市")
    assert REGIONS.locate("惠农区") == (None, None)  # the default object is unchanged


def test_a_bare_name_in_two_cities_is_ambiguous() -> None:
    r = load_regions({"福州市": ["鼓楼区"], "南京市": ["鼓楼区"]})
    assert r.locate("鼓楼区") == (None, None)
    assert r.locate("南京市鼓楼区") == ("鼓楼区", "南京市")
    assert r.locate("福州市鼓楼区") == ("鼓楼区", "福州市")


def test_an_extra_name_that_collides_with_zhejiang_makes_the_bare_name_ambiguous() -> None:
    r = load_regions({"上海市": ["普陀区"]})
    assert r.locate("普陀区") == (None, None)
    assert r.locate("舟山市普陀区") == ("普陀区", "舟山市")


def test_regions_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        REGIONS.province = "江苏省"  # type: ignore[misc]
    with pytest.raises(TypeError):
        REGIONS.bare["新地名"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        REGIONS.kids["嘉兴市"] = ()  # type: ignore[index]


def test_toml_is_consistent() -> None:
    import tomllib

    raw = tomllib.loads(REGIONS_TOML.read_text(encoding="utf-8"))
    seen: set[str] = set()
    for city, spec in raw["cities"].items():
        assert city.endswith("市") and spec["short"] == city[:-1]
        for county in spec["counties"]:
            assert county.endswith(("区", "县", "市")), county
            assert county not in seen, f"{county} listed twice"
            seen.add(county)
    assert len(raw["provinces"]) == 35  # 34 provincial-level units + 新疆生产建设兵团


def test_config_is_a_leaf() -> None:
    tree = ast.parse((ROOT / "config" / "regions.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            assert name.split(".")[0] not in ("scraper", "db", "notifier", "config"), name
