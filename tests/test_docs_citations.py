"""Every citation of the project's own reference pages points to something that exists.

A citation is ``docs/<page>.md`` optionally followed (after backticks, spaces or an opening
parenthesis) by a chain of section references such as ``§2.3``, ``§4.1–4.3``, ``§9 item 11``,
``§4.3 step 7``, ``§8 A1/A2``, joined by ``/`` or ``,`` (``§3.4/§8 A4``).  A section ``§N.M``
must be a heading ``N.M`` of the page; ``item K`` / ``step K`` must be a numbered list entry
``K.`` inside that section; ``A4`` must be a labelled heading inside it.  The shorthand
``§N.M`` for "item M of §N" (used for §9's numbered list) is accepted when the page has no
heading ``N.M`` but §N has item M.

The project must stand on its own, so no file may cite the external notes it was built from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCANNED_DIRS = ("neuromorph", "quantization", "tests", "benchmarks", "hardware_configs", "docs")
SCANNED_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".txt", ".toml", ".cfg"}
# Built by concatenation so that this file does not match its own patterns.
FORBIDDEN = ("shared" + "/reference", "/work" + "/shared", "reference notes" + " §")

_NUM = r"\d+(?:\.\d+)*"
_REF = re.compile(
    r"§\s*(?P<sec>" + _NUM + r")"
    r"(?:\s*[–-]\s*§?(?P<end>" + _NUM + r"))?"
    r"(?:\s+(?P<kind>item|step)\s+(?P<num>\d+)|\s+(?P<labels>A\d+(?:/A\d+)*))?"
)
_PAGE = re.compile(r"docs/(?P<page>[A-Za-z0-9_\-]+\.md)")
_LEAD = re.compile(r"[`'\"\s(]*")
_SEP = re.compile(r"\s*(?:/|,)\s*")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<label>" + _NUM + r"|A\d+)\b\.?", re.M)
_ITEM = re.compile(r"^\s*(?P<num>\d+)\.\s", re.M)


@dataclass(frozen=True)
class Ref:
    """One section reference: ``§sec``, optionally a range end, an item/step, or labels."""

    sec: str
    end: Optional[str] = None
    kind: Optional[str] = None   # "item" | "step"
    num: Optional[int] = None
    labels: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation:
    """A page citation found in a file, with the references that follow it."""

    page: str
    refs: Tuple[Ref, ...]
    where: str


def extract_citations(text: str, where: str = "<text>") -> List[Citation]:
    """Find every ``docs/<page>.md`` citation in ``text`` with its chain of § references.

    Parameters
    ----------
    text : str
        File contents.
    where : str
        Label used in messages (file name).

    Returns
    -------
    list of Citation
        In order of appearance; ``refs`` is empty for a bare page citation.
    """
    out = []
    for m in _PAGE.finditer(text):
        pos = _LEAD.match(text, m.end()).end()
        refs = []
        while True:
            r = _REF.match(text, pos)
            if r is None:
                break
            labels = tuple(r.group("labels").split("/")) if r.group("labels") else ()
            refs.append(Ref(sec=r.group("sec"), end=r.group("end"), kind=r.group("kind"),
                            num=int(r.group("num")) if r.group("num") else None, labels=labels))
            sep = _SEP.match(text, r.end())
            if sep is None or not text.startswith("§", sep.end()):
                break
            pos = sep.end()
        line = text.count("\n", 0, m.start()) + 1
        out.append(Citation(page=m.group("page"), refs=tuple(refs), where=f"{where}:{line}"))
    return out


def sections(page_text: str) -> Dict[str, str]:
    """Map each heading label (``"2.3"``, ``"9"``, ``"A4"``) to its body.

    A body runs from the heading to the next heading of the same or a higher level, so it
    includes its subsections.
    """
    heads = [(m.start(), m.end(), len(m.group("hashes")), m.group("label"))
             for m in _HEADING.finditer(page_text)]
    # headings of any kind (also unnumbered ones) end a body of the same or higher level
    all_heads = [(m.start(), len(m.group(1))) for m in re.finditer(r"^(#{1,6})\s", page_text, re.M)]
    out = {}
    for start, end, level, label in heads:
        stop = next((s for s, lv in all_heads if s > start and lv <= level), len(page_text))
        out[label] = page_text[end:stop]
    return out


def _items(body: str) -> set:
    """Numbers of the numbered list entries in a section's own text (before any subheading)."""
    own = re.split(r"^#{1,6}\s", body, maxsplit=1, flags=re.M)[0]
    return {int(m.group("num")) for m in _ITEM.finditer(own)}


def check_ref(secs: Dict[str, str], ref: Ref) -> Optional[str]:
    """Return why ``ref`` points to nothing in a page with sections ``secs``, or None."""
    def resolve(sec: str) -> Optional[str]:
        if sec in secs:
            return None
        parent, _, last = sec.rpartition(".")
        if parent and parent in secs and int(last) in _items(secs[parent]):
            return None                                   # "§9.10" = item 10 of §9
        return f"no section {sec}"

    for sec in (ref.sec,) + ((ref.end,) if ref.end else ()):
        err = resolve(sec)
        if err:
            return err
    if ref.end is not None:
        return None
    body = secs.get(ref.sec)
    if ref.kind is not None:
        if body is None or ref.num not in _items(body):
            return f"no {ref.kind} {ref.num} in section {ref.sec}"
    for label in ref.labels:
        if body is None or not re.search(r"^#{1,6}\s+" + label + r"\b", body, re.M):
            return f"no {label} in section {ref.sec}"
    return None


def check_citations(citations: List[Citation], pages: Dict[str, str]) -> List[str]:
    """Problems of ``citations`` against ``pages`` (page name → text); empty if all resolve."""
    problems = []
    parsed = {name: sections(text) for name, text in pages.items()}
    for c in citations:
        if c.page not in pages:
            problems.append(f"{c.where}: docs/{c.page} does not exist")
            continue
        for ref in c.refs:
            err = check_ref(parsed[c.page], ref)
            if err:
                problems.append(f"{c.where}: docs/{c.page} §{ref.sec}: {err}")
    return problems


def _scanned_files() -> List[Path]:
    files = []
    for d in SCANNED_DIRS:
        base = ROOT / d
        if base.is_dir():
            files += [p for p in sorted(base.rglob("*"))
                      if p.is_file() and p.suffix in SCANNED_SUFFIXES and "__pycache__" not in p.parts]
    return files


def _pages() -> Dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}


# ------------------------------------------------------------------------------ the repository

def test_every_cited_section_exists():
    pages = _pages()
    citations = []
    for path in _scanned_files():
        citations += extract_citations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    # the code cites both reference pages with sections; an empty scan would prove nothing
    cited = {c.page for c in citations if c.refs}
    assert {"authors_code.md"} <= cited, cited
    assert any(c.page == "xylo_integer_update.md" for c in citations)
    assert check_citations(citations, pages) == []


def test_no_file_cites_external_notes():
    hits = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8")
        for bad in FORBIDDEN:
            if bad in text:
                hits.append(f"{path.relative_to(ROOT)}: {bad!r}")
    assert hits == []


def test_reference_pages_keep_their_numbering():
    secs = sections((DOCS / "authors_code.md").read_text(encoding="utf-8"))
    for label in ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
                  "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7",
                  "3.1", "3.2", "3.3", "3.4", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6"]:
        assert label in secs, label
    assert {f"A{i}" for i in range(1, 8)} <= set(sections(secs["8"]))
    assert _items(secs["9"]) == set(range(1, 19))        # §9 items 1..18, cited by number
    assert _items(secs["2.3"]) == set(range(1, 8))       # the Fig 2 step, 7 steps
    assert _items(secs["3.2"]) == set(range(1, 12))      # the Fig 4 step, 11 steps
    xylo = sections((DOCS / "xylo_integer_update.md").read_text(encoding="utf-8"))
    assert set("123456") <= set(xylo), sorted(xylo)


# ------------------------------------------------------------------------------ the parser

_FAKE_PAGE = """# Title
## 1. One
### 1.1 Sub
1. first
2. second
## 2. Two
### A1 — experiment
### A2 — experiment
## 3. Three
1. a
2. b
3. c
"""


@pytest.mark.parametrize("line, ok", [
    ("see docs/" + "fake.md §1.1", True),
    ("see ``docs/" + "fake.md`` §1.1 step 2", True),
    ("(docs/" + "fake.md §1–2)", True),
    ("docs/" + "fake.md (§1.1/§2 A1/A2, measured)", True),
    ("docs/" + "fake.md §3 item 3", True),
    ("docs/" + "fake.md §3.2", True),                     # shorthand for item 2 of §3
    ("docs/" + "fake.md", True),
    ("docs/" + "fake.md §4", False),                      # no such section
    ("docs/" + "fake.md §1.2", False),                    # no heading 1.2; the items of §1.1 are not §1's
    ("docs/" + "fake.md §3 item 4", False),               # only 3 items
    ("docs/" + "fake.md §1.1 step 3", False),
    ("docs/" + "fake.md §2 A3", False),
    ("docs/" + "fake.md (§1.1/§2 A1/A4)", False),         # second label of a chain
    ("docs/" + "fake.md §1–4", False),                    # range end missing
    ("docs/" + "missing.md §1", False),                   # no such page
])
def test_parser_on_made_up_citations(line, ok):
    cits = extract_citations(line)
    assert len(cits) == 1
    problems = check_citations(cits, {"fake.md": _FAKE_PAGE})
    assert (problems == []) is ok, problems


def test_parser_reads_chains_and_ranges():
    text = "x docs/" + "p.md (§3.4/§8 A4, seed 1) and docs/" + "p.md §4.1–4.3; docs/" + "p.md §9 item 11."
    cits = extract_citations(text)
    assert [c.refs for c in cits] == [
        (Ref("3.4"), Ref("8", labels=("A4",))),
        (Ref("4.1", end="4.3"),),
        (Ref("9", kind="item", num=11),),
    ]
