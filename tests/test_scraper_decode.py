"""scraper.decode: bytes -> str, decided per response (gov-sites.md section 3).

Order: Content-Type charset, BOM, <meta>/XML declaration, strict UTF-8, gb18030.
Every GB label decodes as gb18030, because pages labelled gb2312 contain
GBK-only characters such as 镕 and 喆.
"""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.decode import codec_for, decode, header_charset, sniff
from tests.conftest import PAGES

# Titles with characters outside GB2312 (镕 U+9555, 喆 U+5586) but inside GBK.
TITLE = "关于嘉兴镕鑫新材料有限公司和浙江喆凯智能科技有限公司拟认定名单的公示"
GB_BYTES = TITLE.encode("gb18030")


def page(head: str = "", body: str = TITLE) -> str:
    return f"<!DOCTYPE html><html><head>{head}<title>{body}</title></head><body><p>{body}</p></body></html>"


def test_the_gb_fixture_really_needs_gbk() -> None:
    """Guard: without this the gb2312 tests below would prove nothing."""
    with pytest.raises(UnicodeDecodeError):
        GB_BYTES.decode("gb2312")
    with pytest.raises(UnicodeDecodeError):
        GB_BYTES.decode("utf-8")
    assert GB_BYTES == TITLE.encode("gbk")


# ---------------------------------------------------------------- header wins

@pytest.mark.parametrize(
    ("content_type", "body", "text", "codec"),
    [
        # header charset beats a contradicting <meta>
        ("text/html; charset=utf-8", page('<meta charset="gbk">').encode("utf-8"), page('<meta charset="gbk">'), "utf-8"),
        ("text/html; charset=gbk", page('<meta charset="utf-8">').encode("gbk"), page('<meta charset="utf-8">'), "gb18030"),
        # label spelling: case, quotes, spaces, extra parameters
        ('text/html; Charset="GB2312"', page().encode("gb18030"), page(), "gb18030"),
        ("text/html;charset=GBK;q=1", page().encode("gb18030"), page(), "gb18030"),
        ("text/html; charset = UTF-8", page().encode("utf-8"), page(), "utf-8"),
        # header beats the UTF-8 attempt: these bytes are valid UTF-8 *and* valid latin-1
        ("text/html; charset=iso-8859-1", "café".encode("utf-8"), "cafÃ©", "iso8859-1"),
    ],
)
def test_header_charset_wins(content_type: str, body: bytes, text: str, codec: str) -> None:
    assert decode(body, content_type) == (text, codec)


@pytest.mark.parametrize(
    "label",
    ["gb2312", "GB2312", "gbk", "x-gbk", "X-GBK", "gb18030", "gb_2312-80", "chinese", "csgb2312",
     "csiso58gb231280", "iso-ir-58", "cp936", "euc-cn", "gb2312-80", "936"],
)
def test_every_gb_label_decodes_as_gb18030(label: str) -> None:
    assert codec_for(label) == "gb18030"
    text, codec = decode(page().encode("gb18030"), f"text/html; charset={label}")
    assert (text, codec) == (page(), "gb18030")
    assert "镕" in text and "喆" in text


def test_gb2312_header_label_with_gbk_only_characters() -> None:
    text, codec = decode(GB_BYTES, "text/html; charset=gb2312")
    assert text == TITLE
    assert codec == "gb18030"


def test_gb2312_label_only_in_meta() -> None:
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312" /></head><body>' + TITLE + "</body></html>"
    body = html.encode("gb18030")
    assert sniff(body) == "gb2312"
    assert decode(body, "text/html") == (html, "gb18030")
    assert decode(body, None) == (html, "gb18030")


def test_x_gbk_label() -> None:
    html = '<meta charset="x-gbk"><p>' + TITLE + "</p>"
    assert decode(html.encode("gbk"), None) == (html, "gb18030")
    assert decode(TITLE.encode("gbk"), "text/html; charset=x-gbk") == (TITLE, "gb18030")


def test_gb2312_fixture_page_decodes_exactly() -> None:
    raw = (PAGES / "static" / "gb2312_list.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")  # the fixture really contains GBK-only characters
    text, codec = decode(raw, "text/html")
    assert codec == "gb18030"
    assert text == raw.decode("gb18030")
    assert "关于嘉兴镕鑫新材料有限公司等12家企业拟认定为专精特新中小企业的公示" in text
    assert "浙江喆凯智能科技有限公司“数字化车间”项目验收结果公示" in text
    assert "\ufffd" not in text


# ---------------------------------------------------------------- BOM, meta, XML

@pytest.mark.parametrize(
    ("bom", "codec_name", "expected_codec"),
    [
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
    ],
)
def test_bom_only_page(bom: bytes, codec_name: str, expected_codec: str) -> None:
    html = page()  # no meta, no header charset
    text, codec = decode(bom + html.encode(codec_name), "text/html")
    assert text == html  # BOM removed, not left as U+FEFF
    assert codec == expected_codec


def test_bom_beats_a_wrong_meta() -> None:
    html = page('<meta charset="gbk">')
    assert decode(codecs.BOM_UTF8 + html.encode("utf-8"), None) == (html, "utf-8")


@pytest.mark.parametrize(
    ("head", "encoding", "codec"),
    [
        ('<meta charset="utf-8">', "utf-8", "utf-8"),
        ("<meta charset=GBK>", "gbk", "gb18030"),
        ("<meta charset='gb18030'/>", "gb18030", "gb18030"),
        ('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', "gb18030", "gb18030"),
        ('<META HTTP-EQUIV="content-type" CONTENT="text/html;charset=GB2312">', "gb18030", "gb18030"),
        ('<meta content="text/html; charset=big5" http-equiv="Content-Type">', "big5hkscs", "big5hkscs"),
    ],
)
def test_meta_only(head: str, encoding: str, codec: str) -> None:
    html = page(head, body="嘉興市經濟和資訊化局通知" if codec == "big5hkscs" else TITLE)
    assert decode(html.encode(encoding), "text/html") == (html, codec)


def test_meta_after_sniff_window_is_ignored() -> None:
    """Only the first few KB are searched; a late meta does not override UTF-8."""
    html = "<html><head>" + "<!-- padding -->" * 400 + '<meta charset="gbk"></head><body>镕镕</body></html>'
    assert html.encode("utf-8").decode("gb18030")  # as GBK these bytes would be (wrong) text, not an error
    assert decode(html.encode("utf-8"), None) == (html, "utf-8")


def test_xml_declaration() -> None:
    xml = '<?xml version="1.0" encoding="GBK"?><datastore><record><![CDATA[<li>' + TITLE + "</li>]]></record></datastore>"
    assert decode(xml.encode("gbk"), "text/xml") == (xml, "gb18030")


# ---------------------------------------------------------------- fallbacks

def test_no_declaration_utf8() -> None:
    assert decode(page().encode("utf-8"), "text/html") == (page(), "utf-8")


def test_no_declaration_gbk_bytes_fall_back_to_gb18030() -> None:
    assert decode(page().encode("gbk"), "text/html") == (page(), "gb18030")
    assert decode(GB_BYTES, None) == (TITLE, "gb18030")


@pytest.mark.parametrize(
    ("content_type", "head"),
    [
        ("text/html; charset=utf-8", ""),  # header lies
        ("text/html; charset=utf-8", '<meta charset="utf-8">'),  # header and meta both lie
        ("text/html", '<meta charset="utf-8">'),  # meta lies
        ("text/html; charset=utf-8", '<meta charset="gb2312">'),  # header lies, meta is right
    ],
)
def test_mislabelled_gbk_page_still_decodes(content_type: str, head: str) -> None:
    html = page(head)
    assert decode(html.encode("gbk"), content_type) == (html, "gb18030")


@pytest.mark.parametrize(
    "label", ["no-such-charset", "", "utf-42", "undefined", "hex", "rot13", "base64", "idna", "punycode",
              "unicode_escape", "raw-unicode-escape", "utf-7"]
)
def test_unknown_or_unusable_label_is_skipped(label: str) -> None:
    assert codec_for(label) is None
    assert decode(TITLE.encode("utf-8"), f"text/html; charset={label}") == (TITLE, "utf-8")
    assert decode(f'<meta charset="{label}">{TITLE}'.encode("gbk"), None) == (f'<meta charset="{label}">{TITLE}', "gb18030")


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html; charset=utf-8", "utf-8"),
        ('text/html; charset="GBK"', "GBK"),
        ("text/html; charset='gb2312'; foo=bar", "gb2312"),
        ("text/html", None),
        (None, None),
        ("", None),
    ],
)
def test_header_charset(content_type: str | None, charset: str | None) -> None:
    assert header_charset(content_type) == charset


# ---------------------------------------------------------------- never raises

LABELS = st.sampled_from(
    ["utf-8", "gb2312", "gbk", "big5", "utf-16", "utf-16-le", "utf-7", "shift_jis", "latin-1", "ascii",
     "undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape", "hex", "rot13", "zlib", "nonsense", ""]
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=2048))
def test_never_raises_on_random_bytes(body: bytes) -> None:
    text, codec = decode(body, None)
    assert isinstance(text, str) and codec


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=512), LABELS, LABELS)
def test_never_raises_whatever_the_labels(body: bytes, header_label: str, meta_label: str) -> None:
    raw = f'<meta charset="{meta_label}">'.encode("ascii") + body
    text, codec = decode(raw, f"text/html; charset={header_label}")
    assert isinstance(text, str) and codec
    assert codecs.lookup(codec).name == codec  # a real codec name, usable by the caller


def test_a_bom_beats_the_header() -> None:
    body = "\ufeff<p>关于公布名单的通知</p>".encode("utf-8")
    assert decode(body, "text/html; charset=gbk") == ("<p>关于公布名单的通知</p>", "utf-8")


def test_a_latin1_header_is_a_server_default_the_page_overrides() -> None:
    body = '<meta charset="gb2312"><p>朱镕基</p>'.encode("gb18030")
    text, codec = decode(body, "text/html; charset=ISO-8859-1")
    assert "朱镕基" in text and codec == "gb18030"


def test_a_cjk_header_still_beats_the_meta_tag() -> None:
    body = '<meta charset="iso-8859-1"><p>朱镕基</p>'.encode("gb18030")
    assert "朱镕基" in decode(body, "text/html; charset=gbk")[0]
