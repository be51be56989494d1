"""Word and PDF proposals open and carry the right district's figures (read back with python-docx, pypdf)."""

from __future__ import annotations

import pytest

from renogis.costs import load_costs
from renogis.outputs.documents import find_cjk_font, write_documents
from renogis.renovation import plan_renovation
from renogis.standards import load_standards
from renogis.viability import assess_viability
from tests.test_renovation import world


def _docx_text(path):
    from docx import Document

    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts += [c.text for c in row.cells]
    return "\n".join(parts), doc


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    comp, districts, buildings, gates, facilities, gaps, siting = world()
    costs = load_costs()
    plan = plan_renovation(
        comp,
        districts,
        costs=costs,
        buildings=buildings,
        gaps=gaps,
        siting=siting,
        gates=gates,
        facilities=facilities,
        standards=load_standards(),
        lang="zh",
    )
    viab = assess_viability(comp, model=costs.property)
    out = tmp_path_factory.mktemp("docs")
    files, warnings = write_documents(
        out,
        compounds=comp,
        districts=districts,
        plan=plan,
        viability=viab,
        evidence={"D1": ["托儿所（300 m）：600 户中 600 户未覆盖"]},
        gates=gates,
        facilities=facilities,
        lang="zh",
    )
    return out, files, warnings, plan, viab


def test_docx_has_the_districts_figures(docs):
    out, files, *_ = docs
    text, doc = _docx_text(out / "D1.docx")
    assert "片区 D1 改造方案" in text
    # total cost of D1: 19,185,000 - 44,055,000 yuan = 1,918-4,406 万元 (rounded)
    assert "1,918–4,406" in text
    assert "既有住宅加装电梯" in text and "加梯候选栋数" in text
    assert "托儿所（300 m）：600 户中 600 户未覆盖" in text
    assert "verified = false" in text
    assert len(doc.inline_shapes) == 1  # the map
    # D2's document carries D2, not D1
    text2, _ = _docx_text(out / "D2.docx")
    assert "片区 D2 改造方案" in text2 and "1,918–4,406" not in text2 and "片区 D1" not in text2


def test_docx_viability_sentence(docs):
    out, _, _, _, viab = docs
    text, _ = _docx_text(out / "D1.docx")
    g = viab.groups.set_index("group").loc["D1"]
    assert f"合并为一个物业项目后保本物业费 {g['break_even_fee']:.2f} 元/m²·月" in text


def test_pdf_opens_with_embedded_cjk_font_and_figures(docs):
    out, files, warnings, *_ = docs
    if find_cjk_font() is None:
        assert any("no CJK TrueType font" in w for w in warnings)
        assert not (out / "D1.pdf").exists()
        pytest.skip(
            "no CJK font installed (Debian: fonts-wqy-microhei); PDF not written, as the warning says"
        )
    from pypdf import PdfReader

    r = PdfReader(str(out / "D1.pdf"))
    text = "\n".join(p.extract_text() for p in r.pages)
    assert "片区 D1 改造方案" in text and "1,918–4,406" in text
    fonts = set()
    for page in r.pages:
        for f in (page["/Resources"].get("/Font") or {}).values():
            fo = f.get_object()
            for d in fo.get("/DescendantFonts", [fo]):
                desc = d.get_object().get("/FontDescriptor")
                if desc is not None and any(k in desc.get_object() for k in ("/FontFile2", "/FontFile")):
                    fonts.add(str(fo["/BaseFont"]))
    assert fonts, "the CJK font is not embedded"
    r2 = PdfReader(str(out / "D2.pdf"))
    assert "片区 D2" in r2.pages[0].extract_text() and "1,918–4,406" not in r2.pages[0].extract_text()


def test_summary_document(docs):
    out, files, *_ = docs
    text, _ = _docx_text(out / "summary.docx")
    assert "2 个片区" in text and "D1" in text and "D2" in text
    assert {p.name for p in files} >= {"D1.docx", "D2.docx", "summary.docx", "D1_map.png", "summary_map.png"}


def test_without_cjk_font_pdf_is_skipped_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RENOGIS_CJK_FONT", str(tmp_path / "missing.ttc"))
    comp, districts, buildings, gates, facilities, gaps, siting = world()
    costs = load_costs()
    plan = plan_renovation(comp, districts, costs=costs, buildings=buildings, lang="en")
    viab = assess_viability(comp, model=costs.property)
    files, warnings = write_documents(
        tmp_path / "o", compounds=comp, districts=districts, plan=plan, viability=viab, lang="en"
    )
    assert any("no CJK TrueType font" in w for w in warnings) and "no CJK TrueType font" in caplog.text
    assert not list((tmp_path / "o").glob("*.pdf"))
    text, _ = _docx_text(tmp_path / "o" / "D1.docx")
    assert "District D1: renovation proposal" in text and "Phase 1: basic" in text
    # D1 without gaps, sites, gates and public parking: no day-care fit-out (-525,000 / -875,000), no
    # gate access control (-60,000 / -160,000), 30 more spaces (+300,000 / +1,800,000) with chargers
    # (+90,000 / +240,000): 18,990,000 - 45,060,000 yuan
    assert "18.99–45.06" in text and "19.19–44.05" not in text


def test_documents_are_reproducible(docs, tmp_path):
    """Same content, same bytes (fixed PDF dates and ids, fixed zip times in the DOCX)."""
    out, files, _, plan, viab = docs
    comp, districts, buildings, gates, facilities, gaps, siting = world()
    again, _ = write_documents(tmp_path, compounds=comp, districts=districts, plan=plan, viability=viab,
                               evidence={"D1": ["托儿所（300 m）：600 户中 600 户未覆盖"]}, gates=gates,
                               facilities=facilities, lang="zh")
    for f in again:
        assert f.read_bytes() == (out / f.name).read_bytes(), f.name
