"""``requests``: deletion requests, their state and what is still owed; schedule, close or decline one."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from ..deletion import actions
from ..deletion.book import all_requests, find_request
from ..deletion.deploy import model_entries
from ..deletion.summary import request_lines, request_row
from ..format import printable
from ..outputs import check_output_file, write_output
from ..report.packet import packet_for, packet_path
from ..request import UnlearnRequest, cli_option

COLUMNS = ("request", "state", "since", "class", "owed", "erasure due", "serve", "warnings")


def cmd_list(args) -> int:
    statuses = list(all_requests().values())
    if not statuses:
        print("No deletion requests on record yet (a request is recorded by its first run, --request-id).")
        return 0
    entries = model_entries()
    rows = [request_row(s, entries) for s in statuses]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in COLUMNS if c != "owed"}
    for r in [{c: c for c in COLUMNS}] + rows:
        print(printable("  ".join(str(r[c]).ljust(widths[c]) for c in COLUMNS if c != "owed") + f"  {r['owed']}"))
    return 0


def cmd_show(args) -> int:
    for line in request_lines(find_request(args.request_id), model_entries()):
        print(printable(line))
    return 0


OPEN_FIELDS = ("train", "eval", "forget_class", "model", "forget", "forget_ids", "id_column", "forget_text_column",
               "forget_label_column", "text_column", "label_column", "request_id", "requester", "reason", "operator")


def cmd_open(args) -> int:
    req = UnlearnRequest(**{k: getattr(args, k) for k in OPEN_FIELDS if getattr(args, k) is not None}, out="")
    entry = actions.open_request(req)
    print(f"Request {req.request_id} received: {entry['payload']['forget_set']['count']} forget note(s) recorded by "
          f"hash (ledger entry {entry['entry_hash'][:16]}). Contain it with `unlearn --request-id {req.request_id}` "
          "or erase it with `erase`.")
    return 0


def add_open(actions_sub) -> None:
    o = actions_sub.add_parser("open", help="record a request as received (its files and forget notes by hash)")
    for f in fields(UnlearnRequest):
        option = cli_option(f)
        if f.name in OPEN_FIELDS and option is not None:
            o.add_argument(option.flag, dest=f.name, help=option.help, required=f.name in ("train", "eval",
                           "forget_class", "request_id"), default=None)
    o.set_defaults(func=cmd_open)


def cmd_report(args) -> int:
    from ..report.request_report import (build_request_report, request_content,  # on use: fpdf2 and pyHanko,
                                         request_html)  # which listing the requests does not need

    out = Path(args.out).expanduser()
    for path, flag in ((out, "--out"), (packet_path(out), "--out (its packet)"), (args.html, "--html")):
        if path:
            check_output_file(path, flag)  # refused before anything is written: a report handed out stays as it is
    content = request_content(args.request_id, args.organisation)  # one reading of the ledger for PDF and HTML
    pdf = build_request_report(args.request_id, out, content=content)
    packet = packet_for(pdf)
    write_output(packet_path(pdf), packet.data, "--out (its packet)")
    print(f"Wrote {pdf}, its proof file and the packet {packet_path(pdf)} (SHA-256 {packet.sha256}).")
    if args.html:
        write_output(Path(args.html), request_html(content).encode(), "--html")
        print(f"Wrote {args.html}.")
    return 0


def cmd_move(args) -> int:
    """schedule, close or decline: one ledger entry, refused when the request's state does not allow it."""
    entry = {"schedule": lambda: actions.schedule(args.request_id, args.by, args.operator),
             "close": lambda: actions.close(args.request_id, args.operator),
             "decline": lambda: actions.decline(args.request_id, args.reason, args.operator)}[args.action]()
    done = {"schedule": f"erasure scheduled by {getattr(args, 'by', '')}", "close": "closed",
            "decline": "declined"}[args.action]
    print(f"Request {args.request_id}: {done} (ledger entry {entry['entry_hash'][:16]}).")
    return 0


def register(sub) -> None:
    r = sub.add_parser("requests", help="deletion requests: state, what is owed, the model to serve")
    r.set_defaults(func=cmd_list)
    actions_sub = r.add_subparsers(dest="action")
    show = actions_sub.add_parser("show", help="one request: facts, history with times, persons and proofs")
    show.add_argument("request_id")
    show.set_defaults(func=cmd_show)
    add_open(actions_sub)
    rep = actions_sub.add_parser("report", help="the request's signed report (PDF, proof file, packet; HTML)")
    rep.add_argument("request_id")
    rep.add_argument("--out", required=True, help="the PDF to write (its .proof.json and .zip go beside it)")
    rep.add_argument("--html", help="also write the report as one HTML file")
    rep.add_argument("--organisation", help="organisation name printed on the report")
    rep.set_defaults(func=cmd_report)
    for name, help_text in (("schedule", "schedule the request's erasure (a retrain)"),
                            ("close", "close a verified request"), ("decline", "decline the request, with the reason")):
        a = actions_sub.add_parser(name, help=help_text)
        a.add_argument("request_id")
        a.add_argument("--operator", default="", help="who records this (default: $USER)")
        a.set_defaults(func=cmd_move)
        if name == "schedule":
            a.add_argument("--by", required=True, help="date the erasure is due, YYYY-MM-DD")
        if name == "decline":
            a.add_argument("--reason", required=True, help="why the request is declined")
