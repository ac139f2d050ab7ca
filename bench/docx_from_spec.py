"""Writes a DocumentSpec (vanban's JSON) as a DOCX laid out like the Decree 30 form, the way an
office types it in Word today: the input LibreOffice converts in bench/render.sh."""
import json
import sys

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt


def runs(par, value, size=14):
    items = [value] if isinstance(value, str) else value
    for r in items:
        if isinstance(r, str):
            run = par.add_run(r)
        else:
            (k, t), = r.items()
            run = par.add_run(t)
            run.bold = "b" in k
            run.italic = "i" in k
        run.font.size = Pt(size)
        run.font.name = "Times New Roman"


def centred(cell, text, size=13, bold=False, italic=False):
    p = cell.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    r = p.add_run(text)
    r.bold, r.italic = bold, italic
    r.font.size = Pt(size)
    r.font.name = "Times New Roman"


def main(src, out):
    spec = json.load(open(src, encoding="utf-8"))
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(20), Mm(20), Mm(30), Mm(15)
    header = doc.add_table(rows=1, cols=2)
    left, right = header.rows[0].cells
    if spec.get("parent_agency"):
        centred(left, spec["parent_agency"].upper(), 12)
    centred(left, spec["agency"].upper(), 12, bold=True)
    notation = f'{spec["agency_abbreviation"]}-{spec.get("unit_abbreviation", "")}'
    centred(left, f"Số:      /{notation}", 13)
    centred(left, spec["subject"] if spec["subject"].startswith("V/v") else "V/v " + spec["subject"], 12)
    centred(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, bold=True)
    centred(right, "Độc lập - Tự do - Hạnh phúc", 14, bold=True)
    centred(right, f'{spec["place"]}, ngày      tháng      năm 2026', 14, italic=True)
    for a in spec.get("addressees", []):
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        runs(p, "Kính gửi: " + a)
    for b in spec["body"]:
        if isinstance(b, (str, list)):
            b = {"p": b}
        if "table" in b:
            t = doc.add_table(rows=1, cols=len(b["table"]["header"]))
            t.style = "Table Grid"
            for c, h in zip(t.rows[0].cells, b["table"]["header"]):
                runs(c.paragraphs[0], [{"b": h}], 13)
            for row in b["table"]["rows"]:
                cells = t.add_row().cells
                for c, v in zip(cells, row):
                    runs(c.paragraphs[0], v, 13)
            continue
        items = b["list"] if "list" in b else [b.get("p") or b.get("heading") or b.get("center")]
        for item in items:
            p = doc.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            p.paragraph_format.first_line_indent = Mm(10)
            p.paragraph_format.space_after = Pt(6)
            runs(p, ["- ", *([item] if isinstance(item, str) else item)] if "list" in b else item)
    sign = doc.add_table(rows=1, cols=2)
    l, r = sign.rows[0].cells
    p = l.add_paragraph()
    runs(p, [{"bi": "Nơi nhận:"}], 12)
    for rec in spec.get("recipients", []) + ["Lưu: VT."]:
        runs(l.add_paragraph(), "- " + rec, 11)
    s = spec["signer"]
    centred(r, s["position"].upper(), 14, bold=True)
    for _ in range(4):
        r.add_paragraph()
    centred(r, s["full_name"], 14, bold=True)
    doc.save(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
