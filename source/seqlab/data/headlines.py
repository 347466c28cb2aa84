"""News headlines from the People's Daily corpus: (title, lead paragraph) pairs.

The corpus has no article markers, so headlines are recognised by layout: an article's first
paragraph opens with a dateline (本報北京1月1日訊… / 新華社…電 / 中新社…), and the lines right
above it are its headline block: the title, maybe a subtitle, photo notes such as （附圖片1張）
and bylines. A brief (簡訊) has a dateline but no title above it (the line above is another
article's body text) and is skipped.

First version (toward the title-generator issue): on the Traditional corpus it finds 789
pairs; still to do there: recall (about 1,300 expected), bylines at the start of leads
(（記者劉子富）…, 新華社記者…報道：), titles fused with their subtitle in one line, NFKC'd
digits and fixed splits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

DATELINE = re.compile(r"^(本[报報].{0,16}?[讯訊]|新[华華]社.{0,24}?[电電]|中新社.{0,24}?[电電])")
NOTE = re.compile(r"^[（(].*[）)]$")  # （附图片1张）, （新华社记者樊如钧摄）
BYLINE = re.compile(r"^(本[报報])?(特[约約])?(记者|記者|通[讯訊]员|通[訊讯]員)")
SENTENCE_END = re.compile(r"[。！？!?；;：:”」]$")


def is_title_line(line: str, max_len: int = 40) -> bool:
    """A headline-like line: short, not a note or byline, not ending like a sentence."""
    line = line.strip()
    return (0 < len(line) <= max_len and not NOTE.match(line) and not BYLINE.match(line)
            and not SENTENCE_END.search(line) and not DATELINE.match(line) and "。" not in line)


def extract_headlines(lines: Sequence[str], max_title_len: int = 40) -> list[tuple[str, str]]:
    """(title, lead) pairs from corpus paragraphs given as plain strings, in corpus order.

    Above each dateline paragraph, notes and bylines are skipped; the consecutive headline-like
    lines above that form the headline block (at most 3), whose first line is the title. The
    lead is the dateline paragraph without its dateline.
    """
    pairs = []
    for i, line in enumerate(lines):
        m = DATELINE.match(line)
        if not m:
            continue
        j = i - 1
        while j >= 0 and (NOTE.match(lines[j].strip()) or BYLINE.match(lines[j].strip())):
            j -= 1
        block = []
        while j >= 0 and len(block) < 3 and is_title_line(lines[j], max_title_len):
            block.insert(0, lines[j].strip())
            j -= 1
        if not block:
            continue  # a brief without a title
        lead = line[m.end():].strip()
        if lead:
            pairs.append((block[0], lead))
    return pairs
