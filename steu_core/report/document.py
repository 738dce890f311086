"""The report's PDF document: fpdf2 with the report's fonts, running header and footer, and the few
layout pieces every section is made of (headings, paragraphs, key/value tables, grids, images)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import __version__
from ..format import printable, wrap_hash

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
DEJAVU = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
DEJAVU_MONO = "DejaVuSansMono.ttf"
TEAL = (15, 124, 140)
GREY = (95, 99, 104)
LIGHT = (236, 243, 244)
WHITE = (255, 255, 255)
RULE = (200, 205, 208)
# a verdict's colour wherever the report prints it: yes green, no red, inconclusive amber
VERDICT_RGB = {"yes": (24, 118, 62), "no": (178, 34, 34), "inconclusive": (176, 96, 0)}
LATIN1_SUBSTITUTES = (("\u2013", "-"), ("\u2014", "-"), ("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'),
                      ("\u201d", '"'), ("\u2022", "-"), ("\u2192", "->"), ("\u2212", "-"), ("\u2026", "..."))


def _new_pdf(doc: ReportDocument):
    """An fpdf2 document whose running header and footer ``doc`` draws."""
    from fpdf import FPDF  # only writing a PDF needs fpdf2: the report's content and JSON work without it

    class PDF(FPDF):
        def header(self):
            doc.draw_header()

        def footer(self):
            doc.draw_footer()

    return PDF(orientation="P", unit="mm", format="A4")


def _font_face(**style):
    from fpdf.fonts import FontFace  # see _new_pdf: fpdf2 is needed only while writing

    return FontFace(**style)


class ReportDocument:
    """One report PDF being written: ``pdf`` is the fpdf2 document, ``content`` the report's content."""

    def __init__(self, content: dict):
        self.content = content
        self.pdf = _new_pdf(self)
        self.pdf.set_margins(20, 18, 20)
        self.pdf.set_auto_page_break(True, margin=20)
        self._set_metadata()
        self._load_fonts()

    def _set_metadata(self) -> None:
        c, pdf = self.content, self.pdf
        pdf.set_title(c["title"])
        pdf.set_author(c.get("organisation") or "STEU Audit")
        pdf.set_creator(f"STEU Audit {__version__}")
        pdf.set_subject(self.subject())

    def subject(self) -> str:
        return f"Run {self.content['run']['run_id']}"

    def _load_fonts(self) -> None:
        """DejaVu where installed (any Unicode text); else the core fonts, which draw Latin-1 only."""
        self.unicode = all((FONT_DIR / f).is_file() for f in [*DEJAVU.values(), DEJAVU_MONO])
        if not self.unicode:
            self.sans, self.mono = "helvetica", "courier"
            return
        for style, file in DEJAVU.items():
            self.pdf.add_font("dejavu", style, str(FONT_DIR / file))
        self.pdf.add_font("dejavumono", "", str(FONT_DIR / DEJAVU_MONO))
        self.sans, self.mono = "dejavu", "dejavumono"

    def printable(self, s: Any) -> str:
        """Text the font can draw: as is with DejaVu; otherwise Latin-1 with substitutes. A control character
        inside a line (ESC in a class name) is written as its escape; line breaks stay."""
        s = "\n".join(printable(line) for line in ("" if s is None else str(s)).split("\n"))
        if self.unicode:
            return s
        for a, b in LATIN1_SUBSTITUTES:
            s = s.replace(a, b)
        return s.encode("latin-1", "replace").decode("latin-1")

    # -- running header and footer (every page but the title page has a header) --
    def draw_header(self) -> None:
        pdf, c = self.pdf, self.content
        if pdf.page_no() == 1:
            return
        pdf.set_font(self.sans, "", 8)
        pdf.set_text_color(*GREY)
        left = "STEU Audit report" + (f"  -  {c['organisation']}" if c.get("organisation") else "")
        pdf.cell(pdf.epw * 0.3, 6, self.printable(left), align="L")
        self.headline_cell(pdf.epw * 0.45, 6, 8)
        pdf.set_font(self.sans, "", 8)
        pdf.set_text_color(*GREY)
        pdf.cell(pdf.epw * 0.25, 6, self.printable(f"Request {printable(c['request']['request_id'], 30) or 'n/a'}"),
                 align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(*TEAL)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(4)
        pdf.set_text_color(0, 0, 0)

    def headline_cell(self, w: float, h: float, size: float, align: str = "C") -> None:
        """The headline verdict ("Verdict: Yes, against ...") in its colour: on the cover and every page header."""
        overall = self.content["summary"][0]
        self.pdf.set_font(self.sans, "B", size)
        self.pdf.set_text_color(*VERDICT_RGB.get(overall.get("value"), GREY))
        self.pdf.cell(w, h, self.printable(f"Verdict: {overall['verdict']}"), align=align)
        self.pdf.set_text_color(0, 0, 0)

    def draw_footer(self) -> None:
        pdf = self.pdf
        pdf.set_y(-14)
        pdf.set_font(self.sans, "", 8)
        pdf.set_text_color(*GREY)
        pdf.cell(pdf.epw / 2, 6, self.printable(f"Run {printable(self.content['run']['run_id'], 60)}"), align="L")
        pdf.cell(pdf.epw / 2, 6, f"Page {pdf.page_no()} of {{nb}}", align="R")
        pdf.set_text_color(0, 0, 0)

    # -- layout pieces --
    def space_for(self, h: float) -> None:
        """Start a new page unless ``h`` mm fit below the current position."""
        if self.pdf.get_y() + h > self.pdf.page_break_trigger:
            self.pdf.add_page()

    def h1(self, text: str, keep: float = 45) -> None:
        """A section heading; starts a new page unless ``keep`` mm fit below it."""
        self.space_for(keep)
        pdf = self.pdf
        pdf.ln(3)
        pdf.set_font(self.sans, "B", 15)
        pdf.set_text_color(*TEAL)
        pdf.multi_cell(0, 8, self.printable(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)

    def h2(self, text: str) -> None:
        self.space_for(25)
        pdf = self.pdf
        pdf.ln(1)
        pdf.set_font(self.sans, "B", 11.5)
        pdf.multi_cell(0, 6.5, self.printable(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(0.5)

    def para(self, text: str, size: float = 10, style: str = "", color=(0, 0, 0), h: float = 5.2) -> None:
        pdf = self.pdf
        pdf.set_font(self.sans, style, size)
        pdf.set_text_color(*color)
        pdf.multi_cell(0, h, self.printable(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)

    def note(self, text: str) -> None:
        """A small grey italic note under a table."""
        self.para(text, size=8.5, style="I", color=GREY, h=4.4)

    def kv(self, rows: list[tuple[str, str, bool]], key_w: float = 48, size: float = 10,
           title: str | None = None) -> None:
        """Key / value table without borders; the third item marks a monospace (hash) value. Under ``title``
        (a sub-heading) if given, which moves to the next page with the table: never alone at a page foot."""
        pdf = self.pdf
        rows = [(key if i == 0 else "", part, mono) for key, value, mono in rows  # no row taller than a page
                for i, part in enumerate(page_chunks(value) if not mono and value else [value])]
        lines = sum(max(2 if mono else 1, str(value).count("\n") + 1 + len(str(value)) // 70)
                    for _, value, mono in rows)
        self.space_for(min(lines * 5.4 + len(rows) * 2.4 + 4, 110) + (12 if title else 0))  # short tables: one page
        if title:
            self.h2(title)
        pdf.set_font(self.sans, "", size)
        pdf.set_fill_color(*WHITE)
        pdf.set_draw_color(*RULE)
        key_style = _font_face(family=self.sans, emphasis="BOLD", color=GREY, fill_color=WHITE)
        value_style = _font_face(family=self.sans, fill_color=WHITE)
        mono_style = _font_face(family=self.mono, size_pt=size - 0.5, fill_color=WHITE)
        with pdf.table(col_widths=(key_w, pdf.epw - key_w), width=pdf.epw, first_row_as_headings=False,
                       borders_layout="HORIZONTAL_LINES", line_height=5.4, text_align=("LEFT", "LEFT"),
                       padding=(1.2, 1.5, 1.2, 0)) as table:
            for key, value, mono in rows:
                row = table.row()
                row.cell(self.printable(key), style=key_style)
                if mono:
                    row.cell(self.printable(wrap_hash(value)), style=mono_style)
                else:
                    row.cell(self.printable(value if value not in (None, "") else "n/a"), style=value_style)
        pdf.ln(3)

    def grid(self, header: list[str], rows: list[list[str]], widths: list[float], align: list[str] | None = None,
             size: float = 9.5, bold_rows: set[int] | None = None, title: str | None = None) -> None:
        """A table with a teal heading row and banded rows, under ``title`` (a sub-heading) if given. It is
        kept whole on one page, with its title, when it fits one; a longer table breaks across pages with
        its heading row repeated on each."""
        pdf = self.pdf
        start_page, start_y = pdf.page, pdf.get_y()
        with pdf.offset_rendering() as trial:
            trial.set_y(start_y + (16 if title else 0))
            self._draw_grid(trial, header, rows, widths, align, size, bold_rows)
            height = (trial.page - start_page) * pdf.eph + trial.get_y() - start_y
        fits_a_page = height <= pdf.page_break_trigger - pdf.t_margin - 12
        if start_y + height > pdf.page_break_trigger and fits_a_page:
            pdf.add_page()
        if title:
            self.h2(title)
        self._draw_grid(self.pdf, header, rows, widths, align, size, bold_rows)
        self.pdf.ln(3)

    def _draw_grid(self, pdf, header, rows, widths, align, size, bold_rows) -> None:
        pdf.set_font(self.sans, "", size)
        pdf.set_fill_color(*WHITE)
        pdf.set_draw_color(*RULE)
        head = _font_face(family=self.sans, emphasis="BOLD", color=WHITE, fill_color=TEAL)
        with pdf.table(col_widths=widths, width=sum(widths), align="LEFT", headings_style=head, line_height=5.4,
                       text_align=tuple(align or ["LEFT"] * len(widths)), borders_layout="SINGLE_TOP_LINE",
                       padding=(1.2, 1.5), repeat_headings=1) as table:
            heading = table.row()
            for h in header:
                heading.cell(self.printable(h))
            for i, values in enumerate(rows):
                # every cell gets its own fill: fpdf2 would otherwise reuse the heading's fill colour
                style = _font_face(family=self.sans, emphasis="BOLD" if bold_rows and i in bold_rows else None,
                                   fill_color=LIGHT if i % 2 == 0 else WHITE)
                row = table.row()
                for v in values:
                    row.cell(self.printable(v), style=style)

    def _image_box(self, w_px: int, h_px: int, max_w: float | None, max_h: float | None = None) -> tuple[float, float]:
        pdf = self.pdf
        w = min(max_w or pdf.epw, pdf.epw)
        h = w * h_px / w_px
        limit = min(pdf.page_break_trigger - pdf.t_margin - 30, max_h or pdf.h)
        if h > limit:
            h = limit
            w = h * w_px / h_px
        return w, h

    def image_height(self, w_px: int, h_px: int, max_w: float | None = None, max_h: float | None = None) -> float:
        return self._image_box(w_px, h_px, max_w, max_h)[1]

    def image(self, path: Path, w_px: int, h_px: int, caption: str, max_w: float | None = None,
              max_h: float | None = None) -> None:
        """An image centred on the page, scaled to fit (at most ``max_w`` wide, ``max_h`` high), with its
        caption below."""
        pdf = self.pdf
        w, h = self._image_box(w_px, h_px, max_w, max_h)
        self.space_for(h + 12)
        x = pdf.l_margin + (pdf.epw - w) / 2
        pdf.image(str(path), x=x, y=pdf.get_y(), w=w, h=h)
        pdf.set_y(pdf.get_y() + h + 1.5)
        self.note(caption)


KV_CHUNK_LINES = 30  # printed lines of one key/value row at most: far below a page (fpdf cannot split a row)
KV_LINE_CHARS = 70   # characters per printed line of a value, a low estimate (so a chunk never overflows)


def page_chunks(value, max_lines: int = KV_CHUNK_LINES, width: int = KV_LINE_CHARS) -> list[str]:
    """``value`` cut, at line breaks where it has them, into parts of at most ``max_lines`` printed lines
    each: a table row must fit on one page, and a long list (a hundred changed tensors) or one very long
    line would not."""
    cap = max_lines * width
    pieces = [line[i:i + cap] for line in str(value).split("\n") for i in range(0, max(len(line), 1), cap)]
    chunks, current, used = [], [], 0
    for piece in pieces:
        need = max(1, -(-len(piece) // width))
        if current and used + need > max_lines:
            chunks.append("\n".join(current))
            current, used = [], 0
        current.append(piece)
        used += need
    chunks.append("\n".join(current))
    return chunks
