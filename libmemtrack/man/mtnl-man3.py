#!/usr/bin/env python3
"""Write libmemtrack-nl's section 3 man pages from its header.

  mtnl-man3.py HEADER VERSION OUTDIR

One page per public function (every MTNL_API declaration), one per public
enum and options or figures struct, and libmemtrack-nl(3), the overview:
conventions (ownership, errors, lifetimes, thread safety), versions and
the list of pages.  The text comes from the header's comments (kernel-doc
blocks, or the plain comment right above a declaration), so the pages
cannot drift from the header.  No kernel tree is needed."""
import os
import re
import sys

DATE = "2026-11-27"


def roff(text):
    """Escape text for roff, turning @param and name() into fonts."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"@(\w+)", r"\\fI\1\\fR", text)
    text = re.sub(r"\b(mtnl_\w+)\(\)", r"\\fB\1\\fR()", text)
    lines = []
    for line in text.split("\n"):
        if line.startswith(".") or line.startswith("'"):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def clean_comment(raw):
    """The text of a /* */ or /** */ comment, without the stars."""
    body = re.sub(r"^/\*\*?", "", raw.strip())
    body = re.sub(r"\*/$", "", body)
    out = []
    for line in body.split("\n"):
        line = re.sub(r"^\s*\* ?", "", line)
        out.append(line.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    if out:
        out[0] = out[0].strip()
    return "\n".join(out)


def parse_kdoc(text):
    """A kernel-doc block: summary, params, body and sections."""
    lines = text.split("\n")
    doc = {"summary": "", "params": [], "body": [], "sections": {}}
    m = re.match(r"^(?:(?:struct|enum|typedef)\s+)?[\w]+(?:\(\))?\s+-\s+(.*)", lines[0])
    i = 1
    if m:
        doc["summary"] = m.group(1).strip()
        # The summary may run on to lines indented with a tab.
        while i < len(lines) and lines[i].startswith("\t") and not lines[i].lstrip().startswith("@"):
            doc["summary"] += " " + lines[i].strip()
            i += 1
    cur = None
    for line in lines[i:]:
        pm = re.match(r"^@(\w+):\s*(.*)", line)
        sm = re.match(r"^(Return|Returns|Context):\s*(.*)", line)
        if pm:
            doc["params"].append([pm.group(1), pm.group(2)])
            cur = ("param", len(doc["params"]) - 1)
        elif sm:
            key = "Return" if sm.group(1).startswith("Return") else sm.group(1)
            doc["sections"][key] = sm.group(2)
            cur = ("section", key)
        elif cur and cur[0] == "param" and line.startswith("\t"):
            doc["params"][cur[1]][1] += " " + line.strip()
        elif cur and cur[0] == "section" and line.strip():
            doc["sections"][cur[1]] += "\n" + line
        else:
            if not line.strip():
                cur = None if cur and cur[0] == "param" else cur
            doc["body"].append(line)
    doc["body"] = "\n".join(doc["body"]).strip()
    return doc


def items(header):
    """(comment or None, kind, name, declaration) for each public item."""
    src = open(header).read()
    tokens = re.finditer(
        r"(?P<comment>/\*.*?\*/)"
        r"|(?P<func>MTNL_API\s[^;]*?\b(?P<fname>mtnl_\w+)\s*\([^;]*\);)"
        r"|(?P<type>^(?:struct|enum) (?P<tname>mtnl_\w+) \{.*?^\};)"
        r"|(?P<typedef>^typedef [^;]*\(\*(?P<cbname>mtnl_\w+)\)[^;]*;)",
        src, re.S | re.M)
    last_comment, last_end = None, 0
    for t in tokens:
        between = src[last_end:t.start()]
        if t.group("comment"):
            # A comment on a line of its own belongs to what follows it
            # directly; one after code on its line belongs to that code.
            line_start = src.rfind("\n", 0, t.start()) + 1
            own_line = not src[line_start:t.start()].strip()
            last_comment = clean_comment(t.group("comment")) if own_line else None
            last_end = t.end()
            continue
        comment = last_comment if last_comment is not None and not between.strip() else None
        # A heading over a group of declarations describes none of them.
        if comment and re.match(r"^[\w ]+ accessors\.?$", comment):
            comment = None
        if t.group("func"):
            decl = re.sub(r"\s+", " ", t.group("func").replace("MTNL_API ", "")).strip()
            yield comment, "function", t.group("fname"), decl
        elif t.group("type"):
            kind = "struct" if t.group("type").startswith("struct") else "enum"
            yield comment, kind, t.group("tname"), synopsis_of_type(t.group("type"))
        else:
            decl = re.sub(r"\s+", " ", t.group("typedef")).strip()
            yield comment, "typedef", t.group("cbname"), decl
        last_comment, last_end = None, t.end()


def synopsis_of_type(decl):
    """A struct or enum as a reader sees it: without the comments on lines
    of their own inside it, preprocessor lines and __extension__ (which
    only let C99 callers compile it)."""
    decl = re.sub(r"^[ \t]*/\*.*?\*/[ \t]*\n", "", decl, flags=re.S | re.M)
    decl = re.sub(r"^[ \t]*(#.*|__extension__)[ \t]*\n", "", decl, flags=re.M)
    return decl


def object_of(decl):
    m = re.search(r"\(\s*(?:const\s+)?struct (mtnl_\w+)\s*\*", decl)
    return m.group(1) if m else None


def page(name, version, summary, synopsis, sections, see_also, section):
    out = [f'.TH {name.upper()} {section} {DATE} "libmemtrack-nl {version}" "libmemtrack-nl"',
           ".SH NAME", f"{name} \\- {roff(summary)}", ".SH SYNOPSIS", ".nf",
           ".B #include <memtrack-nl.h>", ".PP"]
    out += [roff(line) for line in synopsis.split("\n")]
    out += [".fi", ".PP", "Link with \\fI\\-lmemtrack\\-nl\\fR (pkg-config libmemtrack-nl)."]
    for title, text in sections:
        if text.strip():
            out += [f".SH {title}", text.strip()]
    out += [".SH SEE ALSO", ", ".join(f"\\fB{s}\\fR(3)" for s in see_also)]
    return "\n".join(out) + "\n"


def paragraphs(text):
    """Blank lines become paragraph breaks."""
    return re.sub(r"\n\s*\n", "\n.PP\n", text)


def main():
    header, version, outdir = sys.argv[1:4]
    os.makedirs(outdir, exist_ok=True)
    listing = []
    for comment, kind, name, decl in items(header):
        text = comment or ""
        if text.startswith(f"{name}()") or re.match(rf"^(struct |enum |typedef )?{name}\s+-", text):
            doc = parse_kdoc(text)
        else:
            doc = {"summary": "", "params": [], "body": text, "sections": {}}
        summary = doc["summary"]
        body = doc["body"]
        if not summary:
            first = re.split(r"(?<=[.;:])\s", body.replace("\n", " "), maxsplit=1)[0]
            summary = first.rstrip(".;:,") if first else ""
        if not summary:
            obj = object_of(decl)
            field = name.split("_", 2)[-1].replace("_", " ")
            summary = f"the {field} of a {obj}" if obj else name
            body = f"Returns the {field} of the object it is given (struct {obj})." if obj else ""
        params = "\n".join(f".TP\n.I {p}\n{roff(d)}" for p, d in doc["params"])
        sections = [("DESCRIPTION", (params + "\n.PP\n" if params else "") +
                     paragraphs(roff(body)))]
        if "Return" in doc["sections"]:
            sections.append(("RETURN VALUE", paragraphs(roff(doc["sections"]["Return"]))))
        if "Context" in doc["sections"]:
            sections.append(("CONTEXT", roff(doc["sections"]["Context"])))
        synopsis = decl if kind != "function" else decl
        if kind in ("struct", "enum"):
            synopsis = decl
        title = f"{kind} {name}" if kind in ("struct", "enum") else name
        see = ["libmemtrack-nl"]
        # Types go to section 3type, as man-pages does: an enum may share
        # its name with the accessor that returns it (mtnl_event_kind).
        section = "3type" if kind in ("struct", "enum", "typedef") else "3"
        os.makedirs(os.path.join(outdir, "man" + section), exist_ok=True)
        with open(os.path.join(outdir, "man" + section, f"{name}.{section}"), "w") as f:
            f.write(page(name, version, summary, synopsis, sections, see, section))
        listing.append((title, summary, section))
    overview(header, version, outdir, listing)


def overview(header, version, outdir, listing):
    src = open(header).read()
    conv = next(clean_comment(c) for c in re.findall(r"/\*.*?\*/", src, re.S)
                if "Conventions" in c)
    # The list becomes a paragraph per item.
    conv = "\n".join(line.strip() for line in conv.split("\n"))
    conv = re.sub(r"\n- ", "\n\n- ", conv)
    conv = paragraphs(roff(conv))
    lines = [f'.TH LIBMEMTRACK-NL 3 {DATE} "libmemtrack-nl {version}" "libmemtrack-nl"',
             ".SH NAME", "libmemtrack-nl \\- client library of the Linux memtrack netlink family",
             ".SH SYNOPSIS", ".nf", ".B #include <memtrack-nl.h>", ".fi", ".PP",
             "Link with \\fI\\-lmemtrack\\-nl\\fR (\\fBpkg-config --libs libmemtrack-nl\\fR, or",
             "\\fBfind_package(memtrack-nl)\\fR and \\fBmemtrack-nl::memtrack-nl\\fR in CMake).",
             ".SH DESCRIPTION", conv,
             ".SH OWNERSHIP AND LIFETIMES",
             roff("An object returned through an out-parameter (mtnl_open(), mtnl_proc_get(), "
                  "mtnl_buffer_get(), mtnl_events_read()) belongs to the caller, who frees it "
                  "with the matching function. Objects passed to a callback (mtnl_proc_dump(), "
                  "mtnl_buffer_dump(), mtnl_resync()) are valid only during the callback. "
                  "Strings and sub-objects returned by accessors belong to the object they were "
                  "read from."),
             ".SH ERRORS",
             roff("Functions return 0 or a count on success and a negative errno on failure; "
                  "mtnl_last_error() then holds the kernel's extended-ack message or the "
                  "library's explanation, and mtnl_strerror() explains what mtnl_open() and "
                  "mtnl_events_open() return, which leave no handle. The errno values and their "
                  "meanings are on each function's page."),
             ".SH THREAD SAFETY",
             roff("A handle (struct mtnl, struct mtnl_events) is used by one thread at a time; "
                  "threads that query concurrently open a handle each. Objects are immutable once "
                  "returned and may be read from any thread. The library has no global state."),
             ".SH VERSIONS",
             roff(f"This is libmemtrack-nl {version}: soname libmemtrack-nl.so.1, symbol "
                  "version nodes MEMTRACK_NL_1.0 to MEMTRACK_NL_1.2 (the MAJOR.MINOR of the "
                  "version), and MTNL_VERSION_MAJOR, MTNL_VERSION_MINOR, MTNL_VERSION_PATCH and "
                  "MTNL_VERSION_AT_LEAST() at compile time. Options structs carry their size "
                  "(declare them with MTNL_OPTS()); a struct with fields this library does not "
                  "know, set to non-zero values, is refused with -E2BIG."),
             ".SH PAGES", ".nf"]
    lines += [f"\\fB{t.split()[-1]}\\fR({sec})\t{roff(s)}" for t, s, sec in listing]
    lines += [".fi", ".SH SEE ALSO", "\\fBmtstat\\fR(1)"]
    os.makedirs(os.path.join(outdir, "man3"), exist_ok=True)
    with open(os.path.join(outdir, "man3", "libmemtrack-nl.3"), "w") as f:
        f.write("\n".join(lines) + "\n")


main()
