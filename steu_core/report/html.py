"""The interactive HTML export of a run's presentation: one self-contained file (plotly.js inline, no
link to any server, no web font) that opens offline in any browser, one slide at a time, navigable
with the keyboard. Its slides are :func:`.slides.build_slides`, the same as the dashboard's
presentation page. The file is deterministic for a given run and report, so its SHA-256 can be quoted."""
from __future__ import annotations

import html
from pathlib import Path

from .. import __version__
from ..format import wrap_hash
from ..outputs import check_output_file, write_output
from .evidence import load_finished_run
from .slides import build_slides, latest_report

VERDICT_CLASS = {"yes": "yes", "no": "no", "inconclusive": "inconclusive"}
PLOT_CONFIG = {"displaylogo": False, "responsive": True}

PAGE_STYLE = """
body{margin:0;font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#202124;background:#f6f8f9}
header{display:flex;justify-content:space-between;align-items:center;padding:10px 28px;background:#0f7c8c;color:#fff}
header .tool{font-size:15px;opacity:.9}
nav{display:flex;gap:10px;align-items:center}
nav button{font-size:15px;padding:6px 14px;border:1px solid #fff;background:transparent;color:#fff;border-radius:6px;cursor:pointer}
nav .count{min-width:70px;text-align:center}
main{max-width:1500px;margin:0 auto;padding:18px 32px 60px}
section.slide{display:none}
section.slide.active{display:block}
h1{font-size:34px;color:#0f7c8c;margin:8px 0 18px}
footer{color:#5f6368;font-size:13px;text-align:center;padding:12px}
@media print{section.slide{display:block;page-break-after:always}header nav{display:none}}
"""

# The verdict cards and fact tables: shared with the dashboard's presentation page
PARTS_STYLE = """
.verdicts{display:flex;flex-wrap:wrap;gap:16px;margin-bottom:16px}
.verdict{flex:1 1 300px;background:#fff;border:1px solid #d0d5d8;border-radius:10px;padding:16px 20px}
.verdict .q{font-weight:bold;font-size:18px}
.verdict .v{font-size:40px;font-weight:bold;margin:6px 0}
.verdict.big .v{font-size:64px}
.verdict .t{font-size:16px;line-height:1.45;color:#3c4043}
.verdict .a{font-size:14px;color:#5f6368;margin-bottom:4px}
.verdict .v.long,.verdict.big .v.long{font-size:30px}
.yes{color:#137333}.no{color:#c5221f}.inconclusive{color:#b06000}.plain{color:#0f7c8c}
table.facts{border-collapse:collapse;background:#fff;margin:8px 0 18px;font-size:17px;max-width:100%}
table.facts th{text-align:left;color:#5f6368;padding:8px 18px 8px 10px;vertical-align:top;white-space:nowrap}
table.facts td{padding:8px 10px;overflow-wrap:anywhere}
table.facts tr{border-bottom:1px solid #e0e3e5}
code{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:15px;overflow-wrap:anywhere}
.chart{background:#fff;border:1px solid #e0e3e5;border-radius:8px;margin:10px 0;padding:4px}
.caption{color:#5f6368;font-size:15px;margin:4px 8px 18px}
.text h2{font-size:20px;margin:18px 0 6px}
.text p{font-size:17px;line-height:1.5;max-width:1100px}
"""
STYLE = PAGE_STYLE + PARTS_STYLE

SCRIPT = """
(function(){
  var slides=Array.prototype.slice.call(document.querySelectorAll('section.slide'));
  var i=0, count=document.getElementById('count');
  function show(n){
    i=Math.max(0,Math.min(slides.length-1,n));
    slides.forEach(function(s,k){s.classList.toggle('active',k===i);});
    count.textContent=(i+1)+' / '+slides.length;
    history.replaceState(null,'','#'+slides[i].id);
    slides[i].querySelectorAll('.js-plotly-plot').forEach(function(p){window.Plotly.Plots.resize(p);});
  }
  document.getElementById('prev').onclick=function(){show(i-1);};
  document.getElementById('next').onclick=function(){show(i+1);};
  document.addEventListener('keydown',function(e){
    var k=e.key;
    if(k==='ArrowRight'||k==='PageDown'||k===' '){show(i+1);e.preventDefault();}
    else if(k==='ArrowLeft'||k==='PageUp'){show(i-1);e.preventDefault();}
    else if(k==='Home'){show(0);}else if(k==='End'){show(slides.length-1);}
  });
  var start=slides.findIndex(function(s){return '#'+s.id===location.hash;});
  show(start<0?0:start);
})();
"""


def _esc(x) -> str:
    return html.escape("" if x is None else str(x))


def verdicts_html(items: list[dict]) -> str:
    big = " big" if len(items) == 1 else ""
    # a headline that names the attacker is a sentence, not a word: it gets the smaller size
    cards = [f"<div class='verdict{big}'>" + (f"<div class='a'>Against {_esc(i['attacker'])}</div>"
                                              if i.get("attacker") else "")
             + f"<div class='q'>{_esc(i['question'])}</div>"
             f"<div class='v {VERDICT_CLASS.get(i.get('value'), 'plain')}{' long' if len(str(i['verdict'])) > 14 else ''}'>"
             f"{_esc(i['verdict'])}</div><div class='t'>{_esc(i['text'])}</div>{_next_steps_html(i)}</div>" for i in items]
    return f"<div class='verdicts'>{''.join(cards)}</div>"


def _next_steps_html(item: dict) -> str:
    steps = item.get("next_steps") or []
    if not steps:
        return ""
    return ("<div class='t'><b>What you can do next</b><ul>" + "".join(f"<li>{_esc(s)}</li>" for s in steps)
            + "</ul></div>")


def facts_html(rows: list[tuple]) -> str:
    cells = [f"<tr><th>{_esc(k)}</th><td>" + (f"<code>{_esc(wrap_hash(v, 64))}</code>" if mono else _esc(v))
             + "</td></tr>" for k, v, mono in rows]
    return f"<table class='facts'>{''.join(cells)}</table>"


def chart_html(block: dict) -> str:
    fig = block["figure"]
    div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{block['id']}", config=PLOT_CONFIG,
                      default_width="100%", default_height=f"{int(fig.layout.height or 520)}px")
    return f"<div class='chart'>{div}</div><div class='caption'>{_esc(block['caption'])}</div>"


def block_html(block: dict) -> str:
    kind = block["kind"]
    if kind == "verdicts":
        return verdicts_html(block["items"])
    if kind == "facts":
        return facts_html(block["rows"])
    if kind == "chart":
        return chart_html(block)
    return f"<div class='text'><h2>{_esc(block['title'])}</h2><p>{_esc(block['text'])}</p></div>"


def slides_html(slides: list[dict]) -> str:
    return "".join(f"<section class='slide' id='{_esc(s['id'])}'><h1>{_esc(s['title'])}</h1>"
                   + "".join(block_html(b) for b in s["blocks"]) + "</section>" for s in slides)


def render_html(r: dict, report: dict | None = None) -> str:
    """The whole export as one HTML string (plotly.js inline)."""
    from plotly.offline import get_plotlyjs  # the library's own bundled copy: no network

    title = f"STEU Audit: run {r.get('run_id', '')}"
    nav = ("<nav><button id='prev' title='Previous (Left arrow)'>&larr; Previous</button><span class='count' "
           "id='count'></span><button id='next' title='Next (Right arrow)'>Next &rarr;</button></nav>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_esc(title)}</title><style>{STYLE}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            f"<header><div class='tool'>{_esc(title)}</div>{nav}</header>"
            f"<main>{slides_html(build_slides(r, report))}</main>"
            f"<footer>STEU Audit {_esc(__version__)} &middot; keys: &larr; &rarr; Home End &middot; "
            "works offline: nothing in this file is loaded from a network</footer>"
            f"<script type='text/javascript'>{SCRIPT}</script></body></html>")


def build_html(run_dir: str | Path, out_html: str | Path, overwrite: bool = False) -> Path:
    """Write the interactive HTML export of the finished run in ``run_dir``; returns its path. An existing file
    is replaced only with ``overwrite``; nothing but a regular file is written to (steu_core.outputs)."""
    check_output_file(out_html, "--html", overwrite)  # before the page is rendered
    text = render_html(load_finished_run(Path(run_dir)), latest_report(Path(run_dir)))
    return write_output(out_html, text.encode("utf-8"), "--html", overwrite)
